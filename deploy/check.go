package deploy

import (
	"errors"

	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Check applies to a stored definition the rules its deploy will meet, so
// that what is stored can also be deployed and bad input is refused when
// it is given, not at the first deploy: the image references (and the
// repository a build is pushed to) as the registry and the engine parse
// them, the health path as the probe sends it, and the database as the
// runtime starts it and writes its DATABASE_URL. dbPassword is the
// database password the deploy will use; empty skips its check (an update
// that keeps the stored one). A broken rule is a *store.ValidationError
// naming the definition's field.
func Check(a store.App, dbPassword string) error {
	if a.Image != "" {
		if _, err := registry.ParseReference(a.Image); err != nil {
			return &store.ValidationError{Field: "image", Msg: err.Error()}
		}
	}
	if a.Source != nil && a.Source.Push != "" {
		if _, err := registry.ParseReference(a.Source.Push); err != nil {
			return &store.ValidationError{Field: "source.push", Msg: err.Error()}
		}
	}
	if err := runtime.CheckHealthPath(a.HealthPath); err != nil {
		return fieldError("health_path", err)
	}
	db := a.Database
	if db == nil {
		return nil
	}
	if _, err := registry.ParseReference(db.Image); err != nil {
		return &store.ValidationError{Field: "database.image", Msg: err.Error()}
	}
	if dbPassword == "" {
		dbPassword = "unchanged"
	}
	alias := db.Alias
	if alias == "" {
		alias = runtime.DefaultAlias
	}
	spec := runtime.DatabaseSpec{
		App: a.Name, Kind: runtime.DatabaseKind(db.Kind), Image: db.Image, Volume: db.Volume,
		Alias: alias, Database: db.Name, User: db.User, Password: dbPassword,
	}
	if _, err := runtime.DatabaseURL(spec, db.URLScheme); err != nil {
		return fieldError("", err)
	}
	return nil
}

// specFields names the definition's field for a runtime spec's.
var specFields = map[string]string{
	"scheme":                "database.url_scheme",
	"DatabaseSpec.Password": "database.password",
	"DatabaseSpec.Kind":     "database.kind",
	"DatabaseSpec.Image":    "database.image",
	"DatabaseSpec.Volume":   "database.volume",
	"DatabaseSpec.Alias":    "database.alias",
	"DatabaseSpec.Database": "database.name",
	"DatabaseSpec.User":     "database.user",
	"DatabaseSpec.App":      "name",
}

// fieldError turns the runtime's *ValidationError into the store's,
// named by field, or by the definition's name of the spec's field when
// field is empty.
func fieldError(field string, err error) error {
	var ve *runtime.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	if field == "" {
		if field = specFields[ve.Field]; field == "" {
			field = "database"
		}
	}
	return &store.ValidationError{Field: field, Msg: ve.Error()}
}

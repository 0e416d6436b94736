// Package catalog holds kaj's one-click templates: app definitions with
// sensible defaults whose secrets are generated when a template is used.
package catalog

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"fmt"
	"math/big"
	"sort"

	"github.com/pelletier/go-toml/v2"

	"github.com/kajhq/kaj/store"
)

//go:embed templates.toml
var embedded []byte

// Template is one entry of the catalogue.
type Template struct {
	ID          string            `toml:"id" json:"id"`
	Title       string            `toml:"title" json:"title"`
	Description string            `toml:"description" json:"description"`
	Image       string            `toml:"image" json:"image"`
	Port        int               `toml:"port" json:"port"`
	HealthPath  string            `toml:"health_path" json:"health_path"`
	Env         map[string]string `toml:"env" json:"env,omitempty"`
	Secrets     []Secret          `toml:"secrets" json:"secrets,omitempty"`
	Database    *Database         `toml:"database" json:"database,omitempty"`
}

// Secret is an env var whose value is generated.
type Secret struct {
	Name   string `toml:"name" json:"name"`
	Length int    `toml:"length" json:"length"`
}

// Database is a template's database.
type Database struct {
	Kind      string `toml:"kind" json:"kind"`
	Image     string `toml:"image" json:"image"`
	Name      string `toml:"name" json:"name"`
	User      string `toml:"user" json:"user"`
	URLScheme string `toml:"url_scheme" json:"url_scheme"`
}

// Catalog is a set of templates. It is read-only and safe for concurrent
// use.
type Catalog struct{ byID map[string]Template }

// Default is the embedded catalogue.
func Default() (*Catalog, error) { return Parse(embedded) }

// Parse reads a catalogue, strictly.
func Parse(src []byte) (*Catalog, error) {
	var doc struct {
		Template []Template `toml:"template"`
	}
	if err := toml.NewDecoder(bytes.NewReader(src)).DisallowUnknownFields().Decode(&doc); err != nil {
		return nil, fmt.Errorf("reading templates: %w", err)
	}
	c := &Catalog{byID: map[string]Template{}}
	for _, t := range doc.Template {
		if t.ID == "" || c.byID[t.ID].ID != "" {
			return nil, fmt.Errorf("template %q: missing or repeated id", t.ID)
		}
		c.byID[t.ID] = t
	}
	return c, nil
}

// List returns the templates by ID.
func (c *Catalog) List() []Template {
	out := make([]Template, 0, len(c.byID))
	for _, t := range c.byID {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Get finds a template.
func (c *Catalog) Get(id string) (Template, error) {
	t, ok := c.byID[id]
	if !ok {
		return Template{}, fmt.Errorf("template %q: %w", id, store.ErrNotFound)
	}
	return t, nil
}

// Params personalise a template.
type Params struct {
	// Name is the new app's name. Required.
	Name string `json:"name"`
	// Image and DatabaseImage replace the template's images when set.
	Image         string `json:"image,omitempty"`
	DatabaseImage string `json:"database_image,omitempty"`
	// Env is added to (and overrides) the template's env.
	Env map[string]string `json:"env,omitempty"`
	// Port and HealthPath replace the template's when set; a HealthPath
	// of "none" means no health path (the default check).
	Port       int    `json:"port,omitempty"`
	HealthPath string `json:"health_path,omitempty"`
	// DatabaseAlias is the host name of the database; empty means
	// "dbserver".
	DatabaseAlias string `json:"-"`
}

// Instantiate makes an app definition from template id, generating its
// secrets and database password, and says which of the template's
// defaults it took. The app is validated, not stored.
func (c *Catalog) Instantiate(id string, p Params) (store.App, []string, error) {
	t, err := c.Get(id)
	if err != nil {
		return store.App{}, nil, err
	}
	a := store.App{
		Name: p.Name, Image: t.Image, Port: t.Port, HealthPath: t.HealthPath, Template: t.ID,
	}
	var defaults []string
	if p.Image != "" {
		a.Image = p.Image
	} else {
		defaults = append(defaults, fmt.Sprintf("image %s (the template's)", t.Image))
	}
	if p.Port != 0 {
		a.Port = p.Port
	} else {
		defaults = append(defaults, fmt.Sprintf("port %d (the template's)", t.Port))
	}
	switch p.HealthPath {
	case "":
		if t.HealthPath != "" {
			defaults = append(defaults, fmt.Sprintf("health path %s (the template's; give \"none\" for the default check)", t.HealthPath))
		} else {
			defaults = append(defaults, "no health path: the port must answer and the container stay up")
		}
	case "none":
		a.HealthPath = ""
	default:
		a.HealthPath = p.HealthPath
	}
	env := map[string]string{}
	for k, v := range t.Env {
		env[k] = v
	}
	for k, v := range p.Env {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	secret := map[string]bool{}
	for _, s := range t.Secrets {
		secret[s.Name] = true
	}
	for _, k := range keys {
		// A template secret given a value of the user's stays a secret.
		a.Env = append(a.Env, store.EnvVar{Name: k, Value: env[k], Secret: secret[k]})
	}
	for _, s := range t.Secrets {
		if _, overridden := env[s.Name]; overridden {
			continue
		}
		a.Env = append(a.Env, store.EnvVar{Name: s.Name, Value: Generate(s.Length), Secret: true})
	}
	if db := t.Database; db != nil {
		alias := p.DatabaseAlias
		if alias == "" {
			alias = "dbserver"
		}
		a.Database = &store.Database{
			Kind: db.Kind, Image: db.Image, Alias: alias, Name: db.Name, User: db.User,
			Volume: p.Name + "-data", URLScheme: db.URLScheme, Password: Generate(24),
		}
		if p.DatabaseImage != "" {
			a.Database.Image = p.DatabaseImage
		} else {
			defaults = append(defaults, fmt.Sprintf("database image %s (the template's)", db.Image))
		}
	}
	if err := a.Validate(); err != nil {
		return store.App{}, nil, err
	}
	return a, defaults, nil
}

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Generate returns n random letters and digits: safe in URLs, env files
// and shell lines without quoting.
func Generate(n int) string {
	if n < 16 {
		n = 16
	}
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

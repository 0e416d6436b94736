package runtime

import (
	"fmt"
	"regexp"

	mclient "github.com/moby/moby/client"
)

// Names are the engine names of an app's lasting objects.
type Names struct {
	// Network is the app's bridge network.
	Network string `json:"network"`
	// Database is its database container.
	Database string `json:"database"`
	// Volume is the default volume of its database's data.
	Volume string `json:"volume"`
	// Prefix starts the name of each of its app containers.
	Prefix string `json:"prefix"`
}

// NamesFor is how instance names app's objects: kaj-<instance>-<app> for
// the network, kaj-<instance>-<app>-db for the database container,
// kaj-<instance>-<app>-data for its default volume and
// kaj-<instance>-<app>-r<release>-<random> for app containers. An empty
// instance gives the names of the kaj before instances: kaj-<app>,
// kaj-<app>-db, kaj-<app>-data.
func NamesFor(instance, app string) Names {
	base := "kaj-" + app
	if instance != "" {
		base = "kaj-" + instance + "-" + app
	}
	return Names{Network: base, Database: base + "-db", Volume: base + "-data", Prefix: base + "-r"}
}

// Scope is one kaj instance's share of an engine that several may use.
// Every object the instance creates carries its labels and its instance
// ID, in the kaj.instance label and in its name; every object it lists,
// inspects, adopts or removes must carry them too. An object with one of
// its names that it does not own is an ErrConflict, never reused.
//
// The engine is root on its host: a scope keeps honest instances apart,
// it is no security boundary against a hostile one.
type Scope struct {
	// Instance is the instance's ID: 1 to 16 lowercase letters, digits
	// and '-', starting and ending with a letter or digit. Empty names objects as the kaj before instances did, and
	// keeps to the objects that carry no instance.
	Instance string
	// Labels go on every object, beside kaj's own, and are required of
	// every object the instance touches (deploy.labels).
	Labels map[string]string
	// Legacy tells, for an app whose objects were made before kaj put its
	// instance in their names and labels, the names they have. Those
	// objects lack the kaj.instance label and are this instance's all
	// the same; nil means there are none.
	Legacy func(app string) (Names, bool)
}

var instanceRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$`)

// CheckInstance checks an instance ID.
func CheckInstance(id string) error {
	if !instanceRe.MatchString(id) {
		return invalid("instance", id, "an instance ID is 1 to 16 lowercase letters, digits and '-', starting and ending with a letter or digit")
	}
	return nil
}

// SetScope makes d keep to one instance's objects. Call it once, before
// any other method: a Docker without a scope keeps to the objects that
// carry no instance. A reserved kaj label in s.Labels is ErrInvalid.
func (d *Docker) SetScope(s Scope) error {
	if s.Instance != "" {
		if err := CheckInstance(s.Instance); err != nil {
			return err
		}
	}
	if err := checkLabels("Scope.Labels", s.Labels); err != nil {
		return err
	}
	labels := make(map[string]string, len(s.Labels))
	for k, v := range s.Labels {
		labels[k] = v
	}
	s.Labels = labels
	d.scope = s
	return nil
}

// Instance is the instance ID d keeps to; "" without a scope.
func (d *Docker) Instance() string { return d.scope.Instance }

// Names are the engine names of app's objects for this instance: those
// they were given before instances for an app the scope calls legacy.
func (d *Docker) Names(app string) Names {
	if d.scope.Legacy != nil {
		if n, ok := d.scope.Legacy(app); ok {
			return n
		}
	}
	return NamesFor(d.scope.Instance, app)
}

// owns reports whether an object with these labels is this instance's:
// kaj made it, it carries every scope label, and it carries this
// instance's ID, or none when it belongs to a legacy app.
func (d *Docker) owns(labels map[string]string) bool {
	if !managed(labels) || !hasLabels(labels, d.scope.Labels) {
		return false
	}
	inst, tagged := labels[LabelInstance]
	if tagged || d.scope.Instance == "" {
		return inst == d.scope.Instance
	}
	if d.scope.Legacy == nil {
		return false
	}
	_, ok := d.scope.Legacy(labels[LabelApp])
	return ok
}

// filters select, in the engine, kaj's objects carrying the scope's
// labels and extra; owns then decides on the instance.
func (d *Docker) filters(extra map[string]string) mclient.Filters {
	f := mclient.Filters{}.Add("label", LabelManaged+"=true")
	for k, v := range d.scope.Labels {
		f = f.Add("label", k+"="+v)
	}
	for k, v := range extra {
		f = f.Add("label", k+"="+v)
	}
	return f
}

// foreign is the error for an object with one of this instance's names
// that is not this instance's.
func foreign(kind, name, app string, labels map[string]string) error {
	whose := "kaj did not create it"
	switch {
	case managed(labels) && labels[LabelInstance] != "":
		whose = fmt.Sprintf("it belongs to kaj instance %s", labels[LabelInstance])
	case managed(labels):
		whose = "another kaj created it (its labels are not this instance's)"
	}
	return fmt.Errorf("%s %s: %w: a %s of that name exists that is not this kaj's for app %s (%s); kaj neither uses nor removes it: remove or rename it yourself, or give the app another name", kind, name, ErrConflict, kind, app, whose)
}

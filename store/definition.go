package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// HealthCheck tunes how a deploy decides that a new container serves.
// Zero fields take kaj's defaults (see the deploy settings); the path
// itself is App.HealthPath.
type HealthCheck struct {
	// Interval caps the time between two probes; probes start fast and
	// back off up to it.
	Interval Duration `json:"interval,omitempty"`
	// Timeout bounds one probe.
	Timeout Duration `json:"timeout,omitempty"`
	// Retries is how many failed probes in a row, after StartPeriod,
	// fail the deploy; zero means probes go on until the deploy's health
	// timeout.
	Retries int `json:"retries,omitempty"`
	// StartPeriod is how long failures do not count while the app starts.
	StartPeriod Duration `json:"start_period,omitempty"`
}

// Proxy tunes how the router fronts an app; zero fields take the
// router's defaults (router.max_body_bytes, router.timeout,
// router.https_redirect).
type Proxy struct {
	// MaxBodyBytes bounds a request body (413 beyond).
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// Timeout bounds the wait for the app's response headers (504).
	Timeout Duration `json:"timeout,omitempty"`
	// HTTPSRedirect, when set, overrides router.https_redirect for the
	// app's domains.
	HTTPSRedirect *bool `json:"https_redirect,omitempty"`
}

func (p Proxy) validate() error {
	if p.MaxBodyBytes < 0 {
		return invalid("proxy.max_body_bytes", "%d: give a size in bytes, or 0 for the router's default", p.MaxBodyBytes)
	}
	if p.Timeout < 0 || p.Timeout.D() > time.Hour {
		return invalid("proxy.timeout", "%s is out of range: use 0 (the router's default) up to 1h", p.Timeout.D())
	}
	return nil
}

// Duration is a time.Duration that reads and writes as "1.5s" in JSON.
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalText writes the duration as Go writes it ("1m30s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "90s", "1m30s" or "250ms".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration: write it like \"5s\" or \"1m30s\"", b)
	}
	*d = Duration(v)
	return nil
}

func (h HealthCheck) validate() error {
	for _, f := range []struct {
		name string
		d    Duration
		max  time.Duration
	}{{"health.interval", h.Interval, time.Minute}, {"health.timeout", h.Timeout, time.Minute}, {"health.start_period", h.StartPeriod, 10 * time.Minute}} {
		if f.d < 0 || f.d.D() > f.max {
			return invalid(f.name, "%s is out of range: use 0 (the default) up to %s", f.d.D(), f.max)
		}
	}
	if h.Retries < 0 || h.Retries > 100 {
		return invalid("health.retries", "%d is out of range: use 0 (until the health timeout) to 100", h.Retries)
	}
	return nil
}

// Definition is everything about an app that shapes the containers of
// one release, besides its env (a release keeps the env itself, with the
// secrets sealed). A release records the definition it ran, so that a
// rollback runs exactly that and puts it back on the app.
type Definition struct {
	Image       string      `json:"image"`
	Port        int         `json:"port"`
	HostPort    int         `json:"host_port,omitempty"`
	HealthPath  string      `json:"health_path,omitempty"`
	Health      HealthCheck `json:"health,omitzero"`
	Replicas    int         `json:"replicas,omitempty"`
	Restart     string      `json:"restart,omitempty"`
	Command     []string    `json:"command,omitempty"`
	Entrypoint  []string    `json:"entrypoint,omitempty"`
	MemoryBytes int64       `json:"memory_bytes,omitempty"`
	CPUs        float64     `json:"cpus,omitempty"`
	Domains     []string    `json:"domains,omitempty"`
	Proxy       Proxy       `json:"proxy,omitzero"`
	// DatabaseImage is the database server's image; empty for an app
	// without a database.
	DatabaseImage string `json:"database_image,omitempty"`
	// Source is the app's source without its secrets, for a release
	// built from it; nil for an image deploy.
	Source *Source `json:"source,omitempty"`
}

// Definition is a's current definition.
func (a App) Definition() Definition {
	d := Definition{
		Image: a.Image, Port: a.Port, HostPort: a.HostPort, HealthPath: a.HealthPath, Health: a.Health, Replicas: a.Replicas,
		Restart: a.Restart, Command: slices.Clone(a.Command), Entrypoint: slices.Clone(a.Entrypoint),
		MemoryBytes: a.MemoryBytes, CPUs: a.CPUs, Domains: slices.Clone(a.Domains), Proxy: a.Proxy,
	}
	if a.Database != nil {
		d.DatabaseImage = a.Database.Image
	}
	if a.Source != nil {
		src := a.Source.public()
		d.Source = &src
	}
	return d
}

// Apply makes a's definition d.
func (a *App) Apply(d Definition) {
	a.Image, a.Port, a.HostPort, a.HealthPath, a.Health = d.Image, d.Port, d.HostPort, d.HealthPath, d.Health
	a.Replicas = d.Replicas
	a.Restart, a.Command, a.Entrypoint = d.Restart, slices.Clone(d.Command), slices.Clone(d.Entrypoint)
	a.MemoryBytes, a.CPUs, a.Domains, a.Proxy = d.MemoryBytes, d.CPUs, slices.Clone(d.Domains), d.Proxy
	if a.Database != nil && d.DatabaseImage != "" {
		a.Database.Image = d.DatabaseImage
	}
	if a.Source != nil && d.Source != nil {
		// Where the code came from goes back with the release; the
		// credentials, build args and webhook secret stay the app's
		// current ones (a definition never holds secrets).
		a.Source.Repo, a.Source.Ref, a.Source.Context = d.Source.Repo, d.Source.Ref, d.Source.Context
		a.Source.Dockerfile, a.Source.Target = d.Source.Dockerfile, d.Source.Target
	}
}

// Change is one difference between two definitions, as the releases page
// shows it. Secret values never appear: a secret is "changed" or not.
type Change struct {
	Field string `json:"field"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
}

// Diff lists what changed from release a to release b: their definitions
// and their env (secret values compared by the caller's sealed-value
// equality, given as secretChanged).
func Diff(a, b Release, secretChanged func(name string) bool) []Change {
	var out []Change
	add := func(field, from, to string) {
		if from != to {
			out = append(out, Change{Field: field, From: from, To: to})
		}
	}
	da, db := a.Def(), b.Def()
	add("image", da.Image, db.Image)
	add("digest", a.Digest, b.Digest)
	add("port", itoa(da.Port), itoa(db.Port))
	add("host_port", itoa(da.HostPort), itoa(db.HostPort))
	add("health_path", da.HealthPath, db.HealthPath)
	add("health", fmt.Sprint(da.Health), fmt.Sprint(db.Health))
	add("replicas", itoa(max(da.Replicas, 1)), itoa(max(db.Replicas, 1)))
	add("restart", da.Restart, db.Restart)
	add("command", strings.Join(da.Command, " "), strings.Join(db.Command, " "))
	add("entrypoint", strings.Join(da.Entrypoint, " "), strings.Join(db.Entrypoint, " "))
	add("memory_bytes", fmt.Sprint(da.MemoryBytes), fmt.Sprint(db.MemoryBytes))
	add("cpus", fmt.Sprint(da.CPUs), fmt.Sprint(db.CPUs))
	add("domains", strings.Join(da.Domains, ", "), strings.Join(db.Domains, ", "))
	add("proxy", proxyText(da.Proxy), proxyText(db.Proxy))
	add("database_image", da.DatabaseImage, db.DatabaseImage)
	add("commit", a.BuildCommit(), b.BuildCommit())
	ea, eb := map[string]EnvVar{}, map[string]EnvVar{}
	var names []string
	for _, e := range a.Env {
		ea[e.Name] = e
		names = append(names, e.Name)
	}
	for _, e := range b.Env {
		eb[e.Name] = e
		if _, ok := ea[e.Name]; !ok {
			names = append(names, e.Name)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		x, inA := ea[n]
		y, inB := eb[n]
		field := "env." + n
		switch {
		case !inA:
			out = append(out, Change{Field: field, To: shown(y)})
		case !inB:
			out = append(out, Change{Field: field, From: shown(x)})
		case x.Secret || y.Secret:
			if x.Secret != y.Secret || secretChanged(n) {
				out = append(out, Change{Field: field, From: "(secret)", To: "(secret, changed)"})
			}
		default:
			add(field, x.Value, y.Value)
		}
	}
	return out
}

func shown(e EnvVar) string {
	if e.Secret {
		return "(secret)"
	}
	return e.Value
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

func proxyText(p Proxy) string {
	if p == (Proxy{}) {
		return ""
	}
	redirect := "default"
	if p.HTTPSRedirect != nil {
		redirect = fmt.Sprint(*p.HTTPSRedirect)
	}
	return fmt.Sprintf("max body %d, timeout %s, https redirect %s", p.MaxBodyBytes, p.Timeout.D(), redirect)
}

package apps

import (
	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Input is an app definition as a client sends it. Secret env values are
// write-only: leave a secret's value empty to keep the stored one.
type Input struct {
	Name     string         `json:"name"`
	Image    string         `json:"image"`
	Env      []store.EnvVar `json:"env"`
	Port     int            `json:"port"`
	HostPort int            `json:"host_port"`
	// Replicas is how many copies run on a swarm; 0 means 1.
	Replicas    int               `json:"replicas"`
	HealthPath  string            `json:"health_path"`
	Health      store.HealthCheck `json:"health"`
	Domains     []string          `json:"domains"`
	Proxy       store.Proxy       `json:"proxy"`
	Database    *DatabaseInput    `json:"database"`
	Restart     string            `json:"restart"`
	Command     []string          `json:"command"`
	Entrypoint  []string          `json:"entrypoint"`
	MemoryBytes int64             `json:"memory_bytes"`
	CPUs        float64           `json:"cpus"`
	// Source is where to build the image from; see store.Source. Its
	// secrets are write-only like the env's.
	Source *store.Source `json:"source"`
	// Backup sets the database's backups; nil means none scheduled.
	Backup *store.BackupSettings `json:"backup"`
	// Version must be the version read, on update.
	Version uint64 `json:"version"`
}

// DatabaseInput is the database part of an Input; empty fields take the
// defaults (see Input.App).
type DatabaseInput struct {
	Kind      string `json:"kind"`
	Image     string `json:"image"`
	Alias     string `json:"alias"`
	Name      string `json:"name"`
	User      string `json:"user"`
	Volume    string `json:"volume"`
	URLScheme string `json:"url_scheme"`
	Password  string `json:"password"`
}

// App turns the input into a definition with the defaults filled in: the
// database's alias, volume (<app>-data), name and user (the app's name
// with '_' for '-').
func (in Input) App(alias string) store.App {
	a := store.App{
		Name: in.Name, Image: in.Image, Env: in.Env, Port: in.Port, HostPort: in.HostPort, Replicas: in.Replicas, HealthPath: in.HealthPath,
		Health: in.Health, Domains: in.Domains, Proxy: in.Proxy, Restart: in.Restart, Command: in.Command, Entrypoint: in.Entrypoint,
		MemoryBytes: in.MemoryBytes, CPUs: in.CPUs, Version: in.Version, Backup: in.Backup,
	}
	if in.Source != nil {
		src := *in.Source
		src.BuildArgs = append([]store.BuildArg(nil), in.Source.BuildArgs...)
		a.Source = &src
	}
	if d := in.Database; d != nil {
		db := store.Database(*d)
		if db.Alias == "" {
			db.Alias = alias
		}
		if db.Volume == "" {
			db.Volume = in.Name + "-data"
		}
		if db.Name == "" {
			db.Name = sqlName(in.Name)
		}
		if db.User == "" {
			db.User = sqlName(in.Name)
		}
		a.Database = &db
	}
	return a
}

// Validate checks the input as it will be stored and then deployed.
func (in Input) Validate() error {
	a := in.App(runtime.DefaultAlias)
	if a.Database != nil && a.Database.Password == "" {
		a.Database.Password = "generated" // as Create will
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if err := validateSchedule(a.Backup); err != nil {
		return err
	}
	return deployable(a)
}

// deployable checks a definition about to be stored with the rules its
// deploy will apply (deploy.Check), so a field the deploy would refuse is
// refused now, with the field named: a DATABASE_URL scheme like
// "javascript:", a newline in the health path or the database password,
// an image reference like "--privileged".
func deployable(a store.App) error {
	pw := ""
	if a.Database != nil {
		pw = a.Database.Password
	}
	return deploy.Check(a, pw)
}

func sqlName(app string) string {
	b := []byte(app)
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

// newWebhookSecret is a generated webhook secret: 40 letters and digits.
func newWebhookSecret() string { return catalog.Generate(40) }

// newPassword is a generated database password: 24 letters and digits.
func newPassword() string { return catalog.Generate(24) }

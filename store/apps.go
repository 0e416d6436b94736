package store

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/google/go-containerregistry/pkg/name"
)

// App is the definition of one deployable web app.
type App struct {
	// Name is a DNS label: it names the app's containers, network and
	// volume, and must stay valid as a host name.
	Name  string `json:"name"`
	Image string `json:"image"`
	// Env is passed to the app container. Secret values are empty when
	// read back; see Tx.RevealApp.
	Env []EnvVar `json:"env,omitempty"`
	// Port is the port the app listens on inside its container.
	Port int `json:"port"`
	// HostPort publishes Port on the host; zero lets the engine choose.
	HostPort   int    `json:"host_port,omitempty"`
	HealthPath string `json:"health_path,omitempty"`
	// Replicas is how many copies of the app run when kaj drives a
	// swarm, 1 to MaxReplicas; zero means 1. A single engine runs one.
	Replicas int `json:"replicas,omitempty"`
	// Health tunes the deploy's health check; zero fields take the
	// defaults.
	Health HealthCheck `json:"health,omitzero"`
	// Domains are the host names the router serves the app at, besides
	// <app>.<router suffix>: "blog.example.com", a one-label wildcard
	// "*.example.com", optionally with a path prefix
	// ("example.com/blog"). Unique across apps.
	Domains []string `json:"domains,omitempty"`
	// Proxy tunes the router for the app.
	Proxy    Proxy     `json:"proxy,omitzero"`
	Database *Database `json:"database,omitempty"`
	// Restart is the engine restart policy; empty means unless-stopped.
	Restart    string   `json:"restart,omitempty"`
	Command    []string `json:"command,omitempty"`
	Entrypoint []string `json:"entrypoint,omitempty"`
	// MemoryBytes and CPUs limit the app container; zero means no limit.
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
	CPUs        float64 `json:"cpus,omitempty"`
	Template    string  `json:"template,omitempty"`
	// Source, when set, is where kaj builds the image from; Image may
	// then be empty until the first build.
	Source *Source `json:"source,omitempty"`
	// Backup sets the app's database backups: schedule, retention,
	// verification, snapshots before deploys. Nil means none scheduled,
	// verification on, no snapshots.
	Backup *BackupSettings `json:"backup,omitempty"`

	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// MaxReplicas bounds App.Replicas: enough for a small cluster, low
// enough that a typo (100 for 10) does not swamp it.
const MaxReplicas = 32

// ReplicaCount is a.Replicas with zero read as 1.
func (a App) ReplicaCount() int {
	if a.Replicas < 1 {
		return 1
	}
	return a.Replicas
}

// EnvVar is one environment variable of an app.
type EnvVar struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Secret bool   `json:"secret,omitempty"`
}

// Database is the database container that runs beside an app.
type Database struct {
	// Kind is mysql, mariadb or postgres.
	Kind  string `json:"kind"`
	Image string `json:"image"`
	// Alias is the host name the app reaches the database by.
	Alias  string `json:"alias"`
	Name   string `json:"name"`
	User   string `json:"user"`
	Volume string `json:"volume"`
	// URLScheme is the scheme of the DATABASE_URL given to the app, e.g.
	// "mysql+pymysql" or "mysql"; empty means the kind's usual one.
	URLScheme string `json:"url_scheme,omitempty"`
	// Password is write-only: it is empty when read back; see
	// Tx.RevealApp.
	Password string `json:"password,omitempty"`
}

// DatabaseKinds are the database engines kaj can run.
var DatabaseKinds = []string{"mysql", "mariadb", "postgres"}

// AppSecrets are an app's secrets in plain text.
type AppSecrets struct {
	Env              map[string]string
	DatabasePassword string
	Source           SourceSecrets
}

// appRecord is an App as stored: secrets sealed, never in the App fields.
type appRecord struct {
	App
	SealedEnv        map[string][]byte `json:"sealed_env,omitempty"`
	SealedDBPassword []byte            `json:"sealed_db_password,omitempty"`
	SealedSource     *sealedSource     `json:"sealed_source,omitempty"`
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// The same rules the runtime applies before it starts a database, so
	// an app that is stored can also be deployed.
	identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)
	volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}$`)
)

// reservedNames are app names the dashboard's own pages use.
var reservedNames = map[string]bool{"new": true}

// ValidateName checks an app name: a DNS label of 1 to 63 lowercase
// letters, digits and hyphens, not starting or ending with a hyphen.
func ValidateName(n string) error {
	if reservedNames[n] {
		return invalid("name", "%q is reserved (the dashboard's /apps/%s page); choose another name", n, n)
	}
	if !dnsLabel.MatchString(n) {
		return invalid("name", "%q is not a valid app name: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit", n)
	}
	return nil
}

// ValidateImage checks that ref parses as an image reference.
func ValidateImage(field, ref string) error {
	if ref == "" {
		return invalid(field, "an image reference is required, like \"microblog:1.0.0\" or \"registry.example.com/team/app@sha256:...\"")
	}
	if _, err := name.ParseReference(ref); err != nil {
		return invalid(field, "%q is not a valid image reference: %v", ref, err)
	}
	return nil
}

// ValidateEnvName checks an environment variable name.
func ValidateEnvName(field, n string) error {
	if !envName.MatchString(n) {
		return invalid(field, "%q is not a valid variable name: use letters, digits and '_', not starting with a digit (no '=' or spaces)", n)
	}
	return nil
}

// Validate checks everything that can be checked without the engine.
func (a *App) Validate() error {
	if err := ValidateName(a.Name); err != nil {
		return err
	}
	if a.Source == nil || a.Image != "" {
		if err := ValidateImage("image", a.Image); err != nil {
			return err
		}
	}
	if a.Source != nil {
		if err := a.Source.Validate(); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for i, e := range a.Env {
		field := fmt.Sprintf("env[%d].name", i)
		if err := ValidateEnvName(field, e.Name); err != nil {
			return err
		}
		if seen[e.Name] {
			return invalid(field, "%q is set twice", e.Name)
		}
		seen[e.Name] = true
		if strings.ContainsRune(e.Value, 0) {
			return invalid(fmt.Sprintf("env[%d].value", i), "contains a NUL byte")
		}
	}
	if a.Port < 1 || a.Port > 65535 {
		return invalid("port", "%d is out of range: use 1-65535", a.Port)
	}
	if a.HostPort < 0 || a.HostPort > 65535 {
		return invalid("host_port", "%d is out of range: use 1-65535, or 0 to let the engine choose", a.HostPort)
	}
	if a.Replicas < 0 || a.Replicas > MaxReplicas {
		return invalid("replicas", "%d is out of range: use 1-%d (0 means 1)", a.Replicas, MaxReplicas)
	}
	if a.Replicas > 1 && a.HostPort != 0 {
		return invalid("replicas", "%d replicas cannot share the fixed host port %d: leave host_port 0", a.Replicas, a.HostPort)
	}
	if a.HealthPath != "" && !strings.HasPrefix(a.HealthPath, "/") {
		return invalid("health_path", "%q must start with '/'", a.HealthPath)
	}
	if err := a.Health.validate(); err != nil {
		return err
	}
	if err := a.Proxy.validate(); err != nil {
		return err
	}
	seenDomain := map[string]bool{}
	for i, d := range a.Domains {
		field := fmt.Sprintf("domains[%d]", i)
		if err := ValidateDomain(field, d); err != nil {
			return err
		}
		if seenDomain[d] {
			return invalid(field, "%q is listed twice", d)
		}
		seenDomain[d] = true
	}
	switch a.Restart {
	case "", "no", "always", "unless-stopped", "on-failure":
	default:
		return invalid("restart", "%q is not one of no, always, unless-stopped, on-failure", a.Restart)
	}
	// The engine refuses less than 6 MiB of memory; say so before it does.
	if a.MemoryBytes != 0 && a.MemoryBytes < 6<<20 {
		return invalid("memory_bytes", "%d bytes is below the engine's minimum of 6 MiB", a.MemoryBytes)
	}
	if a.CPUs != 0 && !(a.CPUs >= 0.01 && a.CPUs <= 1024) {
		return invalid("cpus", "%g: a CPU limit is between 0.01 and the machine's CPU count; 0 means no limit", a.CPUs)
	}
	if d := a.Database; d != nil {
		if err := d.validate(); err != nil {
			return err
		}
	}
	if a.Backup != nil {
		if err := a.Backup.validate(a.Database != nil); err != nil {
			return err
		}
	}
	return nil
}

func (d *Database) validate() error {
	ok := false
	for _, k := range DatabaseKinds {
		ok = ok || d.Kind == k
	}
	if !ok {
		return invalid("database.kind", "%q is not one of %s", d.Kind, strings.Join(DatabaseKinds, ", "))
	}
	if err := ValidateImage("database.image", d.Image); err != nil {
		return err
	}
	if !dnsLabel.MatchString(d.Alias) {
		return invalid("database.alias", "%q is not a valid host name", d.Alias)
	}
	if !identifier.MatchString(d.Name) {
		return invalid("database.name", "%q: use 1-32 letters, digits and '_', not starting with a digit", d.Name)
	}
	if !identifier.MatchString(d.User) || d.User == "root" {
		return invalid("database.user", "%q: use 1-32 letters, digits and '_', not starting with a digit, and not root", d.User)
	}
	if !volumeName.MatchString(d.Volume) {
		return invalid("database.volume", "%q is not a volume name: 2-128 letters, digits, '_', '.' and '-', starting with a letter or digit", d.Volume)
	}
	return nil
}

func appEnvContext(app, key string) string { return "app/" + app + "/env/" + key }
func appDBContext(app string) string       { return "app/" + app + "/database" }

// CreateApp stores a new app. It returns ErrConflict when the name is
// taken. Secret values and the database password are sealed.
func (t *Tx) CreateApp(a App) (App, error) {
	if err := a.Validate(); err != nil {
		return App{}, err
	}
	b := t.tx.Bucket(bucketApps)
	if b.Get([]byte(a.Name)) != nil {
		return App{}, fmt.Errorf("app %q: %w: the name is taken", a.Name, ErrConflict)
	}
	if err := t.checkShared(a); err != nil {
		return App{}, err
	}
	now := t.s.now().UTC()
	a.Version, a.CreatedAt, a.UpdatedAt = 1, now, now
	if err := t.adoptVolume(&a); err != nil {
		return App{}, err
	}
	rec, err := t.sealApp(a, appRecord{})
	if err != nil {
		return App{}, err
	}
	return rec.App, put(b, a.Name, rec)
}

// UpdateApp replaces an app. a.Version must be the stored version, else
// ErrConflict: somebody changed it since it was read. A secret with an
// empty value keeps its stored value.
func (t *Tx) UpdateApp(a App) (App, error) {
	if err := a.Validate(); err != nil {
		return App{}, err
	}
	b := t.tx.Bucket(bucketApps)
	old, err := get[appRecord](b, a.Name)
	if err != nil {
		return App{}, fmt.Errorf("app %q: %w", a.Name, err)
	}
	if old.Version != a.Version {
		return App{}, fmt.Errorf("app %q: %w: it was changed (version %d, yours %d); reload and try again", a.Name, ErrConflict, old.Version, a.Version)
	}
	if err := t.checkShared(a); err != nil {
		return App{}, err
	}
	if old.Database != nil && a.Database != nil && old.Database.Volume != a.Database.Volume {
		if err := t.adoptVolume(&a); err != nil {
			return App{}, err
		}
	}
	a.Version++
	a.CreatedAt, a.CreatedBy = old.CreatedAt, old.CreatedBy
	if a.Template == "" {
		a.Template = old.Template
	}
	a.UpdatedAt = t.s.now().UTC()
	rec, err := t.sealApp(a, old)
	if err != nil {
		return App{}, err
	}
	return rec.App, put(b, a.Name, rec)
}

// sealApp moves the secrets of a into the record's sealed fields, keeping
// old's sealed values where a leaves a secret empty.
func (t *Tx) sealApp(a App, old appRecord) (appRecord, error) {
	rec := appRecord{App: a, SealedEnv: map[string][]byte{}}
	rec.Env = append([]EnvVar(nil), a.Env...)
	for i, e := range rec.Env {
		if !e.Secret {
			continue
		}
		switch {
		case e.Value != "":
			sealed, err := t.s.seal.seal(e.Value, appEnvContext(a.Name, e.Name))
			if err != nil {
				return appRecord{}, err
			}
			rec.SealedEnv[e.Name] = sealed
		case old.SealedEnv[e.Name] != nil:
			rec.SealedEnv[e.Name] = old.SealedEnv[e.Name]
		default:
			return appRecord{}, invalid(fmt.Sprintf("env[%d].value", i), "secret %q needs a value", e.Name)
		}
		rec.Env[i].Value = ""
	}
	if a.Database != nil {
		db := *a.Database
		switch {
		case db.Password != "":
			sealed, err := t.s.seal.seal(db.Password, appDBContext(a.Name))
			if err != nil {
				return appRecord{}, err
			}
			rec.SealedDBPassword = sealed
		case old.SealedDBPassword != nil:
			rec.SealedDBPassword = old.SealedDBPassword
		default:
			return appRecord{}, invalid("database.password", "a database password is required")
		}
		db.Password = ""
		rec.Database = &db
	}
	if err := t.sealSource(a, &rec, old); err != nil {
		return appRecord{}, err
	}
	return rec, nil
}

// App returns an app with its secrets empty.
func (t *Tx) App(name string) (App, error) {
	rec, err := get[appRecord](t.tx.Bucket(bucketApps), name)
	if err != nil {
		return App{}, fmt.Errorf("app %q: %w", name, err)
	}
	return rec.App, nil
}

// RevealApp returns an app's secrets in plain text. Callers that only
// display an app must use App instead.
func (t *Tx) RevealApp(name string) (AppSecrets, error) {
	rec, err := get[appRecord](t.tx.Bucket(bucketApps), name)
	if err != nil {
		return AppSecrets{}, fmt.Errorf("app %q: %w", name, err)
	}
	out := AppSecrets{Env: map[string]string{}}
	for k, sealed := range rec.SealedEnv {
		if out.Env[k], err = t.s.seal.open(sealed, appEnvContext(name, k)); err != nil {
			return AppSecrets{}, fmt.Errorf("app %q env %s: %w", name, k, err)
		}
	}
	if rec.SealedDBPassword != nil {
		if out.DatabasePassword, err = t.s.seal.open(rec.SealedDBPassword, appDBContext(name)); err != nil {
			return AppSecrets{}, fmt.Errorf("app %q database password: %w", name, err)
		}
	}
	if out.Source, err = t.revealSource(rec); err != nil {
		return AppSecrets{}, err
	}
	return out, nil
}

// Apps lists every app by name.
func (t *Tx) Apps() ([]App, error) {
	recs, err := list[appRecord](t.tx.Bucket(bucketApps))
	if err != nil {
		return nil, err
	}
	out := make([]App, len(recs))
	for i, r := range recs {
		out[i] = r.App
	}
	return out, nil
}

// DeleteApp removes an app and its releases. With keepData, the app's
// database volume is remembered with its credentials (see KeptVolume), so
// an app created later on the same volume can open its data again.
func (t *Tx) DeleteApp(name string, keepData bool) error {
	b := t.tx.Bucket(bucketApps)
	rec, err := get[appRecord](b, name)
	if err != nil {
		return fmt.Errorf("app %q: %w", name, err)
	}
	if db := rec.Database; db != nil {
		// Kept credentials are the app's own, under its name: deleting
		// one app never touches what another app kept.
		vb := t.tx.Bucket(bucketVolumes)
		if keepData {
			password, err := t.s.seal.open(rec.SealedDBPassword, appDBContext(name))
			if err != nil {
				return fmt.Errorf("app %q database password: %w", name, err)
			}
			if err := t.keepVolume(KeptVolume{Volume: db.Volume, App: name, Kind: db.Kind, Database: db.Name, User: db.User}, password); err != nil {
				return err
			}
		} else if err := vb.Delete([]byte(name)); err != nil {
			return err
		}
	}
	if !keepData {
		if err := t.forgetLegacy(name); err != nil {
			return err
		}
	}
	if err := b.Delete([]byte(name)); err != nil {
		return err
	}
	if db := t.tx.Bucket(bucketDeliveries); db != nil && db.Bucket([]byte(name)) != nil {
		if err := db.DeleteBucket([]byte(name)); err != nil {
			return err
		}
	}
	rb := t.tx.Bucket(bucketReleases)
	if rb.Bucket([]byte(name)) != nil {
		return rb.DeleteBucket([]byte(name))
	}
	return nil
}

// CreateApp stores a new app in its own transaction.
func (s *Store) CreateApp(a App) (out App, err error) {
	err = s.Update(func(t *Tx) error { out, err = t.CreateApp(a); return err })
	return out, err
}

// UpdateApp replaces an app in its own transaction; see Tx.UpdateApp.
func (s *Store) UpdateApp(a App) (out App, err error) {
	err = s.Update(func(t *Tx) error { out, err = t.UpdateApp(a); return err })
	return out, err
}

// App reads one app.
func (s *Store) App(name string) (out App, err error) {
	err = s.View(func(t *Tx) error { out, err = t.App(name); return err })
	return out, err
}

// Apps lists every app by name.
func (s *Store) Apps() (out []App, err error) {
	err = s.View(func(t *Tx) error { out, err = t.Apps(); return err })
	return out, err
}

// RevealApp returns an app's secrets in plain text.
func (s *Store) RevealApp(name string) (out AppSecrets, err error) {
	err = s.View(func(t *Tx) error { out, err = t.RevealApp(name); return err })
	return out, err
}

// DeleteApp removes an app and its releases; see Tx.DeleteApp.
func (s *Store) DeleteApp(name string, keepData bool) error {
	return s.Update(func(t *Tx) error { return t.DeleteApp(name, keepData) })
}

var domainLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateDomain checks a domain an app is served at: a lowercase host
// name of at least two labels, a "*." wildcard for one label in front,
// and an optional path prefix ("example.com/blog").
func ValidateDomain(field, d string) error {
	host, path, hasPath := strings.Cut(d, "/")
	// The router's rules for a path prefix, and no byte that could
	// split a header or a log line.
	if hasPath && (path == "" || strings.ContainsAny(path, "?#%*") || strings.HasSuffix(path, "/") || strings.HasPrefix(path, "/") ||
		strings.Contains(path, "//") || strings.Contains(path, "..") ||
		strings.IndexFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0) {
		return invalid(field, "%q: a path prefix looks like example.com/blog (no trailing '/', query, fragment, '*', '..', '//', spaces or control characters)", d)
	}
	if host != strings.ToLower(host) {
		return invalid(field, "%q: write domains in lowercase", d)
	}
	if strings.Contains(host, ":") {
		return invalid(field, "%q: leave the port out; the router serves every domain on its own ports", d)
	}
	if len(host) > 253 {
		return invalid(field, "%q is longer than 253 characters", d)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return invalid(field, "%q is an IP address, which the router cannot route by name; use a DNS name that resolves to this host", d)
	}
	labels := strings.Split(strings.TrimPrefix(host, "*."), ".")
	if len(labels) < 2 {
		return invalid(field, "%q is not a full domain name: use one like blog.example.com", d)
	}
	for _, l := range labels {
		if !domainLabel.MatchString(l) {
			return invalid(field, "%q is not a valid domain name: each part between dots is 1-63 letters, digits and '-' ('*.' only at the front, for one label)", d)
		}
	}
	return nil
}

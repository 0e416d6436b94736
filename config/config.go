// Package config loads kaj's settings.
//
// Settings are layered, each layer overriding the one before it:
// embedded defaults, then a TOML file, then KAJ_* environment variables,
// then command-line flags (applied by the caller). Decoding is strict: an
// unknown key or a value of the wrong type is an error that names the key
// and the line, so a typo never silently falls back to a default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Config is every setting kaj has. The zero value is not useful; start from
// Default. config.example.toml documents each key with its default.
type Config struct {
	Server    Server    `toml:"server"`
	Data      Data      `toml:"data"`
	Docker    Docker    `toml:"docker"`
	Runtime   Runtime   `toml:"runtime"`
	Deploy    Deploy    `toml:"deploy"`
	Registry  Registry  `toml:"registry"`
	Auth      Auth      `toml:"auth"`
	Lint      Lint      `toml:"lint"`
	Log       Log       `toml:"log"`
	Router    Router    `toml:"router"`
	Metrics   Metrics   `toml:"metrics"`
	Dashboard Dashboard `toml:"dashboard"`
	Events    Events    `toml:"events"`
}

// Events bounds the audit trail. The oldest events go first, at start
// and then every hour.
type Events struct {
	// KeepDays drops events older than this many days; zero keeps
	// events of any age.
	KeepDays int `toml:"keep_days"`
	// Keep is how many events are kept at most, the newest; zero keeps
	// any number.
	Keep int `toml:"keep"`
}

// Router is the front door: the reverse proxy in front of every app.
type Router struct {
	// Enabled switches the router on; off, apps are reached on the host
	// ports they publish.
	Enabled bool `toml:"enabled"`
	// Listen is the plain-HTTP address; every app answers there at
	// http://<app>.<suffix>:<port>.
	Listen string `toml:"listen"`
	// HTTPSListen is the HTTPS address (":443" in production); empty
	// turns HTTPS off.
	HTTPSListen string `toml:"https_listen"`
	// Suffix gives every app the host name <app>.<suffix>.
	Suffix string `toml:"suffix"`
	// DefaultApp serves hosts no app claims; empty answers 404.
	DefaultApp   string   `toml:"default_app"`
	DrainTimeout Duration `toml:"drain_timeout"`
	// MaxBodyBytes and Timeout are the per-request defaults.
	MaxBodyBytes int64    `toml:"max_body_bytes"`
	Timeout      Duration `toml:"timeout"`
	// HTTPSRedirect sends plain-HTTP visitors of an app's domains to
	// HTTPS once HTTPS is on.
	HTTPSRedirect bool `toml:"https_redirect"`
	// ACMEDirectory is the ACME server certificates come from; the
	// default is Let's Encrypt, and its staging directory is
	// https://acme-staging-v02.api.letsencrypt.org/directory.
	ACMEDirectory string `toml:"acme_directory"`
	ACMEEmail     string `toml:"acme_email"`
	// ACMECARoots is a PEM file of roots to trust for the ACME server
	// itself (a private CA); empty trusts the system's.
	ACMECARoots string `toml:"acme_ca_roots"`
}

// Dashboard tunes the web pages.
type Dashboard struct {
	// XtermDir is the folder holding xterm.js (Debian's libjs-xterm puts
	// it in /usr/share/javascript/xterm). The terminal page serves it
	// from kaj's own origin when present, and uses kaj's simple line
	// console otherwise.
	XtermDir string `toml:"xterm_dir"`
}

// Metrics is the Prometheus endpoint.
type Metrics struct {
	// Listen, when set, serves /metrics on its own address with no
	// authentication (bind it to loopback or a private network). Empty
	// serves /metrics on the API address, behind Token.
	Listen string `toml:"listen"`
	// Token, when set, lets a scraper read /metrics on the API address
	// with "Authorization: Bearer <token>"; any user's session or API
	// token works too (the figures are what the dashboard shows every
	// viewer). Prefer KAJ_METRICS_TOKEN.
	Token string `toml:"token"`
}

// Server is the HTTP listener.
type Server struct {
	Listen string `toml:"listen"`
	// PublicURL is the address browsers use to reach kaj. It sets the
	// allowed websocket Origin; empty means the listen address.
	PublicURL       string   `toml:"public_url"`
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// TrustedProxies are the addresses (IPs or CIDRs) of reverse proxies
	// whose X-Forwarded-For kaj believes for the client's address.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// Data is where kaj keeps its state.
type Data struct {
	Dir string `toml:"dir"`
	// SecretKeyFile holds the 32-byte key that seals secrets at rest.
	// Empty means "kaj.key" inside Dir, created on first start.
	SecretKeyFile string `toml:"secret_key_file"`
	// SecretKey, when set, is the key itself (64 hex digits) and takes
	// precedence over SecretKeyFile.
	SecretKey string `toml:"secret_key"`
}

// Docker is the engine kaj drives.
type Docker struct {
	// Host is the engine address; empty follows DOCKER_HOST and the
	// usual defaults (unix:///var/run/docker.sock).
	Host string `toml:"host"`
	// Timeout is how long the engine may take to answer a call before
	// kaj gives up on it (a stop gets its grace period on top; streams
	// are bounded only until they start), and how often kaj checks a
	// silent engine at most.
	Timeout Duration `toml:"timeout"`
}

// Runtime says how kaj runs apps on its engine.
type Runtime struct {
	// Mode is "docker" (containers on the one engine), "swarm" (services
	// on the Docker Swarm whose manager the engine is) or "auto" (swarm
	// when the engine is a swarm manager, docker otherwise).
	Mode string `toml:"mode"`
	// PushTo is the registry repository prefix ("10.0.0.1:5000/kaj")
	// where kaj pushes an image only the manager has (built or loaded
	// here) so the swarm's other nodes can pull it. Empty: such images
	// run on a one-node swarm only.
	PushTo string `toml:"push_to"`
}

// The runtime modes.
const (
	RuntimeAuto   = "auto"
	RuntimeDocker = "docker"
	RuntimeSwarm  = "swarm"
)

// Deploy tunes the deploy pipeline.
type Deploy struct {
	DatabaseAlias   string   `toml:"database_alias"`
	PublishAddress  string   `toml:"publish_address"`
	DatabaseTimeout Duration `toml:"database_timeout"`
	HealthTimeout   Duration `toml:"health_timeout"`
	StopTimeout     Duration `toml:"stop_timeout"`
	// StableFor is how long a new container must run, answering its
	// health check and without a restart, before what it replaced is
	// removed; if it fails first, the route goes back to what served
	// before. "0s" removes at the first passing check.
	StableFor        Duration `toml:"stable_for"`
	KeepReleases     int      `toml:"keep_releases"`
	ReconcileOnStart bool     `toml:"reconcile_on_start"`
	// Labels are added to every container, network and volume kaj
	// creates. A kaj reconciles only objects that carry all of them, so
	// two kaj instances on one engine keep apart by their labels.
	Labels map[string]string `toml:"labels"`
}

// Registry tunes image transfers.
type Registry struct {
	// Insecure lists registry hosts reached over plain HTTP. Loopback
	// registries are always allowed plain HTTP.
	Insecure []string `toml:"insecure"`
	Retries  int      `toml:"retries"`
}

// Auth tunes login sessions.
type Auth struct {
	SessionTTL Duration `toml:"session_ttl"`
	// SecureCookies marks the session cookie Secure (and names it
	// __Host-kaj_session) whatever the request says; turn on behind an
	// HTTPS proxy not listed in server.trusted_proxies. kaj does it by
	// itself for requests over TLS or from a trusted proxy that says
	// X-Forwarded-Proto: https.
	SecureCookies bool `toml:"secure_cookies"`
	// ConfirmWindow is how long after typing their password a user may
	// create API tokens, reveal secrets, manage users and open terminals
	// before being asked for it again.
	ConfirmWindow Duration `toml:"confirm_window"`
}

// Lint is the Dockerfile linter's policy.
type Lint struct {
	Threshold string   `toml:"threshold"`
	Ignore    []string `toml:"ignore"`
}

// Log is kaj's own logging.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Default returns the embedded defaults: safe for a first start with no
// config file (loopback only, data beside the working directory).
func Default() Config {
	return Config{
		Server:  Server{Listen: "127.0.0.1:8080", ShutdownTimeout: Duration(10 * time.Second), TrustedProxies: []string{}},
		Data:    Data{Dir: "data"},
		Docker:  Docker{Timeout: Duration(30 * time.Second)},
		Runtime: Runtime{Mode: RuntimeAuto},
		Deploy: Deploy{
			DatabaseAlias:    "dbserver",
			PublishAddress:   "127.0.0.1",
			DatabaseTimeout:  Duration(2 * time.Minute),
			HealthTimeout:    Duration(time.Minute),
			StopTimeout:      Duration(10 * time.Second),
			StableFor:        Duration(time.Second),
			KeepReleases:     20,
			ReconcileOnStart: true,
			Labels:           map[string]string{},
		},
		Registry: Registry{Insecure: []string{}, Retries: 3},
		Auth:     Auth{SessionTTL: Duration(12 * time.Hour), ConfirmWindow: Duration(5 * time.Minute)},
		Lint:     Lint{Threshold: "info", Ignore: []string{}},
		Log:      Log{Level: "info", Format: "text"},
		Router: Router{
			Enabled: true, Listen: "127.0.0.1:8000", Suffix: "localhost", DrainTimeout: Duration(30 * time.Second),
			MaxBodyBytes: 32 << 20, Timeout: Duration(time.Minute), HTTPSRedirect: true,
			ACMEDirectory: "https://acme-v02.api.letsencrypt.org/directory",
		},
		Dashboard: Dashboard{XtermDir: "/usr/share/javascript/xterm"},
		Events:    Events{KeepDays: 90, Keep: 10000},
	}
}

// Load returns the defaults overlaid with the file at path (skipped when
// path is empty) and then with KAJ_* variables from env. The result is
// validated.
func Load(path string, env []string) (Config, error) {
	cfg := Default()
	if path != "" {
		src, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("reading config: %w", err)
		}
		if err := decode(&cfg, src); err != nil {
			return Config{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decode overlays src onto cfg, rejecting unknown keys and wrong types.
func decode(cfg *Config, src []byte) error {
	dec := toml.NewDecoder(bytes.NewReader(src)).DisallowUnknownFields()
	err := dec.Decode(cfg)
	if err == nil {
		return nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		msgs := make([]string, 0, len(strict.Errors))
		for _, e := range strict.Errors {
			row, _ := e.Position()
			msgs = append(msgs, fmt.Sprintf("line %d: unknown key %q", row, strings.Join(e.Key(), ".")))
		}
		return fmt.Errorf("%s (see config.example.toml for the keys kaj knows)", strings.Join(msgs, "; "))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		if key := de.Key(); len(key) > 0 {
			return fmt.Errorf("line %d: key %q: %s", row, strings.Join(key, "."), de.Error())
		}
		return fmt.Errorf("line %d: %s", row, de.Error())
	}
	return err
}

// envAliases are short names that scripts and docs rely on.
var envAliases = map[string]string{
	"KAJ_LISTEN": "server.listen",
	"KAJ_DATA":   "data.dir",
}

// EnvName is the environment variable for a dotted key: "deploy.health_timeout"
// is KAJ_DEPLOY_HEALTH_TIMEOUT.
func EnvName(key string) string {
	return "KAJ_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// applyEnv sets every key that has a KAJ_* variable in env. Lists are
// comma-separated.
func applyEnv(cfg *Config, env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "KAJ_") {
			vars[k] = v
		}
	}
	for alias, key := range envAliases {
		if v, ok := vars[alias]; ok {
			if err := Set(cfg, key, v); err != nil {
				return fmt.Errorf("environment %s: %w", alias, err)
			}
		}
	}
	for _, key := range Keys() {
		name := EnvName(key)
		if v, ok := vars[name]; ok {
			if err := Set(cfg, key, v); err != nil {
				return fmt.Errorf("environment %s: %w", name, err)
			}
		}
	}
	return nil
}

// UnknownEnv returns the KAJ_* variables in env that set no setting: most
// likely typos, which would otherwise be ignored without a word.
func UnknownEnv(env []string) []string {
	known := map[string]bool{"KAJ_CONFIG": true, "KAJ_REQUIRE_DOCKER": true, "KAJ_SCREENSHOTS": true}
	for alias := range envAliases {
		known[alias] = true
	}
	for _, k := range Keys() {
		known[EnvName(k)] = true
	}
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "KAJ_") && !known[k] {
			out = append(out, k)
		}
	}
	return out
}

// Keys lists every dotted key, in declaration order.
func Keys() []string {
	var keys []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		sec := t.Field(i)
		for j := range sec.Type.NumField() {
			keys = append(keys, sec.Tag.Get("toml")+"."+sec.Type.Field(j).Tag.Get("toml"))
		}
	}
	return keys
}

// Set assigns a dotted key from its text form, as an environment variable
// or flag would give it.
func Set(cfg *Config, key, value string) error {
	f, err := field(cfg, key)
	if err != nil {
		return err
	}
	if u, ok := f.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		if err := u.UnmarshalText([]byte(value)); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(value)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("%s: %q is not true or false", key, value)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a whole number", key, value)
		}
		f.SetInt(n)
	case reflect.Map:
		m := map[string]string{}
		for _, kv := range strings.Split(value, ",") {
			if kv = strings.TrimSpace(kv); kv == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%s: %q is not key=value", key, kv)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		f.Set(reflect.ValueOf(m))
	case reflect.Slice:
		list := []string{}
		for _, s := range strings.Split(value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		f.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("%s: cannot be set from text", key)
	}
	return nil
}

func field(cfg *Config, key string) (reflect.Value, error) {
	sec, name, ok := strings.Cut(key, ".")
	if ok {
		v := reflect.ValueOf(cfg).Elem()
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("toml") != sec {
				continue
			}
			s := v.Field(i)
			for j := range s.NumField() {
				if s.Type().Field(j).Tag.Get("toml") == name {
					return s.Field(j), nil
				}
			}
		}
	}
	return reflect.Value{}, fmt.Errorf("unknown key %q", key)
}

// Validate reports the first setting that cannot work, naming its key.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		return fmt.Errorf("server.listen: %q is not host:port: %w", c.Server.Listen, err)
	}
	for _, p := range c.Server.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return fmt.Errorf("server.trusted_proxies: %q is not an IP address or CIDR like 10.0.0.0/8", p)
			}
		}
	}
	if c.Data.Dir == "" {
		return errors.New("data.dir: must not be empty")
	}
	if k := c.Data.SecretKey; k != "" {
		if len(k) != 64 || strings.Trim(strings.ToLower(k), "0123456789abcdef") != "" {
			return errors.New("data.secret_key: must be 64 hex digits (32 bytes); generate one with 'openssl rand -hex 32'")
		}
	}
	switch c.Runtime.Mode {
	case RuntimeAuto, RuntimeDocker, RuntimeSwarm:
	default:
		return fmt.Errorf("runtime.mode: %q is not one of \"auto\", \"docker\", \"swarm\"", c.Runtime.Mode)
	}
	if p := c.Runtime.PushTo; p != "" && (strings.Contains(p, "://") || strings.ContainsAny(p, " @") || strings.HasSuffix(p, "/")) {
		return fmt.Errorf("runtime.push_to: %q is not a repository prefix like 10.0.0.1:5000/kaj (no scheme, no tag, no trailing '/')", p)
	}
	if net.ParseIP(c.Deploy.PublishAddress) == nil {
		return fmt.Errorf("deploy.publish_address: %q is not an IP address", c.Deploy.PublishAddress)
	}
	if c.Deploy.DatabaseAlias == "" {
		return errors.New("deploy.database_alias: must not be empty")
	}
	if err := c.Router.validate(); err != nil {
		return err
	}
	if l := c.Metrics.Listen; l != "" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			return fmt.Errorf("metrics.listen: %q is not host:port: %w", l, err)
		}
	}
	for key, d := range map[string]Duration{
		"router.drain_timeout":    c.Router.DrainTimeout,
		"router.timeout":          c.Router.Timeout,
		"server.shutdown_timeout": c.Server.ShutdownTimeout,
		"deploy.database_timeout": c.Deploy.DatabaseTimeout,
		"deploy.health_timeout":   c.Deploy.HealthTimeout,
		"deploy.stop_timeout":     c.Deploy.StopTimeout,
		"auth.session_ttl":        c.Auth.SessionTTL,
		"docker.timeout":          c.Docker.Timeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s: must be positive, like \"30s\"", key)
		}
	}
	if w := c.Auth.ConfirmWindow; w <= 0 || w > c.Auth.SessionTTL {
		return errors.New("auth.confirm_window: must be positive and at most auth.session_ttl, like \"5m\"")
	}
	for k := range c.Deploy.Labels {
		if k == "" || strings.HasPrefix(k, "kaj.") && k != "kaj.instance" && k != "kaj.test" {
			return fmt.Errorf("deploy.labels: %q is reserved; kaj's own labels start with \"kaj.\"", k)
		}
	}
	if s := c.Deploy.StableFor; s < 0 || s > c.Deploy.HealthTimeout {
		return errors.New("deploy.stable_for: must be between \"0s\" (switch at the first passing check) and deploy.health_timeout, like \"1s\"")
	}
	if c.Deploy.KeepReleases < 1 {
		return errors.New("deploy.keep_releases: must be at least 1")
	}
	if c.Events.KeepDays < 0 || c.Events.KeepDays > 36500 {
		return errors.New("events.keep_days: must be between 0 (keep any age) and 36500")
	}
	if c.Events.Keep < 0 {
		return errors.New("events.keep: must not be negative (0 keeps any number)")
	}
	if c.Registry.Retries < 0 {
		return errors.New("registry.retries: must not be negative")
	}
	switch c.Lint.Threshold {
	case "error", "warning", "info", "style", "none":
	default:
		return fmt.Errorf("lint.threshold: %q is not one of error, warning, info, style, none", c.Lint.Threshold)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: %q is not text or json", c.Log.Format)
	}
	return nil
}

// SecretKeyPath is where the sealing key lives when none is given inline.
func (c Config) SecretKeyPath() string {
	if c.Data.SecretKeyFile != "" {
		return c.Data.SecretKeyFile
	}
	return filepath.Join(c.Data.Dir, "kaj.key")
}

// Duration is a time.Duration written as text ("90s", "2m") in TOML.
type Duration time.Duration

// UnmarshalText parses Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"30s\" or \"2m\"", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes Go duration syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (r Router) validate() error {
	if !r.Enabled {
		return nil
	}
	if _, _, err := net.SplitHostPort(r.Listen); err != nil {
		return fmt.Errorf("router.listen: %q is not host:port (like 127.0.0.1:8000 or :80): %w", r.Listen, err)
	}
	if r.HTTPSListen != "" {
		if _, _, err := net.SplitHostPort(r.HTTPSListen); err != nil {
			return fmt.Errorf("router.https_listen: %q is not host:port (like :443): %w", r.HTTPSListen, err)
		}
	}
	if r.Suffix == "" || strings.ContainsAny(r.Suffix, ":/ ") || strings.HasPrefix(r.Suffix, ".") {
		return fmt.Errorf("router.suffix: %q is not a domain like localhost or apps.example.com", r.Suffix)
	}
	if r.MaxBodyBytes < 1 {
		return fmt.Errorf("router.max_body_bytes: %d; give a positive size in bytes (default 33554432, 32 MiB)", r.MaxBodyBytes)
	}
	if r.HTTPSListen != "" && !strings.HasPrefix(r.ACMEDirectory, "https://") {
		return fmt.Errorf("router.acme_directory: %q must be an https:// URL", r.ACMEDirectory)
	}
	return nil
}

package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoad_exampleIsTheDefaults(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "config.example.toml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(cfg, want) {
		t.Fatalf("config.example.toml differs from the defaults:\n got %+v\nwant %+v", cfg, want)
	}
	src, err := os.ReadFile(filepath.Join("..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	// Every key must be documented, not only those whose default is non-zero.
	section := ""
	seen := map[string]bool{}
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		case line != "" && !strings.HasPrefix(line, "#"):
			k, _, _ := strings.Cut(line, "=")
			seen[section+"."+strings.TrimSpace(k)] = true
		}
	}
	for _, k := range Keys() {
		if !seen[k] {
			t.Errorf("config.example.toml does not document %s", k)
		}
	}
}

func TestLoad_noFile(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:8080" || cfg.Data.Dir != "data" {
		t.Fatalf("unsafe or unexpected defaults: %+v", cfg)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad_errors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"unknown key", "[server]\nlisten = \"127.0.0.1:9000\"\nlisen = \"x\"\n", []string{"line 3", `"server.lisen"`}},
		{"unknown section", "\n\n[servr]\nlisten = \"x\"\n", []string{"line 3", "servr"}},
		{"wrong type", "[deploy]\nkeep_releases = \"many\"\n", []string{"line 2", "keep_releases"}},
		{"bad duration", "[deploy]\nhealth_timeout = \"soon\"\n", []string{"line 2", "health_timeout", "duration"}},
		{"syntax", "[server\n", []string{"line 1"}},
		{"invalid value", "[server]\nlisten = \"8080\"\n", []string{"server.listen", "host:port"}},
		{"bad threshold", "[lint]\nthreshold = \"loud\"\n", []string{"lint.threshold"}},
		{"bad runtime mode", "[runtime]\nmode = \"k8s\"\n", []string{"runtime.mode", "swarm"}},
		{"bad push target", "[runtime]\npush_to = \"http://reg:5000/kaj\"\n", []string{"runtime.push_to", "repository prefix"}},
		{"bad key", "[data]\nsecret_key = \"abc\"\n", []string{"data.secret_key", "64 hex"}},
		{"negative event age", "[events]\nkeep_days = -1\n", []string{"events.keep_days"}},
		{"negative event count", "[events]\nkeep = -5\n", []string{"events.keep"}},
		{"zero engine timeout", "[docker]\ntimeout = \"0s\"\n", []string{"docker.timeout", "positive"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, tt.body), nil)
			if err == nil {
				t.Fatal("Load succeeded; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoad_layers(t *testing.T) {
	p := writeConfig(t, "[server]\nlisten = \"127.0.0.1:9000\"\n[deploy]\nhealth_timeout = \"5s\"\nkeep_releases = 3\n")
	env := []string{
		"KAJ_LISTEN=127.0.0.1:9100",
		"KAJ_DATA=/tmp/kajdata",
		"KAJ_DEPLOY_KEEP_RELEASES=7",
		"KAJ_REGISTRY_INSECURE=reg.lan:5000, other:5000",
		"KAJ_AUTH_SECURE_COOKIES=true",
		"PATH=/bin",
	}
	cfg, err := Load(p, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:9100" {
		t.Errorf("listen = %q; env must override the file", cfg.Server.Listen)
	}
	if cfg.Deploy.HealthTimeout.D() != 5*time.Second {
		t.Errorf("health_timeout = %v; the file must override the default", cfg.Deploy.HealthTimeout.D())
	}
	if cfg.Deploy.KeepReleases != 7 || cfg.Data.Dir != "/tmp/kajdata" || !cfg.Auth.SecureCookies {
		t.Errorf("env not applied: %+v", cfg)
	}
	if !reflect.DeepEqual(cfg.Registry.Insecure, []string{"reg.lan:5000", "other:5000"}) {
		t.Errorf("insecure = %q", cfg.Registry.Insecure)
	}
}

func TestLoad_badEnv(t *testing.T) {
	_, err := Load("", []string{"KAJ_DEPLOY_KEEP_RELEASES=lots"})
	if err == nil || !strings.Contains(err.Error(), "KAJ_DEPLOY_KEEP_RELEASES") {
		t.Fatalf("err = %v; want it to name the variable", err)
	}
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"KAJ_LISTEN=x", "KAJ_LISTN=y", "KAJ_DEPLOY_HEALTH_TIMEOUT=1s", "KAJ_CONFIG=c", "PATH=/bin"})
	if !reflect.DeepEqual(got, []string{"KAJ_LISTN"}) {
		t.Fatalf("UnknownEnv = %v", got)
	}
}

// TestLoad_routerFromEnv: the router's settings come from KAJ_ROUTER_*,
// and a bad one names its key.
func TestLoad_routerFromEnv(t *testing.T) {
	cfg, err := Load("", []string{"KAJ_ROUTER_LISTEN=:80", "KAJ_ROUTER_HTTPS_LISTEN=:443", "KAJ_ROUTER_MAX_BODY_BYTES=1048576", "KAJ_ROUTER_ENABLED=false"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Router.Listen != ":80" || cfg.Router.HTTPSListen != ":443" || cfg.Router.MaxBodyBytes != 1<<20 || cfg.Router.Enabled {
		t.Fatalf("router = %+v", cfg.Router)
	}
	for env, key := range map[string]string{
		"KAJ_ROUTER_LISTEN=8000":       "router.listen",
		"KAJ_ROUTER_SUFFIX=.bad":       "router.suffix",
		"KAJ_ROUTER_MAX_BODY_BYTES=-1": "router.max_body_bytes",
		"KAJ_METRICS_LISTEN=nope":      "metrics.listen",
	} {
		if _, err := Load("", []string{env}); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v; want an error naming %s", env, err, key)
		}
	}
}

package apps

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/router"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

var (
	dnsLabelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// decodeStrict decodes as the API does: unknown fields and trailing data
// are errors.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data")
	}
	return nil
}

// FuzzAppInput decodes a request body into an app input and validates
// it. Nothing may panic, and an input found valid must be deployable:
// its name a DNS label, its health path and database password free of
// newlines, its image a reference the registry parses, its DATABASE_URL
// a URL that gives back the password.
func FuzzAppInput(f *testing.F) {
	for _, s := range []string{
		`{"name":"blog","image":"microblog:1","port":5000,"health_path":"/healthz","env":[{"name":"A","value":"1"},{"name":"S","value":"x","secret":true}],"domains":["blog.example.com","example.com/blog"],"database":{"kind":"mysql","image":"mysql:8.4"}}`,
		`{"name":"shop","image":"ghcr.io/team/shop@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","port":80,"database":{"kind":"postgres","image":"postgres:16","url_scheme":"postgresql+psycopg","password":"p@ss word/+"}}`,
		`{"name":"x","image":"x","port":1,"health_path":"/a\nb"}`,
		`{"name":"x","image":"--privileged","port":1}`,
		`{"name":"x","image":"x:1","port":1,"database":{"kind":"mysql","image":"mysql:8","url_scheme":"javascript:"}}`,
		`{"name":"x","image":"x:1","port":1,"database":{"kind":"mysql","image":"mysql:8","password":"a\nb"}}`,
		`{"name":"x","image":"x:1","port":1,"restart":"always","memory_bytes":6291456,"cpus":0.5,"command":["a"],"health":{"retries":3,"interval":"1s"}}`,
		`{"name":"x","source":{"repo":"https://example.com/r.git","ref":"main","dockerfile":"Dockerfile_prod"},"port":1}`,
		`{"name":"x","image":"x:1","port":1,"proxy":{"max_body_bytes":10,"timeout":"5s"},"backup":{"schedule":"@daily","keep":3}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkInput)
}

// checkInput decodes body strictly and, when it holds a valid input,
// checks the invariants a deploy relies on.
func checkInput(t *testing.T, body []byte) {
	var in Input
	if decodeStrict(body, &in) != nil {
		return
	}
	if in.Validate() != nil {
		return
	}
	a := in.App(runtime.DefaultAlias)
	if !dnsLabelRe.MatchString(a.Name) {
		t.Fatalf("valid input with name %q", a.Name)
	}
	if strings.ContainsAny(a.HealthPath, "\r\n \t\x00") {
		t.Fatalf("valid input with health path %q", a.HealthPath)
	}
	if a.Image != "" {
		if _, err := registry.ParseReference(a.Image); err != nil {
			t.Fatalf("valid input with image %q: %v", a.Image, err)
		}
	}
	for _, e := range a.Env {
		if !envNameRe.MatchString(e.Name) || strings.ContainsRune(e.Value, 0) {
			t.Fatalf("valid input with env %q=%q", e.Name, e.Value)
		}
	}
	for _, d := range a.Domains {
		if strings.ContainsAny(d, "\r\n \t") {
			t.Fatalf("valid input with domain %q", d)
		}
	}
	if db := a.Database; db != nil {
		pw := db.Password
		if pw == "" {
			pw = "generated"
		}
		if strings.ContainsAny(pw, "\r\n\x00") {
			t.Fatalf("valid input with database password %q", pw)
		}
		spec := runtime.DatabaseSpec{App: a.Name, Kind: runtime.DatabaseKind(db.Kind), Image: db.Image, Volume: db.Volume, Alias: db.Alias, Database: db.Name, User: db.User, Password: pw}
		env, err := runtime.DatabaseEnv(spec, db.URLScheme)
		if err != nil {
			t.Fatalf("valid input whose DATABASE_URL cannot be made: %v", err)
		}
		u, err := url.Parse(env["DATABASE_URL"])
		if err != nil {
			t.Fatalf("DATABASE_URL %q does not parse: %v", env["DATABASE_URL"], err)
		}
		if got, _ := u.User.Password(); got != pw || u.Host != db.Alias || strings.ContainsAny(u.Scheme, ":/") {
			t.Fatalf("DATABASE_URL %q gives back password %q, host %q; want %q, %q", env["DATABASE_URL"], got, u.Host, pw, db.Alias)
		}
	}
}

// FuzzAppFields drives the same checks field by field, so the fuzzer
// reaches the rules instead of the JSON grammar.
func FuzzAppFields(f *testing.F) {
	f.Add("blog", "microblog:1", "/healthz", "blog.example.com", "SECRET", "v", "pw", "mysql+pymysql", "mysql", "mysql:8.4")
	f.Add("x", "--privileged", "/a\nb", "example.com/a..b", "1A", "\x00", "a\nb", "javascript:", "postgres", "-v")
	f.Add("shop", "ghcr.io/team/shop:1", "/", "*.example.com", "_A", "postgres://u:p@h/d", "p@ss word/+", "", "mariadb", "127.0.0.1:5000/mariadb:11")
	f.Fuzz(func(t *testing.T, name, image, health, domain, envName, envValue, password, scheme, kind, dbImage string) {
		in := Input{
			Name: name, Image: image, Port: 8080, HealthPath: health, Domains: []string{domain},
			Env:      []store.EnvVar{{Name: envName, Value: envValue, Secret: true}},
			Database: &DatabaseInput{Kind: kind, Image: dbImage, URLScheme: scheme, Password: password},
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		checkInput(t, b)
	})
}

// FuzzDomain: a domain the store accepts is one the router serves, and
// it carries nothing that could split a header or a log line.
func FuzzDomain(f *testing.F) {
	for _, s := range []string{"blog.example.com", "*.example.com", "example.com/blog", "example.com/a/b", "a.b", "example.com/a..b", "example.com//x", "EXAMPLE.com", "example.com:80", "exa mple.com", "example.com/a\nb", "xn--bcher-kva.example"} {
		f.Add(s)
	}
	rt, err := router.New(router.Options{Metrics: prometheus.NewRegistry()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, d string) {
		if store.ValidateDomain("domains[0]", d) != nil {
			return
		}
		if strings.IndexFunc(d, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			t.Fatalf("valid domain %q has a space or control character", d)
		}
		host, path, _ := strings.Cut(d, "/")
		dom := router.Domain{Host: host}
		if path != "" {
			dom.PathPrefix = "/" + path
		}
		if err := rt.SetRoute(router.Route{App: "fuzz", Domains: []router.Domain{dom}}); err != nil {
			t.Fatalf("the store accepts domain %q, the router refuses it: %v", d, err)
		}
	})
}

// FuzzEnv: a NAME=VALUE pair, as kaj env set takes it, that the store
// accepts round-trips and can be handed to the engine as one variable.
func FuzzEnv(f *testing.F) {
	for _, s := range []string{"A=1", "DATABASE_URL=postgres://u:p@h/d", "_X=", "1A=x", "A B=c", "A=b=c", "A=\x00", "É=1", "A=line\nbreak"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, kv string) {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return
		}
		a := store.App{Name: "x", Image: "x:1", Port: 1, Env: []store.EnvVar{{Name: name, Value: value}}}
		if a.Validate() != nil {
			return
		}
		if !envNameRe.MatchString(name) || strings.ContainsRune(value, 0) {
			t.Fatalf("valid env %q=%q", name, value)
		}
		if n, v, _ := strings.Cut(name+"="+value, "="); n != name || v != value {
			t.Fatalf("%q=%q does not round-trip", name, value)
		}
	})
}

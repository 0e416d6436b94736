package catalog

import (
	"errors"
	"strings"
	"testing"

	"github.com/kajhq/kaj/store"
)

func TestDefault_microblog(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := c.Instantiate("microblog-mysql", Params{Name: "blog"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Port != 5000 || a.HealthPath != "/healthz" || a.Database == nil || a.Database.URLScheme != "mysql+pymysql" || a.Database.Alias != "dbserver" {
		t.Fatalf("app = %+v", a)
	}
	var secret store.EnvVar
	for _, e := range a.Env {
		if e.Name == "SECRET_KEY" {
			secret = e
		}
	}
	if !secret.Secret || len(secret.Value) != 32 {
		t.Fatalf("SECRET_KEY = %+v", secret)
	}
	b, _, _ := c.Instantiate("microblog-mysql", Params{Name: "blog2"})
	if b.Database.Password == a.Database.Password || len(a.Database.Password) < 24 {
		t.Fatal("database passwords are not fresh and strong")
	}
	d, _, _ := c.Instantiate("microblog-mysql", Params{Name: "blog3", Image: "microblog:dev", DatabaseImage: "kaj-mariadb:test"})
	if d.Image != "microblog:dev" || d.Database.Image != "kaj-mariadb:test" {
		t.Fatalf("overrides ignored: %+v", d)
	}
	e, _, _ := c.Instantiate("microblog-mysql", Params{Name: "blog4", Env: map[string]string{"SECRET_KEY": "mine-mine-mine"}})
	for _, v := range e.Env {
		if v.Name == "SECRET_KEY" && (!v.Secret || v.Value != "mine-mine-mine") {
			t.Fatalf("overridden secret = %+v; want the user's value, still secret", v)
		}
	}
}

func TestInstantiate_errors(t *testing.T) {
	c, _ := Default()
	if _, _, err := c.Instantiate("nope", Params{Name: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown template: %v", err)
	}
	if _, _, err := c.Instantiate("microblog-mysql", Params{Name: "Bad Name"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad name: %v", err)
	}
	if _, _, err := c.Instantiate("single", Params{Name: "web"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("single without image: %v", err)
	}
	if _, _, err := c.Instantiate("single", Params{Name: "web", Image: "nginx:1.27"}); err != nil {
		t.Fatal(err)
	}
}

func TestParse_strict(t *testing.T) {
	if _, err := Parse([]byte("[[template]]\nid = \"a\"\nimagee = \"x\"\n")); err == nil {
		t.Fatal("unknown key accepted")
	}
}

// TestInstantiate_overrides: port and health path replace the template's,
// and the defaults taken are named.
func TestInstantiate_overrides(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	a, defaults, err := c.Instantiate("microblog-mysql", Params{Name: "blog", Port: 8080, HealthPath: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Port != 8080 || a.HealthPath != "" {
		t.Fatalf("port %d, health path %q; want 8080 and none", a.Port, a.HealthPath)
	}
	joined := strings.Join(defaults, "; ")
	if strings.Contains(joined, "port") || !strings.Contains(joined, "image microblog") {
		t.Fatalf("defaults = %q: want the image named as a default and the port not", joined)
	}
	b, defaults, _ := c.Instantiate("microblog-mysql", Params{Name: "blog2", HealthPath: "/up"})
	if b.HealthPath != "/up" || !strings.Contains(strings.Join(defaults, ";"), "port 5000") {
		t.Fatalf("health path %q, defaults %q", b.HealthPath, defaults)
	}
}

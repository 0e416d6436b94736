package catalog

import (
	"errors"
	"testing"

	"github.com/kajhq/kaj/store"
)

func TestDefault_microblog(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Instantiate("microblog-mysql", Params{Name: "blog"})
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
	b, _ := c.Instantiate("microblog-mysql", Params{Name: "blog2"})
	if b.Database.Password == a.Database.Password || len(a.Database.Password) < 24 {
		t.Fatal("database passwords are not fresh and strong")
	}
	d, _ := c.Instantiate("microblog-mysql", Params{Name: "blog3", Image: "microblog:dev", DatabaseImage: "kaj-mariadb:test"})
	if d.Image != "microblog:dev" || d.Database.Image != "kaj-mariadb:test" {
		t.Fatalf("overrides ignored: %+v", d)
	}
	e, _ := c.Instantiate("microblog-mysql", Params{Name: "blog4", Env: map[string]string{"SECRET_KEY": "mine-mine-mine"}})
	for _, v := range e.Env {
		if v.Name == "SECRET_KEY" && (!v.Secret || v.Value != "mine-mine-mine") {
			t.Fatalf("overridden secret = %+v; want the user's value, still secret", v)
		}
	}
}

func TestInstantiate_errors(t *testing.T) {
	c, _ := Default()
	if _, err := c.Instantiate("nope", Params{Name: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown template: %v", err)
	}
	if _, err := c.Instantiate("microblog-mysql", Params{Name: "Bad Name"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := c.Instantiate("single", Params{Name: "web"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("single without image: %v", err)
	}
	if _, err := c.Instantiate("single", Params{Name: "web", Image: "nginx:1.27"}); err != nil {
		t.Fatal(err)
	}
}

func TestParse_strict(t *testing.T) {
	if _, err := Parse([]byte("[[template]]\nid = \"a\"\nimagee = \"x\"\n")); err == nil {
		t.Fatal("unknown key accepted")
	}
}

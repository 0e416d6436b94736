package runtime_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/kajhq/kaj/runtime"
)

func TestDatabaseURL(t *testing.T) {
	cases := []struct {
		name   string
		spec   runtime.DatabaseSpec
		scheme string
		want   string
	}{
		{"lesson", runtime.DatabaseSpec{App: "microblog", Kind: runtime.MySQL, Password: "secret"}, "mysql+pymysql",
			"mysql+pymysql://microblog:secret@dbserver/microblog"},
		{"defaults from app name", runtime.DatabaseSpec{App: "micro-blog", Kind: runtime.MariaDB, Password: "pw"}, "",
			"mysql://micro_blog:pw@dbserver/micro_blog"},
		{"postgres", runtime.DatabaseSpec{App: "shop", Kind: runtime.Postgres, User: "shopper", Database: "orders", Alias: "pg", Password: "pw"}, "",
			"postgresql://shopper:pw@pg/orders"},
		{"password escaped", runtime.DatabaseSpec{App: "web", Kind: runtime.MySQL, Password: "p@ss:w/rd?#%+ é'"}, "mysql",
			"mysql://web:p%40ss%3Aw%2Frd%3F%23%25%2B%20%C3%A9%27@dbserver/web"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := runtime.DatabaseURL(c.spec, c.scheme)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("DatabaseURL = %s\n                 want %s", got, c.want)
			}
			// Every parser reads the parts back as they were.
			u, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			if pw, _ := u.User.Password(); pw != c.spec.Password {
				t.Errorf("password parses back as %q, want %q", pw, c.spec.Password)
			}
		})
	}
}

func TestDatabaseURL_badScheme(t *testing.T) {
	for _, s := range []string{"MySQL", "my sql", "1mysql", "mysql://"} {
		_, err := runtime.DatabaseURL(runtime.DatabaseSpec{App: "web", Kind: runtime.MySQL, Password: "pw"}, s)
		var ve *runtime.ValidationError
		if !errors.As(err, &ve) || ve.Field != "scheme" {
			t.Errorf("scheme %q: err = %v, want a ValidationError on scheme", s, err)
		}
	}
}

func TestDatabaseEnv(t *testing.T) {
	env, err := runtime.DatabaseEnv(runtime.DatabaseSpec{App: "microblog", Kind: runtime.MySQL, Password: "a b"}, "mysql+pymysql")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DATABASE_URL": "mysql+pymysql://microblog:a%20b@dbserver/microblog",
		"DB_HOST":      "dbserver",
		"DB_PORT":      "3306",
		"DB_NAME":      "microblog",
		"DB_USER":      "microblog",
		"DB_PASSWORD":  "a b",
	}
	if len(env) != len(want) {
		t.Errorf("DatabaseEnv has %d entries, want %d: %v", len(env), len(want), env)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	pg, err := runtime.DatabaseEnv(runtime.DatabaseSpec{App: "shop", Kind: runtime.Postgres, Password: "pw"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if pg["DB_PORT"] != "5432" {
		t.Errorf("postgres DB_PORT = %q", pg["DB_PORT"])
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := runtime.GeneratePassword()
		if len(p) < 26 {
			t.Fatalf("password %q is short", p)
		}
		for _, c := range p {
			if !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
				t.Fatalf("password %q has %q, which needs escaping somewhere", p, c)
			}
		}
		if seen[p] {
			t.Fatalf("password %q came twice", p)
		}
		seen[p] = true
	}
}

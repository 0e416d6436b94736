package redact_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/kajhq/kaj/redact"
)

func TestRedactor_String(t *testing.T) {
	r := redact.New("s3cr3t-pass", "p@ss word/+", "abc", "", "s3cr3t-pass")
	cases := []struct{ name, in, want string }{
		{"plain", "password is s3cr3t-pass.", "password is [redacted]."},
		{"twice", "s3cr3t-pass s3cr3t-pass", "[redacted] [redacted]"},
		{"database url", "DATABASE_URL=postgres://app:p%40ss%20word%2F%2B@db/app", "DATABASE_URL=postgres://app:[redacted]@db/app"},
		{"query escaped", "x?pw=p%40ss+word%2F%2B", "x?pw=[redacted]"},
		{"json", `{"pw":"p@ss word/+"}`, `{"pw":"[redacted]"}`},
		{"short values are kept", "abc is too short to hide", "abc is too short to hide"},
		{"unknown URL password", "dsn https://key:other-pw@sentry.example.com/1 and ftp://anon@x/", "dsn https://key:[redacted]@sentry.example.com/1 and ftp://anon@x/"},
		{"URL without password", "see https://example.com/a@b and http://[::1]:80/", "see https://example.com/a@b and http://[::1]:80/"},
		{"nothing", "nothing secret here", "nothing secret here"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := r.String(c.in); got != c.want {
				t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestRedactor_longestFirst(t *testing.T) {
	r := redact.New("secret", "secret-and-more")
	if got := r.String("x secret-and-more y"); got != "x [redacted] y" {
		t.Errorf("got %q", got)
	}
}

func TestRedactor_nil(t *testing.T) {
	var r *redact.Redactor
	if r.String("a secret") != "a secret" || r.Error(nil) != nil {
		t.Error("a nil Redactor changed its input")
	}
	if redact.New().String("anything") != "anything" {
		t.Error("an empty Redactor changed its input")
	}
	if got := (&redact.Redactor{}).String("redis://:pw-x@cache"); got != "redis://:[redacted]@cache" {
		t.Errorf("the zero Redactor left a URL password: %q", got)
	}
}

func TestRedactor_Error(t *testing.T) {
	r := redact.New("hunter22")
	err := r.Error(fmt.Errorf("login with hunter22: %w", fs.ErrPermission))
	if strings.Contains(err.Error(), "hunter22") {
		t.Errorf("error still says the secret: %v", err)
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Error("the redacted error lost its chain")
	}
	plain := errors.New("nothing here")
	if r.Error(plain) != plain {
		t.Error("an error without a secret was wrapped")
	}
}

func TestRedactor_Lines(t *testing.T) {
	r := redact.New("hunter22")
	in := []string{"a", "pw=hunter22", "b"}
	out := r.Lines(in)
	if out[1] != "pw=[redacted]" || in[1] != "pw=hunter22" {
		t.Errorf("Lines = %q (input %q): want a redacted copy", out, in)
	}
}

func TestURLPasswords(t *testing.T) {
	got := redact.URLPasswords("postgres://u:pw%2Fx@db/app", "https://example.com", "plain", "redis://:tok@cache:6379", "mysql://user@db/x")
	if strings.Join(got, ",") != "pw/x,tok" {
		t.Errorf("URLPasswords = %q", got)
	}
}

// FuzzRedact: redaction never panics, and a secret that shares no byte
// with the mask never survives it, whatever surrounds it.
func FuzzRedact(f *testing.F) {
	f.Add("s3cret", "before s3cret after")
	f.Add("p@ss word", "postgres://u:p%40ss%20word@db/x")
	f.Add("ab", "ab ab")
	f.Add("\x00\xff\xfe", "\x00\xff\xfe\x00")
	f.Fuzz(func(t *testing.T, secret, text string) {
		r := redact.New(secret)
		out := r.String(text + secret + text)
		if len(secret) < redact.MinLen || strings.ContainsAny(secret, redact.Mask) {
			return
		}
		if strings.Contains(out, secret) {
			t.Fatalf("secret %q survives in %q", secret, out)
		}
	})
}

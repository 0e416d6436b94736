// Package redact removes known secret values from text before kaj keeps
// or shows it: a failed release's error and log tail, the audit trail, a
// job's events. An app that prints its DATABASE_URL while failing must not
// leave its password in the store file.
//
// Redaction works on values kaj knows, and on one pattern: the password
// in a URL's user info ("postgres://app:s3cret@db/app"), whoever wrote the
// URL. It cannot catch a secret the app derives (a hash, a substring, a
// secret split over two lines), only the values and their common
// encodings.
package redact

import (
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Mask replaces every secret value.
const Mask = "[redacted]"

// MinLen is the shortest secret redacted, in bytes. A shorter value would
// shred ordinary text ("1", "on", "abc" occur everywhere) while hiding
// almost nothing: a secret of three characters is guessed anyway.
const MinLen = 4

// Redactor replaces a fixed set of secrets and the passwords written in
// URLs. Nil redacts nothing; the zero value only URL passwords. It is
// safe for concurrent use.
type Redactor struct {
	r *strings.Replacer
}

// New returns a Redactor for secrets. Each secret is also redacted in the
// forms it takes inside a URL (percent-encoded as a query, a path or
// user info, and every byte but the unreserved ones encoded, as kaj
// writes DATABASE_URL) and inside a JSON string. Values shorter than
// MinLen, and duplicates, are skipped.
func New(secrets ...string) *Redactor {
	seen := map[string]bool{}
	var forms []string
	add := func(s string) {
		if len(s) >= MinLen && !seen[s] {
			seen[s] = true
			forms = append(forms, s)
		}
	}
	for _, s := range secrets {
		if len(s) < MinLen {
			continue
		}
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		add(strings.TrimPrefix(url.UserPassword("", s).String(), ":"))
		add(escapeAll(s))
		if q, err := json.Marshal(s); err == nil {
			add(string(q[1 : len(q)-1]))
		}
	}
	if len(forms) == 0 {
		return &Redactor{}
	}
	// At one position the longest form wins: a secret that contains
	// another is masked whole, not around the shorter one.
	sort.Slice(forms, func(i, j int) bool {
		if len(forms[i]) != len(forms[j]) {
			return len(forms[i]) > len(forms[j])
		}
		return forms[i] < forms[j]
	})
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Mask)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// String returns s with every secret, and every password in a URL's user
// info, replaced by Mask.
func (r *Redactor) String(s string) string {
	if r == nil || s == "" {
		return s
	}
	if r.r != nil {
		s = r.r.Replace(s)
	}
	return URLs(s)
}

// userinfo is a URL's scheme and user name, then its password.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@\[\]]*:)([^@\s/]+)@`)

// URLs masks the password in every URL with user info in s: a URL with a
// password is a secret in the clear, whether kaj knows the password or
// not.
func URLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return userinfo.ReplaceAllStringFunc(s, func(m string) string {
		sub := userinfo.FindStringSubmatch(m)
		if sub[2] == Mask {
			return m
		}
		return sub[1] + Mask + "@"
	})
}

// Lines redacts each line; it returns lines itself when nothing changed.
func (r *Redactor) Lines(lines []string) []string {
	if r == nil {
		return lines
	}
	var out []string
	for i, l := range lines {
		if red := r.String(l); red != l {
			if out == nil {
				out = append([]string(nil), lines...)
			}
			out[i] = red
		}
	}
	if out == nil {
		return lines
	}
	return out
}

// Error returns err with a redacted message. It still matches what err
// matches (errors.Is, errors.As); a caller that digs a wrapped error's
// fields out with errors.As must redact them itself.
func (r *Redactor) Error(err error) error {
	if err == nil || r == nil {
		return err
	}
	msg := err.Error()
	red := r.String(msg)
	if red == msg {
		return err
	}
	return &redacted{msg: red, err: err}
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// URLPasswords returns the passwords embedded in those values that are
// URLs with user info ("postgres://app:s3cret@db/app"), so a connection
// string an app is given in plain env is redacted like a secret.
func URLPasswords(values ...string) []string {
	var out []string
	for _, v := range values {
		if !strings.Contains(v, "://") || !strings.Contains(v, "@") {
			continue
		}
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil || u.User == nil {
			continue
		}
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p)
		}
	}
	return out
}

// escapeAll percent-encodes all but RFC 3986's unreserved characters.
func escapeAll(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

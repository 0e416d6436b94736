package registry

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// FuzzRegistryHost: a host NormalizeHost accepts is a strict registry
// name without path, space or control byte, and normalising it again
// changes nothing.
func FuzzRegistryHost(f *testing.F) {
	for _, s := range []string{"docker.io", "https://index.docker.io/v1/", "GHCR.io", "10.0.0.5:5000", "[::1]:5000", "..", "localhost:99999", "reg..x", "a b", "x/y", "localhost:0", "xn--bcher-kva.example:443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := NormalizeHost(in)
		if err != nil {
			return
		}
		if strings.IndexFunc(h, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' || r == '@' }) >= 0 || strings.Contains(h, "..") {
			t.Fatalf("NormalizeHost(%q) = %q", in, h)
		}
		if _, err := name.NewRegistry(h, name.StrictValidation); err != nil {
			t.Fatalf("NormalizeHost(%q) = %q, which go-containerregistry refuses: %v", in, h, err)
		}
		if again, err := NormalizeHost(h); err != nil || again != h {
			t.Fatalf("NormalizeHost(%q) = %q, but NormalizeHost(%q) = %q, %v", in, h, h, again, err)
		}
	})
}

// FuzzParseReference: a reference ParseReference accepts has a host
// NormalizeHost keeps, no climbing path, and its String parses back to
// itself.
func FuzzParseReference(f *testing.F) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, s := range []string{"microblog:1.0.0-prod", "user/app", "host:5000/team/app@" + dg, "ghcr.io/team/app:1.2@" + dg, "localhost:5000/app", "../../x", "--privileged", "a__b/c-d.e:TAG_1", "[::1]:5000/x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ParseReference(in)
		if err != nil {
			return
		}
		if h, err := NormalizeHost(r.Registry); err != nil || h != r.Registry {
			t.Fatalf("ParseReference(%q): registry %q normalises to %q, %v", in, r.Registry, h, err)
		}
		for _, c := range strings.Split(r.Repository, "/") {
			if c == "" || c == "." || c == ".." || strings.HasPrefix(c, "-") {
				t.Fatalf("ParseReference(%q): repository %q", in, r.Repository)
			}
		}
		again, err := ParseReference(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseReference(%q) = %+v, whose String %q parses as %+v, %v", in, r, r.String(), again, err)
		}
	})
}

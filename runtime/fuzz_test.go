package runtime

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzHealthPath: a health path CheckHealthPath accepts makes a request
// the probe can send, to the path given, with nothing that could split
// the request line.
func FuzzHealthPath(f *testing.F) {
	for _, s := range []string{"/healthz", "/", "/a?b=c", "/a%20b", "/healthz\nHost: evil", "healthz", "/a b", "/#x", "//x", "/é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if CheckHealthPath(p) != nil || p == "" {
			return
		}
		if strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			t.Fatalf("valid health path %q has a space or control character", p)
		}
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+p, nil)
		if err != nil {
			t.Fatalf("valid health path %q makes no request: %v", p, err)
		}
		if req.URL.Host != "127.0.0.1:8080" {
			t.Fatalf("health path %q sends the probe to %q", p, req.URL.Host)
		}
	})
}

package apps

import (
	"testing"
	"time"

	"github.com/kajhq/kaj/router"
	"github.com/kajhq/kaj/store"
)

// TestFrontDoor_route: an app's route takes its domains (path prefixes
// split off), its proxy settings over the router's defaults, and
// redirects to HTTPS only when the router serves it.
func TestFrontDoor_route(t *testing.T) {
	r, err := router.New(router.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := NewFrontDoor(r, nil, FrontDoorOptions{Suffix: "localhost", HTTPPort: 8000, HTTPSRedirect: true, MaxBodyBytes: 1 << 20, Timeout: time.Minute})
	off := false
	a := store.App{Name: "blog", Domains: []string{"blog.example.com", "example.com/blog", "*.example.org"}, Proxy: store.Proxy{MaxBodyBytes: 5 << 20}}
	rt := f.route(a, []string{"10.0.0.2:5000"})
	if len(rt.Domains) != 3 || rt.Domains[1].Host != "example.com" || rt.Domains[1].PathPrefix != "/blog" {
		t.Fatalf("domains %+v", rt.Domains)
	}
	if rt.MaxBodyBytes != 5<<20 || rt.Timeout != time.Minute || rt.HTTPSRedirect {
		t.Fatalf("route %+v: want the app's body limit, the default timeout, and no redirect without HTTPS", rt)
	}
	f.opts.HTTPSPort = 8443
	if !f.route(a, nil).HTTPSRedirect {
		t.Fatal("no redirect with HTTPS on")
	}
	a.Proxy.HTTPSRedirect = &off
	if f.route(a, nil).HTTPSRedirect {
		t.Fatal("the app's https_redirect = false was ignored")
	}
	urls := f.URLs(a)
	want := []string{"http://blog.localhost:8000", "https://blog.example.com:8443", "https://example.com:8443/blog"}
	if len(urls) != len(want) {
		t.Fatalf("URLs %v; want %v", urls, want)
	}
	for i := range want {
		if urls[i] != want[i] {
			t.Fatalf("URLs %v; want %v", urls, want)
		}
	}
}

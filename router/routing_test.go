package router

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestRouter_routing(t *testing.T) {
	blog := startUpstream(t, "blog")
	api := startUpstream(t, "api")
	shop := startUpstream(t, "shop")
	fallback := startUpstream(t, "fallback")
	f := newFrontDoor(t, Options{},
		Route{App: "blog", Domains: []Domain{{Host: "Blog.Example.com"}}, Upstreams: []string{blog.addr}},
		Route{App: "api", Domains: []Domain{{Host: "blog.example.com", PathPrefix: "/api"}, {Host: "blog.example.com", PathPrefix: "/api/v2/"}}, Upstreams: []string{api.addr}},
		Route{App: "shop", Domains: []Domain{{Host: "*.shops.example.com"}}, Upstreams: []string{shop.addr}},
		Route{App: "other", Domains: []Domain{{Host: "blog.example.com", PathPrefix: "/api/v2/admin"}}, Upstreams: []string{fallback.addr}},
	)
	tests := []struct {
		name, host, path, want string
	}{
		{"app.localhost", "blog.localhost:8000", "/", "blog"},
		{"exact domain, any case and port", "BLOG.example.COM:8000", "/x", "blog"},
		{"trailing dot", "blog.example.com.", "/", "blog"},
		{"path prefix", "blog.example.com", "/api", "api"},
		{"below path prefix", "blog.example.com", "/api/users", "api"},
		{"not a prefix of a segment", "blog.example.com", "/apix", "blog"},
		{"longest prefix wins", "blog.example.com", "/api/v2/admin/x", "fallback"},
		{"middle prefix", "blog.example.com", "/api/v2/x", "api"},
		{"wildcard", "a.shops.example.com", "/", "shop"},
		{"wildcard is one label", "a.b.shops.example.com", "/", ""},
		{"wildcard excludes the apex", "shops.example.com", "/", ""},
		{"unknown host", "nobody.example.com", "/", ""},
		{"unknown app under the suffix", "ghost.localhost", "/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := f.get(t, tt.host, tt.path)
			if tt.want == "" {
				if status != http.StatusNotFound {
					t.Fatalf("status %d, want 404; body %.200s", status, body)
				}
				for _, leak := range []string{"blog", "shop", "api", "fallback"} {
					if strings.Contains(body, leak) {
						t.Errorf("404 page mentions %q: %s", leak, body)
					}
				}
				return
			}
			got := whoAnswered(t, status, body)
			if got.Name != tt.want {
				t.Errorf("answered by %q, want %q", got.Name, tt.want)
			}
			if got.Path != tt.path {
				t.Errorf("upstream saw path %q, want %q unchanged", got.Path, tt.path)
			}
			if got.Host != tt.host {
				t.Errorf("upstream saw Host %q, want the client's %q", got.Host, tt.host)
			}
		})
	}
}

func TestRouter_defaultApp(t *testing.T) {
	up := startUpstream(t, "home")
	f := newFrontDoor(t, Options{DefaultApp: "home"}, Route{App: "home", Upstreams: []string{up.addr}})
	if got := f.reply(t, "anything.example.org", "/"); got.Name != "home" {
		t.Errorf("unknown host answered by %q, want the default app", got.Name)
	}
}

func TestRouter_noUpstreams503(t *testing.T) {
	f := newFrontDoor(t, Options{}, Route{App: "sleepy"})
	status, body, resp := f.get(t, "sleepy.localhost", "/")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", status)
	}
	if got := resp.Header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After %q, want 5", got)
	}
	if !strings.Contains(body, "not running") {
		t.Errorf("503 page does not say why: %s", body)
	}
}

func TestRouter_SetRoute_conflict(t *testing.T) {
	a := startUpstream(t, "a")
	f := newFrontDoor(t, Options{}, Route{App: "a", Domains: []Domain{{Host: "a.example.com"}}, Upstreams: []string{a.addr}})
	for _, rt := range []Route{
		{App: "b", Domains: []Domain{{Host: "A.example.com."}}},
		{App: "b", Domains: []Domain{{Host: "a.localhost"}}}, // a's own address
	} {
		err := f.SetRoute(rt)
		if !errors.Is(err, ErrDomainTaken) {
			t.Fatalf("SetRoute(%v) = %v, want ErrDomainTaken", rt.Domains, err)
		}
		if !strings.Contains(err.Error(), `app "a"`) {
			t.Errorf("error does not name the owner: %v", err)
		}
	}
	// The failed change left the table alone.
	if got := f.reply(t, "a.example.com", "/"); got.Name != "a" {
		t.Errorf("answered by %q after a refused change", got.Name)
	}
	// Another prefix on the same host is no conflict.
	if err := f.SetRoute(Route{App: "b", Domains: []Domain{{Host: "a.example.com", PathPrefix: "/b"}}}); err != nil {
		t.Errorf("a different path prefix: %v", err)
	}
	err := f.SetRoutes([]Route{
		{App: "x", Domains: []Domain{{Host: "same.example.com"}}},
		{App: "y", Domains: []Domain{{Host: "same.example.com"}}},
	})
	if !errors.Is(err, ErrDomainTaken) {
		t.Errorf("SetRoutes with a shared domain = %v, want ErrDomainTaken", err)
	}
}

func TestRouter_RemoveRoute(t *testing.T) {
	a := startUpstream(t, "a")
	f := newFrontDoor(t, Options{}, Route{App: "a", Upstreams: []string{a.addr}})
	f.RemoveRoute("a")
	if status, _, _ := f.get(t, "a.localhost", "/"); status != http.StatusNotFound {
		t.Errorf("status %d after RemoveRoute, want 404", status)
	}
}

func TestRouter_SetRoute_invalid(t *testing.T) {
	r, err := New(Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for name, rt := range map[string]Route{
		"app name":      {App: "My_App"},
		"upstream":      {App: "a", Upstreams: []string{"10.0.0.1"}},
		"upstream port": {App: "a", Upstreams: []string{"10.0.0.1:99999"}},
		"domain":        {App: "a", Domains: []Domain{{Host: "http://x.example.com"}}},
		"prefix":        {App: "a", Domains: []Domain{{Host: "x.example.com", PathPrefix: "api"}}},
	} {
		if err := r.SetRoute(rt); !errors.Is(err, ErrInvalidRoute) && !errors.Is(err, ErrInvalidDomain) {
			t.Errorf("%s: SetRoute = %v, want a validation error", name, err)
		}
	}
}

func TestValidateDomain(t *testing.T) {
	tests := []struct {
		host string
		ok   bool
		hint string // part of the error that tells what to do
	}{
		{"blog.example.com", true, ""},
		{"Blog.Example.COM", true, ""},
		{"*.example.com", true, ""},
		{"xn--bcher-kva.example", true, ""},
		{"", false, "empty"},
		{"localhost", false, "full name"},
		{"*.com", false, "two labels"},
		{"a.*.example.com", false, "whole first label"},
		{"https://blog.example.com", false, "remove the scheme"},
		{"blog.example.com/api", false, "path prefix"},
		{"blog.example.com:8080", false, "remove the port"},
		{"10.0.0.1", false, "IP addresses"},
		{"[::1]", false, "IP addresses"},
		{"-blog.example.com", false, "hyphen"},
		{"blog..example.com", false, "empty label"},
		{"bücher.example", false, "xn--"},
		{"under_score.example.com", false, "letters, digits and hyphens"},
		{strings.Repeat("a", 64) + ".example.com", false, "63"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			err := ValidateDomain(tt.host)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidateDomain(%q) = %v, want nil", tt.host, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidDomain) {
				t.Fatalf("ValidateDomain(%q) = %v, want ErrInvalidDomain", tt.host, err)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("error %q lacks the hint %q", err, tt.hint)
			}
		})
	}
}

func TestCanonicalHost(t *testing.T) {
	for in, want := range map[string]string{
		"Blog.Example.COM:8000": "blog.example.com",
		"blog.example.com.":     "blog.example.com",
		"blog.example.com":      "blog.example.com",
		"[::1]:8000":            "::1",
		"[::1]":                 "::1",
		"127.0.0.1:80":          "127.0.0.1",
		"":                      "",
	} {
		if got := canonicalHost(in); got != want {
			t.Errorf("canonicalHost(%q) = %q, want %q", in, got, want)
		}
	}
}

package router

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestRouter_Serve_gracefulShutdown: when Serve's context ends, a request
// in flight finishes with 200, new connections are refused, and Serve
// returns nil.
func TestRouter_Serve_gracefulShutdown(t *testing.T) {
	up := startUpstream(t, "a")
	r, err := New(Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.SetRoutes([]Route{{App: "a", Upstreams: []string{up.addr}}}); err != nil {
		t.Fatal(err)
	}
	ln := listenLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx, ln, nil) }()

	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/slow?d=500ms", nil)
		req.Host = "a.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- result{resp.StatusCode, string(b), err}
	}()
	waitFor(t, "the slow request", func() bool { return inFlightTo(r, up.addr) == 1 })
	cancel()

	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	if res := <-slow; res.err != nil || res.status != 200 || res.body != "slow from a" {
		t.Errorf("request in flight at shutdown: %+v", res)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after a graceful shutdown", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		t.Error("still accepting after shutdown")
	}
}

func TestRouter_Drain_unknownUpstream(t *testing.T) {
	r, err := New(Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Drain(context.Background(), "10.9.9.9:80"); err != nil {
		t.Errorf("Drain of an address never routed = %v, want nil", err)
	}
}

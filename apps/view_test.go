package apps

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

func ctr(id, role, release, state, health string) runtime.Status {
	c := runtime.Status{Container: runtime.Container{ID: id, App: "a", Role: runtime.Role(role), Release: release}, State: state, Health: health}
	if role == "app" {
		c.HostPort = netip.MustParseAddrPort("127.0.0.1:4" + release + "00")
	}
	return c
}

func TestNewView_states(t *testing.T) {
	withDB := store.App{Name: "a", Database: &store.Database{Kind: "mysql"}}
	live := func(n uint64, id string) []store.Release {
		return []store.Release{{Number: n, Status: store.ReleaseLive, ContainerID: id}}
	}
	failed := []store.Release{{Number: 1, Status: store.ReleaseFailed, Error: "health check timed out"}}
	db := ctr("db", "db", "", "running", "")
	for _, tc := range []struct {
		name        string
		app         store.App
		cs          []runtime.Status
		rels        []store.Release
		busy, engOK bool
		state, db   string
		url         string
	}{
		{"running with database", withDB, []runtime.Status{ctr("c1", "app", "1", "running", ""), db}, live(1, "c1"), false, true, StateRunning, StateRunning, "http://a.localhost:4100"},
		{"the live container, not the newest", store.App{Name: "a"}, []runtime.Status{ctr("c1", "app", "1", "running", "healthy"), ctr("c2", "app", "2", "running", "starting")}, live(1, "c1"), false, true, StateHealthy, "", "http://a.localhost:4100"},
		{"before any release served, the newest", store.App{Name: "a"}, []runtime.Status{ctr("c2", "app", "2", "exited", ""), ctr("c9", "app", "9", "running", "unhealthy")}, nil, false, true, StateUnhealthy, "", ""},
		{"restarting", store.App{Name: "a"}, []runtime.Status{ctr("c1", "app", "1", "restarting", "")}, live(1, "c1"), false, true, StateRestarting, "", ""},
		{"stopped", withDB, []runtime.Status{ctr("c1", "app", "1", "exited", ""), ctr("db", "db", "", "exited", "")}, live(1, "c1"), false, true, StateStopped, StateStopped, ""},
		{"database missing", withDB, []runtime.Status{ctr("c1", "app", "1", "running", "")}, live(1, "c1"), false, true, StateRunning, StateMissing, "http://a.localhost:4100"},
		{"first deploy failed", store.App{Name: "a"}, nil, failed, false, true, StateFailed, "", ""},
		{"never deployed", store.App{Name: "a"}, nil, nil, false, true, StateNew, "", ""},
		{"containers gone", store.App{Name: "a"}, nil, live(2, "gone"), false, true, StateMissing, "", ""},
		{"deploying keeps the live URL", store.App{Name: "a"}, []runtime.Status{ctr("c1", "app", "1", "running", ""), ctr("c2", "app", "2", "running", "")}, live(1, "c1"), true, true, StateDeploying, "", "http://a.localhost:4100"},
		{"engine down", withDB, nil, live(1, "c1"), false, false, StateUnknown, StateUnknown, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewView(tc.app, tc.cs, tc.rels, tc.busy, tc.engOK, nil)
			if v.State != tc.state || v.DBState != tc.db {
				t.Errorf("state %q db %q; want %q %q", v.State, v.DBState, tc.state, tc.db)
			}
			if v.URL != tc.url {
				t.Errorf("URL %q; want %q", v.URL, tc.url)
			}
			if v.StateText == "" {
				t.Error("no state text")
			}
		})
	}
}

// TestNewView_routerURL: behind the router the URL is the app's stable
// address while the live release runs, whatever port it publishes.
func TestNewView_routerURL(t *testing.T) {
	urls := []string{"http://a.localhost:8000", "https://a.example.com"}
	v := NewView(store.App{Name: "a"}, []runtime.Status{ctr("c1", "app", "1", "running", "")}, []store.Release{{Number: 1, Status: store.ReleaseLive, ContainerID: "c1"}}, false, true, urls)
	if v.URL != urls[0] || len(v.URLs) != 2 {
		t.Fatalf("URL %q URLs %v", v.URL, v.URLs)
	}
	stopped := NewView(store.App{Name: "a"}, []runtime.Status{ctr("c1", "app", "1", "exited", "")}, []store.Release{{Number: 1, Status: store.ReleaseLive, ContainerID: "c1"}}, false, true, urls)
	if stopped.URL != "" || len(stopped.URLs) != 2 {
		t.Fatalf("a stopped app: URL %q (want none), URLs %v (want both)", stopped.URL, stopped.URLs)
	}
}

func TestNewView_releases(t *testing.T) {
	rels := []store.Release{{Number: 3, Status: store.ReleaseFailed}, {Number: 2, Status: store.ReleaseLive}, {Number: 1, Status: store.ReleaseSuperseded}}
	v := NewView(store.App{Name: "a"}, nil, rels, false, true, nil)
	if v.Last == nil || v.Last.Number != 3 || v.Live == nil || v.Live.Number != 2 {
		t.Fatalf("last %+v live %+v", v.Last, v.Live)
	}
}

// TestListCache: concurrent misses share one engine call, the answer is
// reused for a moment, and invalidate makes the next get ask again.
func TestListCache(t *testing.T) {
	var c listCache
	calls := 0
	var mu sync.Mutex
	release := make(chan struct{})
	fetch := func(ctx context.Context) ([]runtime.Status, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		<-release
		return []runtime.Status{{}}, nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.get(context.Background(), fetch) }() //nolint
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if calls != 1 {
		t.Fatalf("%d engine calls for 8 concurrent misses; want 1", calls)
	}
	c.get(context.Background(), fetch)
	if calls != 1 {
		t.Fatalf("a fresh answer was not reused: %d calls", calls)
	}
	c.invalidate()
	c.get(context.Background(), fetch)
	if calls != 2 {
		t.Fatalf("after invalidate: %d calls; want 2", calls)
	}
}

// TestHostPortURL: an app published on loopback is linked by a name of
// its own, never on the dashboard's host (127.0.0.1, localhost), whose
// session cookie the browser would send it.
func TestHostPortURL(t *testing.T) {
	for _, tc := range []struct{ hostPort, want string }{
		{"127.0.0.1:4100", "http://blog.localhost:4100"},
		{"[::1]:4100", "http://blog.localhost:4100"},
		{"192.0.2.7:4100", "http://192.0.2.7:4100"},
	} {
		if got := hostPortURL("blog", tc.hostPort); got != tc.want {
			t.Errorf("hostPortURL(%q) = %q; want %q", tc.hostPort, got, tc.want)
		}
	}
}

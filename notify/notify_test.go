package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

func openStore(t *testing.T) *store.Store {
	st, err := store.Open(filepath.Join(t.TempDir(), "kaj.db"), store.Options{Key: bytes.Repeat([]byte{7}, store.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func addTarget(t *testing.T, st *store.Store, n store.NotifyTarget) store.NotifyTarget {
	t.Helper()
	var out store.NotifyTarget
	if err := st.Update(func(tx *store.Tx) (err error) { out, err = tx.PutNotifyTarget(n); return err }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSend_kinds(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]byte{}
	sigs := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.URL.Path], sigs[r.URL.Path] = b, r.Header.Get(SignatureHeader)
		mu.Unlock()
	}))
	defer srv.Close()
	st := openStore(t)
	n := New(st, Options{})
	e := Event{Kind: DeployFailed, App: "blog", Title: "deploy of blog failed", Detail: "health"}
	for _, tc := range []struct {
		kind, path, field string
	}{{store.NotifyWebhook, "/generic", "kind"}, {store.NotifySlack, "/slack", "text"}, {store.NotifyDiscord, "/discord", "content"}} {
		tg := addTarget(t, st, store.NotifyTarget{Kind: tc.kind, URL: srv.URL + tc.path, Secret: "k"})
		if tg.URL == srv.URL+tc.path {
			t.Errorf("%s: the stored URL reads back in full", tc.kind)
		}
		if err := n.Send(context.Background(), tg.ID, e); err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		var m map[string]any
		json.Unmarshal(got[tc.path], &m)
		if m[tc.field] == nil {
			t.Errorf("%s: body %s lacks %q", tc.kind, got[tc.path], tc.field)
		}
	}
	if sigs["/generic"] != Sign("k", got["/generic"]) || sigs["/slack"] != "" {
		t.Fatalf("signatures %v", sigs)
	}
}

// TestNotify_neverBlocks: a dead target and a full queue cost the caller
// nothing; the failure is recorded on the target.
func TestNotify_neverBlocks(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block; w.WriteHeader(500) }))
	defer srv.Close()
	defer close(block)
	st := openStore(t)
	tg := addTarget(t, st, store.NotifyTarget{Kind: store.NotifyWebhook, URL: srv.URL})
	n := New(st, Options{Queue: 2, Client: &http.Client{Timeout: 200 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	start := time.Now()
	for i := 0; i < 100; i++ {
		n.Notify(Event{Kind: DeploySucceeded, App: "a"})
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Notify took %s for 100 events", d)
	}
	if n.Dropped() == 0 {
		t.Fatal("a full queue dropped nothing")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var ts []store.NotifyTarget
		st.View(func(tx *store.Tx) (err error) { ts, err = tx.NotifyTargets(); return err })
		if len(ts) == 1 && ts[0].ID == tg.ID && ts[0].LastError != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failure was not recorded: %+v", ts)
		}
	}
}

type fakeEvents struct{ evs []runtime.ContainerEvent }

func (f fakeEvents) WatchEvents(ctx context.Context, emit func(runtime.ContainerEvent)) error {
	for _, e := range f.evs {
		emit(e)
	}
	<-ctx.Done()
	return nil
}

func TestWatch_crashAndLoop(t *testing.T) {
	st := openStore(t)
	n := New(st, Options{Queue: 16})
	t0 := time.Unix(1000, 0)
	die := func(id string, code int, at time.Duration) runtime.ContainerEvent {
		return runtime.ContainerEvent{Action: "die", Container: id, App: "blog", Role: runtime.RoleApp, ExitCode: code, Time: t0.Add(at)}
	}
	src := fakeEvents{evs: []runtime.ContainerEvent{
		die("a", 0, 0), die("a", 143, time.Second), // stopped by kaj: no news
		die("b", 3, 0), die("b", 3, 10*time.Second), die("b", 3, 20*time.Second), die("b", 3, 30*time.Second),
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	n.Watch(ctx, src, DefaultLoop, time.Hour)
	var kinds []Kind
	for len(n.q) > 0 {
		kinds = append(kinds, (<-n.q).Kind)
	}
	want := []Kind{AppCrashed, AppCrashed, AppRestarting}
	if len(kinds) != len(want) {
		t.Fatalf("notifications %v; want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("notifications %v; want %v", kinds, want)
		}
	}
}

package deploy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// watched is setup with a stability window and a router.
func watched(t *testing.T) (*Deployer, *fakeRuntime, *store.Store, *fakeRouter) {
	t.Helper()
	d, rt, st := setup(t)
	d.opts.StableFor = time.Hour // the fake's window ends when the test says
	fr := &fakeRouter{ups: map[string][]string{}}
	d.opts.Router = fr
	return d, rt, st, fr
}

func has(rt *fakeRuntime, id string) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	_, ok := rt.containers[id]
	return ok
}

func settle(t *testing.T, d *Deployer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestWatch_liveFirstThenRetire: the release goes live, and its deploy
// returns, at the first passing check; the container it replaces stays
// up, unrouted, until the window has passed, and is drained and removed
// then.
func TestWatch_liveFirstThenRetire(t *testing.T) {
	d, rt, st, fr := watched(t)
	ctx := context.Background()
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	first := fr.ups["blog"]
	setImage(t, st, "good:2")
	rt.watchBlock = make(chan struct{})
	r2, err := d.Deploy(ctx, "blog", "t", nil)
	if err != nil || r2.Status != store.ReleaseLive {
		t.Fatalf("deploy 2: %+v %v", r2, err)
	}
	fr.mu.Lock()
	routed := fr.ups["blog"]
	fr.mu.Unlock()
	if len(routed) != 1 || routed[0] == first[0] {
		t.Fatalf("route %v when the deploy returned; want the new container", routed)
	}
	if !has(rt, "blog-r1") || !d.watched("blog") || d.Busy("blog") {
		t.Fatal("during the window: want the replaced container kept and the app watched, live, not busy")
	}
	close(rt.watchBlock)
	settle(t, d)
	if has(rt, "blog-r1") || len(fr.drained) != 1 || fr.drained[0] != first[0] {
		t.Fatalf("after the window: r1 there %v, drained %v; want r1 drained and removed", has(rt, "blog-r1"), fr.drained)
	}
	rels, _ := st.Releases("blog", 0)
	last := rels[0].Steps[len(rels[0].Steps)-1]
	if rels[0].Status != store.ReleaseLive || last.Name != StepWatch || last.Status != jobs.StatusSucceeded {
		t.Fatalf("release 2 after its watch: %s, last step %+v", rels[0].Status, last)
	}
}

// TestWatch_crashRoutesBack: a container that passes its check and exits
// inside the window sends the route back to the container it replaced,
// which never stopped; its release fails, the one before serves again,
// and the trail and the Reverted hook say so.
func TestWatch_crashRoutesBack(t *testing.T) {
	d, rt, st, fr := watched(t)
	ctx := context.Background()
	var mu sync.Mutex
	var reverted []string
	d.opts.Reverted = func(app string, release uint64, detail string) {
		mu.Lock()
		defer mu.Unlock()
		reverted = append(reverted, detail)
	}
	rt.watchErr = func(img string) error {
		if strings.Contains(img, "crashy") {
			return errors.New("exited with code 7")
		}
		return nil
	}
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	first := fr.ups["blog"]
	setImage(t, st, "crashy:2")
	if r2, err := d.Deploy(ctx, "blog", "t", nil); err != nil || r2.Status != store.ReleaseLive {
		t.Fatalf("deploy 2 went live at its first check, so it succeeds: %+v %v", r2, err)
	}
	settle(t, d)
	if got := fr.ups["blog"]; len(got) != 1 || got[0] != first[0] {
		t.Fatalf("route after the crash %v; want back on %v", got, first)
	}
	if has(rt, "blog-r2") || !has(rt, "blog-r1") {
		t.Fatalf("r2 there %v, r1 there %v; want the crashed one removed and the old one kept", has(rt, "blog-r2"), has(rt, "blog-r1"))
	}
	rels, _ := st.Releases("blog", 0)
	if rels[0].Status != store.ReleaseFailed || rels[1].Status != store.ReleaseLive {
		t.Fatalf("releases %s, %s; want 2 failed, 1 live again", rels[0].Status, rels[1].Status)
	}
	for _, want := range []string{"went live, then exited with code 7", "route went back", "panic: no such file"} {
		if !strings.Contains(rels[0].Error, want) {
			t.Errorf("release error %q; want it to say %q", rels[0].Error, want)
		}
	}
	events, _ := st.Events(0, 5)
	if len(events) == 0 || events[0].Action != store.ActionDeployFail || !strings.Contains(events[0].Detail, "release 2") {
		t.Fatalf("newest event %+v; want deploy.fail for release 2", events)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reverted) != 1 || !strings.Contains(reverted[0], "exited with code 7") {
		t.Fatalf("Reverted heard %q", reverted)
	}
	// The next deploy starts from release 1 serving, as if 2 never was.
	setImage(t, st, "good:3")
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	if has(rt, "blog-r1") || !has(rt, "blog-r3") {
		t.Fatal("deploy 3 did not replace release 1")
	}
}

// TestWatch_operationsWait: an operation on an app whose release is
// being watched waits for the watch instead of failing busy.
func TestWatch_operationsWait(t *testing.T) {
	d, rt, st, _ := watched(t)
	ctx := context.Background()
	rt.watchBlock = make(chan struct{})
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	setImage(t, st, "good:2")
	done := make(chan error, 1)
	go func() { _, err := d.Deploy(ctx, "blog", "t", nil); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("deploy 2 ended (%v) while release 1 was still watched", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(rt.watchBlock)
	if err := <-done; err != nil {
		t.Fatalf("deploy 2 after the watch: %v", err)
	}
	settle(t, d)
}

package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/runtime"
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

// deployed deploys blog's current definition, waits out its window and
// returns the route it left.
func deployed(t *testing.T, d *Deployer, fr *fakeRouter) []string {
	t.Helper()
	if _, err := d.Deploy(context.Background(), "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	return fr.ups["blog"]
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
	first := deployed(t, d, fr)
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
	d.opts.Reverted = func(app, title, detail string) {
		mu.Lock()
		defer mu.Unlock()
		reverted = append(reverted, title+": "+detail)
	}
	rt.watchErr = func(img string) error {
		if strings.Contains(img, "crashy") {
			return errors.New("exited with code 7")
		}
		return nil
	}
	first := deployed(t, d, fr)
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
	if len(reverted) != 1 || !strings.Contains(reverted[0], "release 2 of blog was reverted: ") || !strings.Contains(reverted[0], "exited with code 7") {
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

// TestWatch_rollbackSettlesAfterWindow: a rollback's definition goes
// back on the app only once the window passed; one that fails it leaves
// the app's definition as it was.
func TestWatch_rollbackSettlesAfterWindow(t *testing.T) {
	d, rt, st, _ := watched(t)
	ctx := context.Background()
	var restored []string
	d.opts.Restored = func(a store.App) { restored = append(restored, a.Image) }
	for _, img := range []string{"good:1", "good:2"} {
		setImage(t, st, img)
		if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
			t.Fatal(err)
		}
		settle(t, d)
	}
	// Release 1 served once; now its image crashes a moment after it
	// answers (a dependency it needs has gone, say).
	rt.watchErr = func(img string) error {
		if strings.HasSuffix(img, "good:1") { // a rollback runs the digest
			return errors.New("exited with code 7")
		}
		return nil
	}
	rb, err := d.Rollback(ctx, "blog", 1, "t", nil)
	if err != nil || rb.Status != store.ReleaseLive {
		t.Fatalf("rollback to 1 went live at its first check: %+v %v", rb, err)
	}
	settle(t, d)
	if a, _ := st.App("blog"); a.Image != "good:2" || len(restored) != 0 {
		t.Fatalf("after a rollback that failed its window the app's image is %s (restored %v); want good:2 untouched", a.Image, restored)
	}
	rels, _ := st.Releases("blog", 0)
	if rels[0].Status != store.ReleaseFailed || rels[1].Number != 2 || rels[1].Status != store.ReleaseLive {
		t.Fatalf("releases after the failed rollback: %+v", rels)
	}
	// A rollback that lasts puts its definition back, and says so.
	rt.watchErr = nil
	if _, err := d.Rollback(ctx, "blog", 1, "t", nil); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	if a, _ := st.App("blog"); a.Image != "good:1" || len(restored) != 1 || restored[0] != "good:1" {
		t.Fatalf("after a rollback to 1 that lasted: image %s, Restored heard %v", a.Image, restored)
	}
}

// TestWatch_keepOneRelease: with one release kept, the release a new one
// supersedes is pruned only once the window passed, so a revert has it
// to serve again.
func TestWatch_keepOneRelease(t *testing.T) {
	d, rt, st, _ := watched(t)
	d.opts.KeepReleases = 1
	ctx := context.Background()
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	rt.watchErr = func(img string) error {
		if strings.Contains(img, "crashy") {
			return errors.New("exited with code 7")
		}
		return nil
	}
	setImage(t, st, "crashy:2")
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	rels, _ := st.Releases("blog", 0)
	if len(rels) != 2 || rels[1].Number != 1 || rels[1].Status != store.ReleaseLive {
		t.Fatalf("releases after a revert with one kept: %+v; want release 1 there and live", rels)
	}
	setImage(t, st, "good:3")
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	if rels, _ := st.Releases("blog", 0); len(rels) != 1 || rels[0].Number != 3 {
		t.Fatalf("releases after release 3 lasted: %+v; want it alone", rels)
	}
}

// TestWatch_restartRevert: a restart whose new container fails its
// window goes back to the container the release recorded, and the trail
// has app.restart.fail.
func TestWatch_restartRevert(t *testing.T) {
	d, rt, st, fr := watched(t)
	ctx := context.Background()
	first := deployed(t, d, fr)
	before, _ := st.Releases("blog", 0)
	rt.watchErr = func(string) error { return errors.New("exited with code 7") }
	if err := d.Restart(ctx, "blog", "t"); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	rels, _ := st.Releases("blog", 0)
	if rels[0].Status != store.ReleaseLive || rels[0].ContainerID != "blog-r1" || len(rels[0].Steps) != len(before[0].Steps) {
		t.Fatalf("release after a reverted restart: %s serving %s, %d steps (%d before); want live on blog-r1, no step added", rels[0].Status, rels[0].ContainerID, len(rels[0].Steps), len(before[0].Steps))
	}
	if got := fr.ups["blog"]; len(got) != 1 || got[0] != first[0] || !has(rt, "blog-r1") {
		t.Fatalf("route %v after the reverted restart; want back on %v", got, first)
	}
	events, _ := st.Events(0, 3)
	var failed bool
	for _, e := range events {
		failed = failed || e.Action == store.ActionRestartFail && strings.Contains(e.Detail, "exited with code 7")
	}
	if !failed {
		t.Fatalf("newest events %+v; want app.restart.fail", events)
	}
}

// flakyEngine fails the watch's first wait the way a hung engine does.
type flakyEngine struct {
	*fakeRuntime
	failed bool
}

func (f *flakyEngine) WaitHealthy(ctx context.Context, c runtime.Container, opts runtime.HealthOptions) error {
	if opts.StableFor > 0 && !f.failed {
		f.failed = true
		// As runtime.Docker's WaitHealthy says it when an inspect fails.
		return fmt.Errorf("waiting for %s: %w: reading its state: context deadline exceeded", c.Name, runtime.ErrEngineTimeout)
	}
	return f.fakeRuntime.WaitHealthy(ctx, c, opts)
}

// TestWatch_engineErrorIsNoVerdict: an engine that does not answer once
// during the window does not revert a release; the watch asks again.
func TestWatch_engineErrorIsNoVerdict(t *testing.T) {
	d, rt, st, fr := watched(t)
	fe := &flakyEngine{fakeRuntime: rt}
	d.rt = fe
	ctx := context.Background()
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	rels, _ := st.Releases("blog", 0)
	if !fe.failed || rels[0].Status != store.ReleaseLive || len(fr.ups["blog"]) != 1 {
		t.Fatalf("after an engine timeout in the window: engine failed %v, release %s, route %v; want live and routed", fe.failed, rels[0].Status, fr.ups["blog"])
	}
}

// TestReconcile_removesWhatTheLiveReleaseDoesNotServe: a restart killed
// during its window leaves two containers of the live release; the one
// it records serving stays, the other goes.
func TestReconcile_removesWhatTheLiveReleaseDoesNotServe(t *testing.T) {
	d, rt, st := setup(t)
	ctx := context.Background()
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	// What a killed restart leaves: a second container of release 1,
	// recorded as the one serving.
	c, _ := rt.StartApp(ctx, runtime.AppSpec{App: "blog", Release: "1", Image: "good:1"})
	if err := st.Update(func(tx *store.Tx) error {
		r, err := tx.Release("blog", 1)
		if err != nil {
			return err
		}
		r.ContainerID = c.ID
		_, err = tx.UpdateRelease(r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	removed, err := d.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !has(rt, c.ID) || has(rt, "blog-r1") || len(removed) != 1 || removed[0].ID != "blog-r1" {
		t.Fatalf("removed %+v; want blog-r1 gone and %s kept", removed, c.ID)
	}
}

// goneEngine answers a watch's wait as runtime.Docker does when the
// container was removed behind kaj's back.
type goneEngine struct{ *fakeRuntime }

func (g goneEngine) WaitHealthy(ctx context.Context, c runtime.Container, opts runtime.HealthOptions) error {
	if opts.StableFor > 0 {
		return fmt.Errorf("waiting for %s: %w", c.Name, runtime.ErrNotFound)
	}
	return g.fakeRuntime.WaitHealthy(ctx, c, opts)
}

// TestWatch_goneIsAVerdict: a container removed during its window is a
// failed release, and the route goes back at once.
func TestWatch_goneIsAVerdict(t *testing.T) {
	d, rt, st, fr := watched(t)
	ctx := context.Background()
	first := deployed(t, d, fr)
	d.rt = goneEngine{rt}
	setImage(t, st, "good:2")
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	rels, _ := st.Releases("blog", 0)
	if rels[0].Status != store.ReleaseFailed || rels[1].Status != store.ReleaseLive || fr.ups["blog"][0] != first[0] {
		t.Fatalf("releases %s, %s, route %v; want 2 failed and the route back on %v", rels[0].Status, rels[1].Status, fr.ups["blog"], first)
	}
}

// TestReconcile_settlesAWatchKajDidNotSeeEnd: a rollback live with its
// window unsettled when kaj stopped has its definition put back at the
// next start, unless the app was edited meanwhile.
func TestReconcile_settlesAWatchKajDidNotSeeEnd(t *testing.T) {
	d, _, st := setup(t)
	ctx := context.Background()
	for _, img := range []string{"good:1", "good:2"} {
		setImage(t, st, img)
		if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
			t.Fatal(err)
		}
	}
	// What a kaj stopped during a rollback's window leaves: release 3
	// live, running release 1's definition, unsettled.
	a, _ := st.App("blog")
	if err := st.Update(func(tx *store.Tx) error {
		rels, err := tx.Releases("blog", 0)
		if err != nil {
			return err
		}
		r, err := tx.CreateRelease(store.Release{App: "blog", Rollback: 1, CreatedBy: "t"})
		if err != nil {
			return err
		}
		r.Status, r.Image, r.Definition, r.Unsettled = store.ReleaseLive, "good:1", rels[1].Definition, &store.Unsettled{AppVersion: a.Version}
		if _, err := tx.UpdateRelease(r); err != nil {
			return err
		}
		rels[0].Status = store.ReleaseSuperseded
		_, err = tx.UpdateRelease(rels[0])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.App("blog"); a.Image != "good:1" {
		t.Fatalf("after reconcile the app's image is %s; want release 1's, good:1", a.Image)
	}
	if r, _ := st.Release("blog", 3); r.Unsettled != nil {
		t.Fatal("release 3 is still unsettled after reconcile")
	}
}

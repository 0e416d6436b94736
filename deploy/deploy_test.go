package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// fakeRuntime keeps containers in a map; health answers come from
// healthy, by image.
type fakeRuntime struct {
	mu         sync.Mutex
	containers map[string]runtime.Status
	removed    []string
	healthy    func(image string) error
	started    chan struct{} // closed-over signal: a StartApp happened
	block      chan struct{} // when set, WaitHealthy waits on it
	// watchErr and watchBlock do for a stability window's wait (one
	// with StableFor > 0) what healthy and block do for the first check.
	watchErr   func(image string) error
	watchBlock chan struct{}
	orphans    []runtime.Object
	n          int
	calls      []string
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{containers: map[string]runtime.Status{}, healthy: func(string) error { return nil }}
}

func (f *fakeRuntime) EnsureNetwork(ctx context.Context, app string, labels map[string]string) (string, error) {
	return "kaj-" + app, nil
}
func (f *fakeRuntime) EnsureDatabase(ctx context.Context, spec runtime.DatabaseSpec) (runtime.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := runtime.Container{ID: "db-" + spec.App, Name: "kaj-" + spec.App + "-db", App: spec.App, Role: runtime.RoleDB}
	f.containers[c.ID] = runtime.Status{Container: c, State: "running"}
	return c, nil
}
func (f *fakeRuntime) WaitDatabase(ctx context.Context, db runtime.Container, opts runtime.WaitOptions) error {
	return nil
}
func (f *fakeRuntime) StartApp(ctx context.Context, spec runtime.AppSpec) (runtime.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	c := runtime.Container{ID: spec.App + "-r" + spec.Release, Name: "kaj-" + spec.App + "-r" + spec.Release, App: spec.App, Role: runtime.RoleApp, Release: spec.Release, Image: spec.Image,
		IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(f.n)})}
	if _, taken := f.containers[c.ID]; taken { // a restart: same release
		c.ID = fmt.Sprintf("%s-%d", c.ID, f.n)
	}
	f.containers[c.ID] = runtime.Status{Container: c, State: "running"}
	if f.started != nil {
		close(f.started)
		f.started = nil
	}
	return c, nil
}
func (f *fakeRuntime) WaitHealthy(ctx context.Context, c runtime.Container, opts runtime.HealthOptions) error {
	if opts.StableFor > 0 {
		if f.watchBlock != nil {
			<-f.watchBlock
		}
		if f.watchErr != nil {
			if err := f.watchErr(c.Image); err != nil {
				return &runtime.WaitError{Name: c.Name, Reason: err.Error(), Exited: true, ExitCode: 7, Logs: []string{"panic: no such file"}}
			}
		}
		return nil
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := f.healthy(c.Image); err != nil {
		return &runtime.WaitError{Name: c.Name, Reason: err.Error(), Logs: []string{"boom line"}, Err: err}
	}
	return nil
}
func (f *fakeRuntime) Start(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "start "+id)
	if s, ok := f.containers[id]; ok {
		s.State = "running"
		f.containers[id] = s
	}
	return nil
}
func (f *fakeRuntime) Stop(ctx context.Context, id string, grace time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "stop "+id)
	if s, ok := f.containers[id]; ok {
		s.State = "exited"
		f.containers[id] = s
	}
	return nil
}
func (f *fakeRuntime) Restart(ctx context.Context, id string, grace time.Duration) error { return nil }
func (f *fakeRuntime) Remove(ctx context.Context, id string, deleteData bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
	f.removed = append(f.removed, id)
	return nil
}
func (f *fakeRuntime) RemoveApp(ctx context.Context, app string, deleteData bool) error { return nil }
func (f *fakeRuntime) ListAll(ctx context.Context, labels map[string]string) ([]runtime.Status, error) {
	return f.List(ctx, "")
}
func (f *fakeRuntime) List(ctx context.Context, app string) ([]runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.Status
	for _, s := range f.containers {
		if app == "" || s.App == app {
			out = append(out, s)
		}
	}
	// The runtime's order: by app, app containers before the database.
	sort.Slice(out, func(i, j int) bool {
		return out[i].App+"\x00"+string(out[i].Role)+"\x00"+out[i].Name < out[j].App+"\x00"+string(out[j].Role)+"\x00"+out[j].Name
	})
	return out, nil
}
func (f *fakeRuntime) Reconcile(ctx context.Context, known func(app, release string) bool) ([]runtime.Object, error) {
	var out []runtime.Object
	for _, o := range f.orphans {
		if !known(o.App, o.Release) {
			out = append(out, o)
		}
	}
	return out, nil
}
func (f *fakeRuntime) RemoveObject(ctx context.Context, o runtime.Object) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, o.ID)
	return nil
}

type fakeImages struct{}

func (fakeImages) Local(ctx context.Context, ref string) (*registry.LocalImage, error) {
	if strings.HasPrefix(ref, "missing") {
		return nil, &registry.Error{Kind: registry.ErrLocalImageNotFound}
	}
	if strings.HasPrefix(ref, "sha256:") { // an image ID names itself
		return &registry.LocalImage{ID: ref}, nil
	}
	return &registry.LocalImage{ID: "sha256:" + ref}, nil
}
func (fakeImages) Resolve(ctx context.Context, ref string) (*registry.Image, error) {
	return nil, &registry.Error{Kind: registry.ErrUnavailable}
}
func (fakeImages) Pull(ctx context.Context, ref string, progress registry.ProgressFunc) (*registry.PullResult, error) {
	return nil, &registry.Error{Kind: registry.ErrUnknownRepository, Registry: "example"}
}

func setup(t *testing.T) (*Deployer, *fakeRuntime, *store.Store) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "kaj.db"), store.Options{Key: bytes.Repeat([]byte{3}, store.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rt := newFakeRuntime()
	// No stability window: these tests see a deploy's whole effect when
	// it returns (watch_test.go tests the window).
	d := New(st, rt, fakeImages{}, Options{PublishIP: netip.MustParseAddr("127.0.0.1"), Labels: map[string]string{"owner": "a"}, StableFor: -1})
	_, err = st.CreateApp(store.App{
		Name: "blog", Image: "good:1", Port: 5000,
		Env:      []store.EnvVar{{Name: "SECRET_KEY", Value: "s3cret", Secret: true}},
		Database: &store.Database{Kind: "mysql", Image: "mysql:8", Alias: "dbserver", Name: "blog", User: "blog", Volume: "blog-data", Password: "pw"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, rt, st
}

func setImage(t *testing.T, st *store.Store, image string) {
	t.Helper()
	a, _ := st.App("blog")
	a.Image = image
	if _, err := st.UpdateApp(a); err != nil {
		t.Fatal(err)
	}
}

func TestDeploy_failureKeepsPrevious(t *testing.T) {
	d, rt, st := setup(t)
	rt.healthy = func(img string) error {
		if strings.Contains(img, "bad") {
			return errors.New("health check answered 500")
		}
		return nil
	}
	r1, err := d.Deploy(context.Background(), "blog", "ann", nil)
	if err != nil || r1.Status != store.ReleaseLive {
		t.Fatalf("first deploy: %+v %v", r1, err)
	}
	setImage(t, st, "bad:2")
	var events []jobs.Event
	r2, err := d.Deploy(context.Background(), "blog", "ann", func(e jobs.Event) { events = append(events, e) })
	if err == nil || r2.Status != store.ReleaseFailed || !strings.Contains(r2.Error, "500") {
		t.Fatalf("bad deploy: %+v %v", r2, err)
	}
	if _, ok := rt.containers["blog-r1"]; !ok {
		t.Fatal("the live container was removed by a failed deploy")
	}
	if _, ok := rt.containers["blog-r2"]; ok {
		t.Fatal("the failed attempt's container was left behind")
	}
	var sawLog bool
	for _, e := range events {
		sawLog = sawLog || e.Type == jobs.TypeLog && len(e.Lines) == 1
	}
	if !sawLog {
		t.Fatalf("no log tail in %+v", events)
	}
	rels, _ := st.Releases("blog", 0)
	if rels[0].Status != store.ReleaseFailed || rels[1].Status != store.ReleaseLive {
		t.Fatalf("releases %+v", rels)
	}
	last := rels[0].Steps[len(rels[0].Steps)-1]
	if last.Name != StepHealth || last.Status != jobs.StatusFailed {
		t.Fatalf("last step %+v", last)
	}
}

func TestDeploy_switchRemovesPrevious(t *testing.T) {
	d, rt, st := setup(t)
	d.Deploy(context.Background(), "blog", "ann", nil)
	setImage(t, st, "good:2")
	r, err := d.Deploy(context.Background(), "blog", "ann", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rt.containers["blog-r1"]; ok {
		t.Fatal("the previous release's container is still there")
	}
	rels, _ := st.Releases("blog", 0)
	if rels[0].Number != r.Number || rels[0].Status != store.ReleaseLive || rels[1].Status != store.ReleaseSuperseded {
		t.Fatalf("releases %+v", rels)
	}
}

func TestDeploy_oneAtATime(t *testing.T) {
	d, rt, _ := setup(t)
	rt.block = make(chan struct{})
	started := make(chan struct{})
	rt.started = started
	done := make(chan error)
	go func() { _, err := d.Deploy(context.Background(), "blog", "ann", nil); done <- err }()
	<-started
	if _, err := d.Deploy(context.Background(), "blog", "bob", nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("second deploy err = %v; want ErrBusy", err)
	}
	if err := d.Stop(context.Background(), "blog", "bob"); !errors.Is(err, ErrBusy) {
		t.Fatalf("stop during deploy err = %v; want ErrBusy", err)
	}
	close(rt.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d.Busy("blog") {
		t.Fatal("still busy after the deploy")
	}
}

func TestDeploy_canceledCleansUp(t *testing.T) {
	d, rt, st := setup(t)
	rt.block = make(chan struct{})
	started := make(chan struct{})
	rt.started = started
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := d.Deploy(ctx, "blog", "ann", nil); done <- err }()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(rt.containers) != 1 { // the database
		t.Fatalf("containers after cancel: %v", rt.containers)
	}
	rels, _ := st.Releases("blog", 0)
	if rels[0].Status != store.ReleaseFailed {
		t.Fatalf("canceled release: %+v", rels[0])
	}
}

func TestDeploy_imageErrors(t *testing.T) {
	d, _, st := setup(t)
	setImage(t, st, "missing:1")
	r, err := d.Deploy(context.Background(), "blog", "ann", nil)
	if !errors.Is(err, registry.ErrUnknownRepository) || r.Status != store.ReleaseFailed || r.Steps[0].Name != StepImage {
		t.Fatalf("deploy of a missing image: %+v %v", r, err)
	}
}

func TestRollback(t *testing.T) {
	d, _, st := setup(t)
	if _, err := d.Rollback(context.Background(), "blog", 0, "ann", nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("rollback with no history: %v", err)
	}
	d.Deploy(context.Background(), "blog", "ann", nil) // 1: good:1
	setImage(t, st, "good:2")
	a, _ := st.App("blog")
	a.Env = []store.EnvVar{{Name: "SECRET_KEY", Value: "rotated", Secret: true}}
	st.UpdateApp(a)
	d.Deploy(context.Background(), "blog", "ann", nil) // 2: good:2
	r, err := d.Rollback(context.Background(), "blog", 0, "ann", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rollback != 1 || r.Digest != "sha256:good:1" || r.Status != store.ReleaseLive {
		t.Fatalf("rollback release %+v", r)
	}
	var env map[string]string
	st.View(func(tx *store.Tx) (err error) { env, err = tx.RevealRelease("blog", r.Number); return err })
	if env["SECRET_KEY"] != "s3cret" {
		t.Fatalf("rollback env secret = %q; want release 1's", env["SECRET_KEY"])
	}
}

func TestReconcile(t *testing.T) {
	d, rt, st := setup(t)
	d.Deploy(context.Background(), "blog", "ann", nil)
	if _, err := st.CreateRelease(store.Release{App: "blog"}); err != nil { // a deploy a crash cut short
		t.Fatal(err)
	}
	mine := map[string]string{"owner": "a"}
	rt.orphans = []runtime.Object{
		{Kind: runtime.KindContainer, ID: "blog-r2", App: "blog", Release: "2", Labels: mine},
		{Kind: runtime.KindContainer, ID: "blog-r1", App: "blog", Release: "1", Labels: mine},
		{Kind: runtime.KindContainer, ID: "gone-r1", App: "gone", Release: "1", Labels: mine},
		{Kind: runtime.KindVolume, ID: "gone-data", App: "gone", Labels: mine},
		{Kind: runtime.KindContainer, ID: "other-kaj", App: "x", Release: "1", Labels: map[string]string{"owner": "b"}},
	}
	removed, err := d.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range removed {
		ids = append(ids, o.ID)
	}
	if strings.Join(ids, ",") != "blog-r2" {
		t.Fatalf("removed %v; want the interrupted release's container only (an unknown app may be another kaj's)", ids)
	}
	rels, _ := st.Releases("blog", 0)
	if rels[0].Status != store.ReleaseInterrupted {
		t.Fatalf("pending release is %s", rels[0].Status)
	}
}

func TestDeploy_fixedHostPort(t *testing.T) {
	d, rt, st := setup(t)
	a, _ := st.App("blog")
	a.HostPort = 18080
	if _, err := st.UpdateApp(a); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deploy(context.Background(), "blog", "ann", nil); err != nil {
		t.Fatal(err)
	}
	rt.healthy = func(img string) error {
		if strings.Contains(img, "bad") {
			return errors.New("unhealthy")
		}
		return nil
	}
	setImage(t, st, "bad:2")
	if _, err := d.Deploy(context.Background(), "blog", "ann", nil); err == nil {
		t.Fatal("bad deploy succeeded")
	}
	// The serving container made way for the new one, and came back.
	if got := strings.Join(rt.calls, ","); got != "stop blog-r1,start blog-r1" {
		t.Fatalf("calls = %s", got)
	}
	if rt.containers["blog-r1"].State != "running" {
		t.Fatal("the previous release is not running again")
	}
}

// movingImages has the tag locally from a registry, and the registry now
// names another image.
type movingImages struct {
	pulled *bool
}

func (m movingImages) Local(ctx context.Context, ref string) (*registry.LocalImage, error) {
	return &registry.LocalImage{ID: "sha256:old", Digests: []string{"reg.example/app@sha256:aaa"}}, nil
}
func (m movingImages) Resolve(ctx context.Context, ref string) (*registry.Image, error) {
	return &registry.Image{Digest: "sha256:bbb"}, nil
}
func (m movingImages) Pull(ctx context.Context, ref string, progress registry.ProgressFunc) (*registry.PullResult, error) {
	*m.pulled = true
	progress(registry.Progress{Layer: "sha256:l", Done: 1, Total: 1})
	return &registry.PullResult{Image: &registry.Image{ID: "sha256:new", Digest: "sha256:bbb", Ref: registry.Reference{Registry: "reg.example", Repository: "app", Tag: "1"}}}, nil
}

func TestDeploy_movedTagIsPulled(t *testing.T) {
	_, rt, st := setup(t)
	pulled := false
	d := New(st, rt, movingImages{pulled: &pulled}, Options{})
	r, err := d.Deploy(context.Background(), "blog", "ann", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !pulled || r.Digest != "reg.example/app:1@sha256:bbb" {
		t.Fatalf("pulled %v, digest %q; want the registry's new image", pulled, r.Digest)
	}
}

// fakeRouter records switches and drains; fail makes the next switch fail.
type fakeRouter struct {
	mu      sync.Mutex
	ups     map[string][]string
	drained []string
	fail    error
}

func (r *fakeRouter) Serve(app string, ups []string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	prev := r.ups[app]
	r.ups[app] = ups
	return prev, nil
}
func (r *fakeRouter) Drain(ctx context.Context, up string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drained = append(r.drained, up)
	return nil
}

// TestDeploy_switchesRouteThenDrains: the route moves to the new
// container only once it is healthy, the old upstream is drained, and a
// route that cannot be switched fails the deploy with the old release
// still serving.
func TestDeploy_switchesRouteThenDrains(t *testing.T) {
	d, rt, st := setup(t)
	fr := &fakeRouter{ups: map[string][]string{}}
	d.opts.Router = fr
	ctx := context.Background()
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	first := fr.ups["blog"]
	if len(first) != 1 || !strings.HasSuffix(first[0], ":5000") {
		t.Fatalf("route after the first deploy: %v", first)
	}
	setImage(t, st, "good:2")
	if _, err := d.Deploy(ctx, "blog", "t", nil); err != nil {
		t.Fatal(err)
	}
	if fr.ups["blog"][0] == first[0] || len(fr.drained) != 1 || fr.drained[0] != first[0] {
		t.Fatalf("route %v, drained %v; want the new upstream and the old one drained", fr.ups["blog"], fr.drained)
	}
	serving := fr.ups["blog"]
	fr.fail = errors.New("domain taken")
	setImage(t, st, "good:3")
	rel, err := d.Deploy(ctx, "blog", "t", nil)
	if err == nil || rel.Status != store.ReleaseFailed || !strings.Contains(rel.Error, "switching the route") {
		t.Fatalf("deploy with a failing switch: %v, %+v", err, rel)
	}
	cs, _ := rt.List(ctx, "blog")
	apps := 0
	for _, c := range cs {
		if c.Role == runtime.RoleApp {
			apps++
			if c.Release != "2" {
				t.Fatalf("container of release %s left after a failed switch", c.Release)
			}
		}
	}
	if apps != 1 || fr.ups["blog"][0] != serving[0] {
		t.Fatalf("%d app containers, route %v; want release 2 alone, still routed", apps, fr.ups["blog"])
	}
}

// TestReconcile_startsWhatAFixedPortRunStopped: a deploy killed after it
// stopped the serving container for the port, and a restart killed the
// same way, leave that container to start again; a restart's own new
// container of the live release goes first, since it holds the port.
func TestReconcile_startsWhatAFixedPortRunStopped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart bool
	}{{"deploy", false}, {"restart", true}} {
		t.Run(tc.name, func(t *testing.T) {
			d, rt, st := setup(t)
			if _, err := d.Deploy(context.Background(), "blog", "ann", nil); err != nil {
				t.Fatal(err)
			}
			rt.Stop(context.Background(), "blog-r1", 0)
			err := st.Update(func(tx *store.Tx) error {
				var r store.Release
				var err error
				if tc.restart {
					if r, err = tx.Release("blog", 1); err != nil {
						return err
					}
				} else if r, err = tx.CreateRelease(store.Release{App: "blog"}); err != nil {
					return err
				}
				r.Stopped = []string{"blog-r1"}
				_, err = tx.UpdateRelease(r)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.restart {
				c := runtime.Container{ID: "blog-r1-new", Name: "kaj-blog-r1-new", App: "blog", Role: runtime.RoleApp, Release: "1"}
				rt.containers[c.ID] = runtime.Status{Container: c, State: "running"}
			}
			rt.calls = nil
			if _, err := d.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			if rt.containers["blog-r1"].State != "running" {
				t.Fatalf("the live release's container is %s; calls %v", rt.containers["blog-r1"].State, rt.calls)
			}
			if _, left := rt.containers["blog-r1-new"]; left {
				t.Fatal("the interrupted restart's container was left holding the port")
			}
			rels, _ := st.Releases("blog", 0)
			for _, r := range rels {
				if len(r.Stopped) != 0 {
					t.Fatalf("release %d still lists stopped containers %v", r.Number, r.Stopped)
				}
			}
		})
	}
}

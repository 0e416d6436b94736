package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// fakeCluster is a swarm whose rolling updates finish at once: a deploy
// replaces every task, a rollback brings the previous ones back.
type fakeCluster struct {
	mu        sync.Mutex
	nodes     int
	svc       *runtime.ServiceSpec
	prev      *runtime.ServiceSpec
	update    string
	updated   time.Time
	db        *runtime.DatabaseSpec
	dbPending bool
	tasks     []runtime.Task
	seq       int
	scaled    map[runtime.Role]int
	removed   bool
}

func newFakeCluster(nodes int) *fakeCluster {
	return &fakeCluster{nodes: nodes, scaled: map[runtime.Role]int{}}
}

func (f *fakeCluster) Swarm(ctx context.Context) (runtime.SwarmInfo, error) {
	return runtime.SwarmInfo{Manager: true, NodeID: "n1", Nodes: f.nodes}, nil
}
func (f *fakeCluster) EnsureOverlay(ctx context.Context, app string, labels map[string]string) (string, error) {
	return "net-" + app, nil
}
func (f *fakeCluster) EnsureDatabaseService(ctx context.Context, spec runtime.DatabaseSpec) (runtime.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.db = &spec
	state := "running"
	if f.dbPending {
		state = "pending"
	}
	f.tasks = append(f.tasks, runtime.Task{ID: "db", App: spec.App, Role: runtime.RoleDB, Slot: 1, Node: "node1", State: state, Desired: "running"})
	return runtime.Service{ID: "dbsvc", Name: "kaj-" + spec.App + "-db", Role: runtime.RoleDB, Replicas: 1}, nil
}

// start replaces the app tasks with spec's: one per replica, each on its
// own node and port.
func (f *fakeCluster) start(spec runtime.ServiceSpec) {
	var keep []runtime.Task
	for _, t := range f.tasks {
		if t.Role == runtime.RoleApp {
			continue
		}
		keep = append(keep, t)
	}
	for i := range spec.Replicas {
		f.seq++
		keep = append(keep, runtime.Task{
			Created: time.Now(),
			ID:      "t" + strconv.Itoa(f.seq), App: spec.App, Role: runtime.RoleApp, Release: spec.Release, Slot: i + 1,
			Node: fmt.Sprintf("node%d", i%f.nodes+1), State: "running", Desired: "running",
			HostPort: netip.MustParseAddrPort(fmt.Sprintf("10.0.0.%d:%d", i%f.nodes+1, 30000+f.seq)),
		})
	}
	f.tasks = keep
}

func (f *fakeCluster) DeployService(ctx context.Context, spec runtime.ServiceSpec) (runtime.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.svc != nil {
		f.prev, f.update, f.updated = f.svc, "completed", time.Now()
	}
	f.svc = &spec
	f.start(spec)
	return f.service(), nil
}
func (f *fakeCluster) service() runtime.Service {
	return runtime.Service{ID: "svc", Name: "kaj-" + f.svc.App, Role: runtime.RoleApp, Release: f.svc.Release, Image: f.svc.Image, Replicas: f.svc.Replicas, Update: f.update, UpdateStarted: f.updated, Previous: f.prev != nil}
}
func (f *fakeCluster) AppService(ctx context.Context, app string) (runtime.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.svc == nil {
		return runtime.Service{}, fmt.Errorf("service kaj-%s: %w", app, runtime.ErrNotFound)
	}
	return f.service(), nil
}
func (f *fakeCluster) Tasks(ctx context.Context, app string) ([]runtime.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tasks), nil
}
func (f *fakeCluster) ScaleService(ctx context.Context, app string, role runtime.Role, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scaled[role] = n
	if role == runtime.RoleApp && f.svc != nil {
		f.svc.Replicas = n
		f.start(*f.svc)
	}
	return nil
}
func (f *fakeCluster) ForceUpdateService(ctx context.Context, app string, role runtime.Role) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.start(*f.svc)
	return nil
}
func (f *fakeCluster) RollbackService(ctx context.Context, app string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.prev == nil {
		return errors.New("no previous spec")
	}
	f.svc, f.prev, f.update, f.updated = f.prev, nil, "rollback_completed", time.Now()
	f.start(*f.svc)
	return nil
}
func (f *fakeCluster) RemoveService(ctx context.Context, app string, role runtime.Role) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if role == runtime.RoleApp {
		f.svc = nil
		f.tasks = slices.DeleteFunc(f.tasks, func(t runtime.Task) bool { return t.Role == runtime.RoleApp })
	}
	return nil
}
func (f *fakeCluster) RemoveSwarmApp(ctx context.Context, app, volume string, deleteData bool) error {
	f.removed = true
	return nil
}
func (f *fakeCluster) PendingReason(ctx context.Context, t runtime.Task, volume string) string {
	if t.State != "pending" {
		return ""
	}
	return "database task cannot be placed: node node2 holding volume " + volume + " is down (active); bring it back or restore a backup"
}

// swarmRouter records what the route serves.
type swarmRouter struct {
	mu      sync.Mutex
	ups     map[string][]string
	drained []string
}

func (r *swarmRouter) Serve(app string, ups []string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.ups[app]
	r.ups[app] = slices.Clone(ups)
	return prev, nil
}
func (r *swarmRouter) Drain(ctx context.Context, up string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drained = append(r.drained, up)
	return nil
}
func (r *swarmRouter) serving(app string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ups[app])
}

// pushImages is fakeImages that can also push.
type pushImages struct {
	fakeImages
	pushed []string
}

func (p *pushImages) Push(ctx context.Context, local, target string, progress registry.ProgressFunc) (*registry.PushResult, error) {
	p.pushed = append(p.pushed, local+" -> "+target)
	ref, err := registry.ParseReference(target)
	if err != nil {
		return nil, err
	}
	return &registry.PushResult{Ref: ref, Digest: "sha256:" + strings.Repeat("a", 64)}, nil
}

func swarmSetup(t *testing.T, nodes int, img Images, pushTo string) (*Deployer, *fakeCluster, *swarmRouter, *store.Store) {
	t.Helper()
	d, _, st := setup(t)
	c := newFakeCluster(nodes)
	r := &swarmRouter{ups: map[string][]string{}}
	if img == nil {
		img = fakeImages{}
	}
	// The probe fails the tasks of an image named bad.
	probe := func(ctx context.Context, addr, path string) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, t := range c.tasks {
			if t.HostPort.String() == addr && c.svc != nil && strings.Contains(c.svc.Image, "bad") && t.Release == c.svc.Release {
				return errors.New("GET /healthz answered 500")
			}
		}
		return nil
	}
	d = New(st, d.rt, img, Options{Cluster: c, Router: r, Probe: probe, PushTo: pushTo, HealthTimeout: 300 * time.Millisecond, Labels: map[string]string{"com.example.team": "a"}})
	a, _ := st.App("blog")
	a.Replicas = 3
	if _, err := st.UpdateApp(a); err != nil {
		t.Fatal(err)
	}
	return d, c, r, st
}

func TestSwarmDeploy_routesEveryReplica(t *testing.T) {
	d, c, r, _ := swarmSetup(t, 1, nil, "")
	rel, err := d.Deploy(context.Background(), "blog", "ann", nil)
	if err != nil || rel.Status != store.ReleaseLive {
		t.Fatalf("deploy: %+v %v", rel, err)
	}
	if got := r.serving("blog"); len(got) != 3 {
		t.Fatalf("route serves %v, want the 3 replicas", got)
	}
	if c.svc.Image != "good:1" || c.svc.Replicas != 3 || c.svc.Env["DB_HOST"] != "dbserver" {
		t.Fatalf("service spec %+v", c.svc)
	}
	if c.db == nil || c.db.Volume != "blog-data" {
		t.Fatalf("database spec %+v", c.db)
	}
	if rel.Definition == nil || rel.Definition.Replicas != 3 {
		t.Fatalf("the release does not record its replicas: %+v", rel.Definition)
	}
	var names []string
	for _, s := range rel.Steps {
		names = append(names, s.Name)
	}
	if want := []string{StepImage, StepNetwork, StepDatabase, StepStart, StepHealth, StepSwitch}; !slices.Equal(names, want) {
		t.Fatalf("steps %v, want %v", names, want)
	}
}

func TestSwarmDeploy_failureRollsBack(t *testing.T) {
	d, c, r, st := swarmSetup(t, 1, nil, "")
	if _, err := d.Deploy(context.Background(), "blog", "ann", nil); err != nil {
		t.Fatal(err)
	}
	before := r.serving("blog")
	setImage(t, st, "bad:2")
	rel, err := d.Deploy(context.Background(), "blog", "ann", nil)
	if err == nil || rel.Status != store.ReleaseFailed {
		t.Fatalf("bad deploy: %+v %v", rel, err)
	}
	if c.svc.Image != "good:1" || c.svc.Release != "1" {
		t.Fatalf("the service was not rolled back: %+v", c.svc)
	}
	after := r.serving("blog")
	if len(after) != 3 || slices.Equal(after, before) {
		// The fake rollback starts fresh tasks of release 1.
		t.Fatalf("route after rollback %v (before %v)", after, before)
	}
	rels, _ := st.Releases("blog", 0)
	if rels[0].Status != store.ReleaseFailed || rels[1].Status != store.ReleaseLive {
		t.Fatalf("releases %+v", rels)
	}
}

func TestSwarmDeploy_imageForTheNodes(t *testing.T) {
	t.Run("no registry", func(t *testing.T) {
		d, _, _, _ := swarmSetup(t, 3, nil, "")
		rel, err := d.Deploy(context.Background(), "blog", "ann", nil)
		if !errors.Is(err, ErrNoPushTarget) || !strings.Contains(rel.Error, "push_to") {
			t.Fatalf("deploy of a manager-only image on 3 nodes: %v (%s)", err, rel.Error)
		}
	})
	t.Run("push_to", func(t *testing.T) {
		img := &pushImages{}
		d, c, _, _ := swarmSetup(t, 3, img, "10.0.0.1:5000/kaj")
		rel, err := d.Deploy(context.Background(), "blog", "ann", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(img.pushed) == 0 || !strings.HasSuffix(img.pushed[0], "-> 10.0.0.1:5000/kaj/"+d.Names("blog").Network+":r1") {
			t.Fatalf("pushed %v", img.pushed)
		}
		want := "10.0.0.1:5000/kaj/" + d.Names("blog").Network + "@sha256:" + strings.Repeat("a", 64)
		if c.svc.Image != want || rel.Digest != want {
			t.Fatalf("service runs %s, release records %s; want %s", c.svc.Image, rel.Digest, want)
		}
	})
	t.Run("one node", func(t *testing.T) {
		d, c, _, _ := swarmSetup(t, 1, nil, "")
		if _, err := d.Deploy(context.Background(), "blog", "ann", nil); err != nil {
			t.Fatal(err)
		}
		if c.svc.Image != "good:1" {
			t.Fatalf("a one-node swarm runs %s, want the engine's good:1", c.svc.Image)
		}
	})
}

func TestSwarm_stopStart(t *testing.T) {
	d, c, r, _ := swarmSetup(t, 1, nil, "")
	if _, err := d.Deploy(context.Background(), "blog", "ann", nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(context.Background(), "blog", "ann"); err != nil {
		t.Fatal(err)
	}
	if len(r.serving("blog")) != 0 || c.scaled[runtime.RoleApp] != 0 || c.svc.Replicas != 0 {
		t.Fatalf("after stop: route %v, service %+v", r.serving("blog"), c.svc)
	}
	if err := d.Start(context.Background(), "blog", "ann"); err != nil {
		t.Fatal(err)
	}
	if len(r.serving("blog")) != 3 || c.scaled[runtime.RoleDB] != 1 {
		t.Fatalf("after start: route %v, scaled %v", r.serving("blog"), c.scaled)
	}
	cs, err := d.Containers(context.Background(), "blog")
	if err != nil || len(cs) != 4 {
		t.Fatalf("containers %+v %v", cs, err)
	}
}

func TestSwarm_strandedDatabase(t *testing.T) {
	d, c, _, st := swarmSetup(t, 2, &pushImages{}, "10.0.0.1:5000/kaj")
	c.dbPending = true
	rel, err := d.Deploy(context.Background(), "blog", "ann", nil)
	if err == nil || !strings.Contains(rel.Error, "bring it back or restore a backup") {
		t.Fatalf("deploy with the database's node down: %v (%s)", err, rel.Error)
	}
	d.followOnce(context.Background())
	d.followOnce(context.Background())
	if p := d.Problem("blog"); !strings.Contains(p, "node2") {
		t.Fatalf("problem %q", p)
	}
	evs, err := st.Events(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == store.ActionDBStranded && e.Target == "blog" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d stranded events, want exactly 1", n)
	}
}

func TestHTTPProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(204)
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/":
			w.WriteHeader(404)
		default:
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		path string
		ok   bool
	}{{"/healthz", true}, {"/moved", true}, {"/broken", false}, {"", true}} {
		err := HTTPProbe(context.Background(), addr, tc.path, time.Second)
		if (err == nil) != tc.ok {
			t.Errorf("probe %q: %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
	if err := HTTPProbe(context.Background(), "127.0.0.1:1", "/healthz", time.Second); err == nil {
		t.Error("a closed port passed")
	}
}

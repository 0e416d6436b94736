package swarm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/moby/moby/api/types/swarm"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/internal/testutil/swarmtest"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

func TestMain(m *testing.M) { swarmtest.Main(m) }

// appImage is the test app with a health check of its own, pushed to the
// cluster's registry: swarm counts a task running only once it answers,
// so a start-first update keeps the replaced task until then.
func appImage(t testing.TB, c *swarmtest.Cluster, env *testutil.Env, repo string, extra ...string) string {
	t.Helper()
	layer, err := testutil.TestAppLayer()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testutil.Image(testutil.ImageConfig{
		Entrypoint: []string{"/testapp"}, Env: append([]string{"PORT=8080"}, extra...),
		ExposedPorts: []string{"8080/tcp"}, Labels: env.Labels(),
	}, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Healthcheck = &v1.HealthConfig{
		Test:     []string{"CMD", "/testapp", "check", "http://127.0.0.1:8080/healthz"},
		Interval: time.Second, Timeout: 2 * time.Second, Retries: 3,
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := repo + ":" + env.ID
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := daemon.Write(tag, img, daemon.WithClient(env.Client), daemon.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	return c.PushImage(t, ref)
}

// startKaj runs kaj on the cluster's manager in swarm mode.
func startKaj(t testing.TB, c *swarmtest.Cluster, env *testutil.Env) *kajtest.Kaj {
	t.Helper()
	return kajtest.Start(t, env, func(cfg *config.Config) {
		cfg.Docker.Host = c.Manager()
		cfg.Runtime.Mode = config.RuntimeSwarm
		cfg.Registry.Insecure = []string{c.Registry()}
		cfg.Deploy.HealthTimeout = config.Duration(90 * time.Second)
		cfg.Deploy.DatabaseTimeout = config.Duration(2 * time.Minute)
	})
}

// createApp makes an app through the API and removes it, its services,
// network and data when the test ends.
func createApp(t testing.TB, k *kajtest.Kaj, body map[string]any) string {
	t.Helper()
	return createAppData(t, k, body, true)
}

// createAppData is createApp deleting the data at the end, or not.
func createAppData(t testing.TB, k *kajtest.Kaj, body map[string]any, deleteData bool) string {
	t.Helper()
	c := k.Login(t)
	if code, b := c.Do("POST", "/api/v1/apps", body); code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	app := body["name"].(string)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := k.Deployer.Delete(ctx, app, deleteData, "test"); err != nil {
			t.Errorf("deleting %s: %v", app, err)
		}
	})
	return app
}

func deploy(t testing.TB, k *kajtest.Kaj, app string) store.Release {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	start := time.Now()
	rel, err := k.Deployer.Deploy(ctx, app, "test", nil)
	if err != nil {
		for _, s := range rel.Steps {
			t.Logf("step %s %s: %s", s.Name, s.Status, s.Detail)
		}
		host := k.Config.Docker.Host
		for _, svc := range []string{k.Engine.AppServiceName(app), k.Engine.DatabaseServiceName(app)} {
			out, _ := exec.Command("docker", "-H", host, "service", "ps", "--no-trunc", svc).CombinedOutput()
			t.Logf("service ps %s:\n%s", svc, out)
		}
		t.Fatalf("deploy %s: %v", app, err)
	}
	t.Logf("deploy of %s release %d took %s", app, rel.Number, time.Since(start).Round(time.Millisecond))
	return rel
}

// visit GETs path of app through kaj's router.
func visit(k *kajtest.Kaj, app, path string) (int, string, error) {
	u, _ := url.Parse(k.RouterURL)
	req, _ := http.NewRequest("GET", k.RouterURL+path, nil)
	req.Host = app + ".localhost:" + u.Port()
	resp, err := kajtest.Visitor.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// hostname is the answering container's host name, from the test app's
// /env: its container ID's first 12 digits.
func hostname(t *testing.T, k *kajtest.Kaj, app string) string {
	t.Helper()
	code, body, err := visit(k, app, "/env")
	if err != nil || code != 200 {
		t.Fatalf("GET /env through the router: %d %v %s", code, err, body)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	return env["HOSTNAME"]
}

func tasks(t *testing.T, k *kajtest.Kaj, app string) []runtime.Task {
	t.Helper()
	ts, err := k.Engine.Tasks(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// runningApp maps the running app tasks' container host names to their
// nodes.
func runningApp(t *testing.T, k *kajtest.Kaj, app string) map[string]string {
	out := map[string]string{}
	for _, ts := range tasks(t, k, app) {
		if ts.Role == runtime.RoleApp && ts.Serving() && len(ts.ContainerID) >= 12 {
			out[ts.ContainerID[:12]] = ts.Node
		}
	}
	return out
}

// mariadb runs a statement in the database's container on the manager.
func mariadb(t *testing.T, c *swarmtest.Cluster, k *kajtest.Kaj, app, sql string) string {
	t.Helper()
	var id string
	for _, ts := range tasks(t, k, app) {
		if ts.Role == runtime.RoleDB && ts.Serving() {
			id = ts.ContainerID
		}
	}
	if id == "" {
		t.Fatal("no running database task")
	}
	user := strings.ReplaceAll(app, "-", "_")
	a, err := k.Store.RevealApp(app)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("docker", "-H", c.Manager(), "exec", id, "mariadb", "-u", user, "-p"+a.DatabasePassword, "-N", "-B", user, "-e", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestSwarm_replicasAndDatabase: an app of 3 replicas with a MariaDB
// database deploys through kaj across the three nodes, answers through the
// router from every replica, and its database keeps its data and its node
// across a redeploy and a stop and start.
func TestSwarm_replicasAndDatabase(t *testing.T) {
	c := swarmtest.Shared(t)
	env := testutil.NewEnv(t)
	img := appImage(t, c, env, "kaj-swarm-app", "VERSION=v1")
	dbImg := c.PushImage(t, env.MariaDBImage())
	k := startKaj(t, c, env)
	app := createApp(t, k, map[string]any{
		"name": env.Name("rep"), "image": img, "port": 8080, "health_path": "/healthz", "replicas": 3,
		"database": map[string]any{"kind": "mariadb", "image": dbImg},
	})
	rel := deploy(t, k, app)
	if rel.Definition == nil || rel.Definition.Replicas != 3 {
		t.Fatalf("release definition %+v", rel.Definition)
	}
	// Swarm (dockerd 20.10) reports the database task running only once
	// its health check passes: the database step waited for exactly that.
	for _, ts := range tasks(t, k, app) {
		if ts.Role == runtime.RoleDB && ts.Serving() {
			out, err := exec.Command("docker", "-H", c.Manager(), "inspect", "-f", "{{.State.Health.Status}}", ts.ContainerID).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "healthy" {
				t.Fatalf("database container health: %v %s", err, out)
			}
		}
	}
	var view struct {
		State      string `json:"state"`
		DBState    string `json:"db_state"`
		URL        string `json:"url"`
		Containers []struct {
			Name    string `json:"name"`
			Serving bool   `json:"serving"`
		} `json:"containers"`
	}
	if code := k.Login(t).JSON("GET", "/api/v1/apps/"+app, nil, &view); code != 200 || view.State != "running" || view.DBState != "running" || view.URL == "" || len(view.Containers) != 4 {
		t.Fatalf("the app's view: %d %+v", code, view)
	}
	serving := 0
	for _, c := range view.Containers {
		if c.Serving {
			serving++
		}
	}
	if serving != 3 {
		t.Fatalf("%d tasks marked serving in %+v, want the 3 replicas", serving, view.Containers)
	}
	want := runningApp(t, k, app)
	nodes := map[string]bool{}
	for _, n := range want {
		nodes[n] = true
	}
	if len(want) != 3 || len(nodes) < 2 {
		t.Fatalf("running tasks %v: want 3 across the nodes", want)
	}
	seen := map[string]bool{}
	for i := 0; i < 60 && len(seen) < 3; i++ {
		h := hostname(t, k, app)
		if _, ok := want[h]; !ok {
			t.Fatalf("answered by %q, none of the tasks %v", h, want)
		}
		seen[h] = true
	}
	if len(seen) != 3 {
		t.Fatalf("answers came from %v, want all of %v", seen, want)
	}
	t.Logf("every replica answered: %v", want)

	dbNode := func() string {
		for _, ts := range tasks(t, k, app) {
			if ts.Role == runtime.RoleDB && ts.Serving() {
				return ts.NodeID
			}
		}
		return ""
	}
	node0 := dbNode()
	if node0 != c.Nodes()[0].NodeID {
		t.Fatalf("database on node %s, want the manager %s that holds its volume", node0, c.Nodes()[0].NodeID)
	}
	mariadb(t, c, k, app, "CREATE TABLE notes (n TEXT); INSERT INTO notes VALUES ('kept')")

	deploy(t, k, app)
	if got := mariadb(t, c, k, app, "SELECT n FROM notes"); got != "kept" || dbNode() != node0 {
		t.Fatalf("after a redeploy: %q on node %s", got, dbNode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := k.Deployer.Stop(ctx, app, "test"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := visit(k, app, "/env"); code != 503 {
		t.Fatalf("a stopped app answers %d, want 503", code)
	}
	if err := k.Deployer.Start(ctx, app, "test"); err != nil {
		t.Fatal(err)
	}
	if got := mariadb(t, c, k, app, "SELECT n FROM notes"); got != "kept" || dbNode() != node0 {
		t.Fatalf("after stop and start: %q on node %s", got, dbNode())
	}
	if h := hostname(t, k, app); h == "" {
		t.Fatal("no answer after start")
	}
}

// load sends rate requests a second to app through the router until
// stop is closed, and counts the answers that were not 200.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	wg         sync.WaitGroup
}

func startLoad(k *kajtest.Kaj, app string, rate int, stop <-chan struct{}) *load {
	l := &load{}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				code, body, err := visit(k, app, "/env")
				if err == nil && code == 200 {
					l.ok.Add(1)
					return
				}
				l.failed.Add(1)
				l.mu.Lock()
				if len(l.errs) < 10 {
					l.errs = append(l.errs, fmt.Sprintf("%d %v %.100s", code, err, body))
				}
				l.mu.Unlock()
			}()
		}
	}()
	return l
}

// TestSwarm_rollingUpdateUnderLoad: at 50 requests a second through the
// router, two rolling updates of a 3-replica app lose no request.
func TestSwarm_rollingUpdateUnderLoad(t *testing.T) {
	c := swarmtest.Shared(t)
	env := testutil.NewEnv(t)
	img := appImage(t, c, env, "kaj-swarm-roll")
	k := startKaj(t, c, env)
	app := createApp(t, k, map[string]any{
		"name": env.Name("roll"), "image": img, "port": 8080, "health_path": "/healthz", "replicas": 3,
		"env": []map[string]any{{"name": "VERSION", "value": "v1"}},
	})
	deploy(t, k, app)
	stop := make(chan struct{})
	l := startLoad(k, app, 50, stop)
	for _, v := range []string{"v2", "v3"} {
		a, err := k.Store.App(app)
		if err != nil {
			t.Fatal(err)
		}
		a.Env = []store.EnvVar{{Name: "VERSION", Value: v}}
		if _, err := k.Store.UpdateApp(a); err != nil {
			t.Fatal(err)
		}
		deploy(t, k, app)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	l.wg.Wait()
	t.Logf("%d requests answered, %d failed during two rolling updates", l.ok.Load(), l.failed.Load())
	if l.failed.Load() != 0 {
		t.Fatalf("%d requests failed: %v", l.failed.Load(), l.errs)
	}
	if l.ok.Load() < 100 {
		t.Fatalf("only %d requests made", l.ok.Load())
	}
	_, body, _ := visit(k, app, "/env")
	if !strings.Contains(body, `"VERSION":"v3"`) {
		t.Fatalf("after the updates: %s", body)
	}
}

// TestSwarm_workerLost: a worker running one of the app's tasks stops;
// swarm moves the task to the other nodes and the app keeps answering
// through the router.
func TestSwarm_workerLost(t *testing.T) {
	c := swarmtest.Shared(t)
	env := testutil.NewEnv(t)
	img := appImage(t, c, env, "kaj-swarm-lost")
	k := startKaj(t, c, env)
	app := createApp(t, k, map[string]any{
		"name": env.Name("lost"), "image": img, "port": 8080, "health_path": "/healthz", "replicas": 3,
	})
	deploy(t, k, app)
	victim := -1
	for _, ts := range tasks(t, k, app) {
		if i := c.NodeByID(ts.NodeID); i > 0 && ts.Serving() {
			victim = i
			break
		}
	}
	if victim < 0 {
		t.Fatal("no app task on a worker")
	}
	if err := c.StopNode(victim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.StartNode(victim); err != nil {
			t.Errorf("restarting node %d: %v", victim, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := c.WaitNode(ctx, victim, swarm.NodeStateReady); err != nil {
			t.Errorf("node %d back: %v", victim, err)
		}
	})
	victimID := c.Nodes()[victim].NodeID
	deadline := time.Now().Add(3 * time.Minute)
	for {
		moved := 0
		for _, ts := range tasks(t, k, app) {
			if ts.Role == runtime.RoleApp && ts.Serving() && ts.NodeID != victimID {
				moved++
			}
		}
		if moved == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tasks did not move off the stopped node: %+v", tasks(t, k, app))
		}
		time.Sleep(time.Second)
	}
	// The route drops the lost task and takes the new one.
	time.Sleep(3 * time.Second)
	want := runningApp(t, k, app)
	seen := map[string]bool{}
	for i := 0; i < 40; i++ {
		h := hostname(t, k, app)
		if _, ok := want[h]; !ok {
			t.Fatalf("answered by %q, none of the running tasks %v", h, want)
		}
		seen[h] = true
	}
	if len(seen) != 3 {
		t.Fatalf("answers from %v, want the 3 tasks %v", seen, want)
	}
}

// TestSwarm_databaseStranded: a database whose volume lives on a worker
// stays there when that worker stops, and kaj says so loudly, with what
// to do; when the worker is back, the database runs there again.
func TestSwarm_databaseStranded(t *testing.T) {
	c := swarmtest.Shared(t)
	env := testutil.NewEnv(t)
	img := appImage(t, c, env, "kaj-swarm-strand")
	dbImg := c.PushImage(t, env.MariaDBImage())
	k := startKaj(t, c, env)
	name := env.Name("strand")
	volume := k.Engine.Names(name).Volume
	worker := c.Nodes()[1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// The volume is on the worker: as if the database had first run there.
	label := exec.Command("docker", "-H", c.Manager(), "node", "update", "--label-add", runtime.LabelVolumeNode+volume+"=true", worker.NodeID)
	if out, err := label.CombinedOutput(); err != nil {
		t.Fatalf("labelling the worker: %v %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("docker", "-H", c.Manager(), "node", "update", "--label-rm", runtime.LabelVolumeNode+volume, worker.NodeID).Run()
		for i := 0; i < 60; i++ {
			if err := exec.Command("docker", "-H", worker.Host, "volume", "rm", volume).Run(); err == nil {
				return
			}
			time.Sleep(time.Second)
		}
		t.Errorf("volume %s left on %s", volume, worker.Hostname)
	})
	app := createAppData(t, k, map[string]any{
		"name": name, "image": img, "port": 8080, "health_path": "/healthz", "replicas": 2,
		"database": map[string]any{"kind": "mariadb", "image": dbImg},
	}, false)
	deploy(t, k, app)
	for _, ts := range tasks(t, k, app) {
		if ts.Role == runtime.RoleDB && ts.Serving() && ts.NodeID != worker.NodeID {
			t.Fatalf("database runs on %s, not on %s which holds its volume", ts.Node, worker.Hostname)
		}
	}
	if err := c.StopNode(1); err != nil {
		t.Fatal(err)
	}
	stopped := true
	t.Cleanup(func() {
		if stopped {
			c.StartNode(1)
			c.WaitNode(context.Background(), 1, swarm.NodeStateReady)
		}
	})
	want := "node " + worker.Hostname + " holding volume " + volume + " is down"
	for k.Deployer.Problem(app) == "" {
		if ctx.Err() != nil {
			t.Fatalf("kaj did not report the stranded database; tasks %+v", tasks(t, k, app))
		}
		time.Sleep(time.Second)
	}
	if p := k.Deployer.Problem(app); !strings.Contains(p, want) || !strings.Contains(p, "bring it back or restore a backup") {
		t.Fatalf("problem %q, want it to say %q and what to do", p, want)
	}
	var view struct {
		Problem string `json:"problem"`
		DBText  string `json:"db_text"`
	}
	if code := k.Login(t).JSON("GET", "/api/v1/apps/"+app, nil, &view); code != 200 || !strings.Contains(view.Problem, want) || view.DBText != view.Problem {
		t.Fatalf("the app's view: %d %+v", code, view)
	}
	evs, err := k.Store.Events(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		found = found || e.Action == store.ActionDBStranded && e.Target == app && strings.Contains(e.Detail, want)
	}
	if !found {
		t.Fatal("no database.stranded event")
	}
	t.Logf("reported: %s", k.Deployer.Problem(app))
	if err := c.StartNode(1); err != nil {
		t.Fatal(err)
	}
	stopped = false
	if err := c.WaitNode(ctx, 1, swarm.NodeStateReady); err != nil {
		t.Fatal(err)
	}
	for {
		back := false
		for _, ts := range tasks(t, k, app) {
			back = back || ts.Role == runtime.RoleDB && ts.Serving() && ts.NodeID == worker.NodeID
		}
		if back && k.Deployer.Problem(app) == "" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the database did not return to %s: %+v (problem %q)", worker.Hostname, tasks(t, k, app), k.Deployer.Problem(app))
		}
		time.Sleep(time.Second)
	}
}

// TestSwarm_failedUpdateRollsBack: a release whose tasks never turn
// healthy is rolled back by swarm; kaj records it failed and the previous
// release serves throughout, without a lost request.
func TestSwarm_failedUpdateRollsBack(t *testing.T) {
	c := swarmtest.Shared(t)
	env := testutil.NewEnv(t)
	img := appImage(t, c, env, "kaj-swarm-fail")
	k := startKaj(t, c, env)
	app := createApp(t, k, map[string]any{
		"name": env.Name("fail"), "image": img, "port": 8080, "health_path": "/healthz", "replicas": 2,
		"env": []map[string]any{{"name": "VERSION", "value": "good"}},
	})
	deploy(t, k, app)
	stop := make(chan struct{})
	l := startLoad(k, app, 20, stop)
	a, err := k.Store.App(app)
	if err != nil {
		t.Fatal(err)
	}
	a.Env = []store.EnvVar{{Name: "VERSION", Value: "bad"}, {Name: "HEALTH_STATUS", Value: "500"}}
	if _, err := k.Store.UpdateApp(a); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	start := time.Now()
	rel, err := k.Deployer.Deploy(ctx, app, "test", nil)
	t.Logf("failed deploy took %s: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || rel.Status != store.ReleaseFailed {
		t.Fatalf("deploy of an unhealthy release: %+v %v", rel.Status, err)
	}
	// Swarm finishes the rollback; the route stays on the good tasks.
	for {
		sv, err := k.Engine.AppService(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		if sv.Update == "rollback_completed" && sv.Release == "1" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("service after the failed deploy: %+v", sv)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	l.wg.Wait()
	t.Logf("%d requests answered, %d failed during the failed update", l.ok.Load(), l.failed.Load())
	if l.failed.Load() != 0 {
		t.Fatalf("%d requests failed: %v", l.failed.Load(), l.errs)
	}
	if _, body, _ := visit(k, app, "/env"); !strings.Contains(body, `"VERSION":"good"`) {
		t.Fatalf("after the rollback: %s", body)
	}
	rels, _ := k.Store.Releases(app, 0)
	if rels[0].Status != store.ReleaseFailed || rels[1].Status != store.ReleaseLive {
		t.Fatalf("releases: %s then %s", rels[0].Status, rels[1].Status)
	}
	// The rolled-back service restarts and takes the next good release
	// (the swarm's word on the old update does not fail the new one).
	before := runningApp(t, k, app)
	if err := k.Deployer.Restart(ctx, app, "test"); err != nil {
		t.Fatal(err)
	}
	for h := range runningApp(t, k, app) {
		if _, ok := before[h]; ok {
			t.Fatalf("task %s survived the restart", h)
		}
	}
	if a, err = k.Store.App(app); err != nil {
		t.Fatal(err)
	}
	a.Env = []store.EnvVar{{Name: "VERSION", Value: "fixed"}}
	if _, err := k.Store.UpdateApp(a); err != nil {
		t.Fatal(err)
	}
	deploy(t, k, app)
	if _, body, _ := visit(k, app, "/env"); !strings.Contains(body, `"VERSION":"fixed"`) {
		t.Fatalf("after the fix: %s", body)
	}
}

// TestSwarm_logsFromEveryNode: the logs of each of the app's tasks, on
// whatever node, stream through the manager to two viewers each over one
// engine stream per task.
func TestSwarm_logsFromEveryNode(t *testing.T) {
	c := swarmtest.Shared(t)
	env := testutil.NewEnv(t)
	img := appImage(t, c, env, "kaj-swarm-logs", "LOG_EVERY=300ms")
	k := startKaj(t, c, env)
	app := createApp(t, k, map[string]any{
		"name": env.Name("logs"), "image": img, "port": 8080, "health_path": "/healthz", "replicas": 3,
	})
	deploy(t, k, app)
	cs, err := k.Deployer.Containers(context.Background(), app)
	if err != nil {
		t.Fatal(err)
	}
	cl := k.Login(t)
	streams := k.Hub.OpenStreams()
	var ids []string
	remote := 0
	for _, s := range cs {
		if s.Role != runtime.RoleApp {
			continue
		}
		ids = append(ids, s.ID)
		if !strings.Contains(s.Name, "@"+c.Nodes()[0].Hostname) {
			remote++
		}
	}
	if len(ids) != 3 || remote == 0 {
		t.Fatalf("app tasks %+v: want 3, some off the manager", cs)
	}
	type msg struct {
		Type  string `json:"type"`
		Lines []struct {
			Text string `json:"text"`
		} `json:"lines"`
	}
	for _, id := range ids {
		for range 2 {
			ws := cl.Dial("/api/v1/apps/" + app + "/logs?tail=5&follow=1&container=" + id)
			ws.SetReadDeadline(time.Now().Add(20 * time.Second))
			got := false
			for !got {
				var m msg
				if err := ws.ReadJSON(&m); err != nil {
					t.Fatalf("logs of %s: %v", id, err)
				}
				for _, l := range m.Lines {
					got = got || strings.HasPrefix(l.Text, "tick")
				}
			}
			defer ws.Close()
		}
	}
	if n := k.Hub.OpenStreams() - streams; n != 3 {
		t.Fatalf("%d engine streams for 3 tasks with 2 viewers each, want 3", n)
	}
}

// TestSwarm_imageOnlyOnTheManager: an image only the manager's engine has
// (as if kaj built it there) cannot run on the other nodes: without
// push_to the deploy fails saying what to set; with it kaj pushes the
// image to the registry and every node runs it.
func TestSwarm_imageOnlyOnTheManager(t *testing.T) {
	c := swarmtest.Shared(t)
	env := testutil.NewEnv(t)
	layer, err := testutil.TestAppLayer()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testutil.Image(testutil.ImageConfig{
		Entrypoint: []string{"/testapp"}, Env: []string{"PORT=8080"}, ExposedPorts: []string{"8080/tcp"}, Labels: env.Labels(),
	}, layer)
	if err != nil {
		t.Fatal(err)
	}
	ref := "kaj-swarm-local:" + env.ID
	tag, _ := name.NewTag(ref)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := daemon.Write(tag, img, daemon.WithClient(c.ManagerClient()), daemon.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "-H", c.Manager(), "rmi", "-f", ref).Run() })

	k := startKaj(t, c, env)
	app := createApp(t, k, map[string]any{
		"name": env.Name("local"), "image": ref, "port": 8080, "health_path": "/healthz", "replicas": 3,
	})
	rel, err := k.Deployer.Deploy(ctx, app, "test", nil)
	if err == nil || !strings.Contains(rel.Error, "push_to") || !strings.Contains(rel.Error, "only in the manager's engine") {
		t.Fatalf("deploy of a manager-only image without push_to: %v (%s)", err, rel.Error)
	}
	// Another kaj, on its own data, with a registry to push to.
	k2 := kajtest.Start(t, env, func(cfg *config.Config) {
		cfg.Docker.Host = c.Manager()
		cfg.Runtime.Mode = config.RuntimeSwarm
		cfg.Runtime.PushTo = c.Registry() + "/kaj"
		cfg.Registry.Insecure = []string{c.Registry()}
		cfg.Deploy.HealthTimeout = config.Duration(90 * time.Second)
	})
	app = createApp(t, k2, map[string]any{
		"name": env.Name("pushed"), "image": ref, "port": 8080, "health_path": "/healthz", "replicas": 3,
	})
	rel = deploy(t, k2, app)
	if !strings.HasPrefix(rel.Digest, c.Registry()+"/kaj/"+k2.Engine.Names(app).Network+"@sha256:") {
		t.Fatalf("release digest %q, want the pushed image", rel.Digest)
	}
	nodes := map[string]bool{}
	for _, ts := range tasks(t, k2, app) {
		if ts.Serving() {
			nodes[ts.NodeID] = true
		}
	}
	if len(nodes) < 2 {
		t.Fatalf("the pushed image runs on %d node(s), want the others too", len(nodes))
	}
	if h := hostname(t, k2, app); h == "" {
		t.Fatal("no answer through the router")
	}
}

// TestSwarm_backupAndRestore: the database of a replicated app on a
// swarm is backed up (dumped from its task's container on the manager,
// verified in a throwaway copy) and restored with the app's tasks
// scaled to zero meanwhile; the app answers through the router again
// afterwards with the rows of the backup.
func TestSwarm_backupAndRestore(t *testing.T) {
	c := swarmtest.Shared(t)
	env := testutil.NewEnv(t)
	img := appImage(t, c, env, "kaj-swarm-app", "VERSION=v1")
	dbImg := c.PushImage(t, env.MariaDBImage())
	k := startKaj(t, c, env)
	app := createApp(t, k, map[string]any{
		"name": env.Name("bk"), "image": img, "port": 8080, "health_path": "/healthz", "replicas": 2,
		"database": map[string]any{"kind": "mariadb", "image": dbImg},
	})
	deploy(t, k, app)
	mariadb(t, c, k, app, "CREATE TABLE notes (n TEXT); INSERT INTO notes VALUES ('before')")
	cl := k.Login(t)
	job := func(path string, body any) (string, []map[string]any) {
		t.Helper()
		var j struct {
			Job string `json:"job"`
		}
		if code := cl.JSON("POST", path, body, &j); code != 202 || j.Job == "" {
			t.Fatalf("POST %s: %d %+v", path, code, j)
		}
		return cl.WaitJob(j.Job, 5*time.Minute)
	}
	status, events := job("/api/v1/apps/"+app+"/backups", nil)
	if status != "succeeded" {
		t.Fatalf("backup on a swarm: %s %v", status, events)
	}
	var list []struct {
		ID       string `json:"id"`
		Verified bool   `json:"verified"`
	}
	if code := cl.JSON("GET", "/api/v1/apps/"+app+"/backups", nil, &list); code != 200 || len(list) != 1 || !list[0].Verified {
		t.Fatalf("backups: %d %+v; want one, verified", code, list)
	}
	mariadb(t, c, k, app, "INSERT INTO notes VALUES ('after')")
	status, events = job("/api/v1/apps/"+app+"/backups/"+list[0].ID+"/restore", map[string]any{"keep_serving": false})
	if status != "succeeded" {
		t.Fatalf("restore on a swarm: %s %v", status, events)
	}
	if got := mariadb(t, c, k, app, "SELECT GROUP_CONCAT(n) FROM notes"); got != "before" {
		t.Fatalf("after the restore the table holds %q, want the backup's %q", got, "before")
	}
	if n := len(runningApp(t, k, app)); n != 2 {
		t.Fatalf("%d app tasks running after the restore, want 2", n)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, _, err := visit(k, app, "/healthz")
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app does not answer through the router after the restore: %d %v", code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

package api

import (
	"encoding/json"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestCrash_midDeployReconciles kills kaj with SIGKILL while a deploy
// waits for a slow new container, restarts it, and checks that reconcile
// leaves exactly the live release's container and records the deploy as
// interrupted.
func TestCrash_midDeployReconciles(t *testing.T) {
	env := testutil.NewEnv(t)
	fast := env.TestAppImageAs("kaj-e2e-fast")
	slow := env.TestAppImageAs("kaj-e2e-slow", "START_DELAY=60s")
	p := kajtest.StartProcess(t, env, "health_timeout = \"90s\"\nreconcile_on_start = true")
	c := p.Login(t)
	name := env.Name("crash")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": fast, "port": 8080, "health_path": "/healthz"}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if status, ev := c.WaitJob(startJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil), 2*time.Minute); status != "succeeded" {
		t.Fatalf("first deploy %s: %v", status, ev)
	}
	var app appView
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	live := appContainers(app, "app")

	app.Image = slow
	upd := map[string]any{"image": slow, "port": 8080, "health_path": "/healthz", "version": app.Version}
	if code := c.JSON("PUT", "/api/v1/apps/"+name, upd, nil); code != 200 {
		t.Fatalf("update: %d", code)
	}
	job := startJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil)
	// Wait until the new container runs and the deploy waits on its health.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		_, raw := c.Do("GET", "/api/v1/jobs/"+job, nil)
		var j struct {
			Events []map[string]any `json:"events"`
		}
		json.Unmarshal(raw, &j)
		waiting := false
		for _, e := range j.Events {
			if e["step"] == "health" && e["status"] == "running" {
				waiting = true
			}
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deploy never reached the health wait: %s", raw)
		}
	}
	if n := countAppContainers(t, env, name); n != 2 {
		t.Fatalf("%d app containers before the crash; want the old and the new", n)
	}
	p.Kill()
	p.Restart()
	c = p.Login(t)

	cs := listAppContainers(t, env, name)
	if len(cs) != 1 || cs[0] != live[0] {
		t.Fatalf("after restart the app containers are %v; want only the live %v\n%s", cs, live, p.Log())
	}
	var rels []release
	c.JSON("GET", "/api/v1/apps/"+name+"/releases", nil, &rels)
	if len(rels) != 2 || rels[0].Status != "interrupted" || rels[1].Status != "live" {
		t.Fatalf("releases after restart: %+v", rels)
	}
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if code, _ := get(t, app.URL+"/healthz"); code != 200 {
		t.Fatalf("live release not serving after the crash: %d", code)
	}
	// Nothing else of this test's is left: one network, one container.
	ns, _ := env.Client.NetworkList(t.Context(), mclient.NetworkListOptions{Filters: mclient.Filters{}.Add("label", "kaj.app="+name)})
	if len(ns.Items) != 1 {
		t.Fatalf("networks of the app: %d", len(ns.Items))
	}
}

func listAppContainers(t *testing.T, env *testutil.Env, app string) []string {
	t.Helper()
	cs, err := env.Client.ContainerList(t.Context(), mclient.ContainerListOptions{All: true, Filters: mclient.Filters{}.Add("label", "kaj.app="+app).Add("label", "kaj.role=app")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs.Items {
		ids = append(ids, c.ID)
	}
	return ids
}

func countAppContainers(t *testing.T, env *testutil.Env, app string) int {
	return len(listAppContainers(t, env, app))
}

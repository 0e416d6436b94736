package isolation

import (
	"net/http"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestInstances_sameAppNameDeleteWithData runs two kaj processes on one
// engine, each with its own data, each deploying an app named shared with
// a MariaDB database. One deletes its app with the data: the other's app
// keeps serving and its rows are intact. The instances have deploy.labels
// of their own, or the same ones: the instance ID alone keeps them apart.
func TestInstances_sameAppNameDeleteWithData(t *testing.T) {
	t.Run("own labels", func(t *testing.T) { twoInstances(t, testutil.NewEnv(t), testutil.NewEnv(t)) })
	t.Run("same labels", func(t *testing.T) {
		env := testutil.NewEnv(t)
		twoInstances(t, env, env)
	})
}

func twoInstances(t *testing.T, envA, envB *testutil.Env) {
	img := envA.TestAppImage()
	dbImage := envA.MariaDBImage()
	const app = "shared"
	a := kajtest.StartProcess(t, envA, "reconcile_on_start = true\ndatabase_timeout = \"3m\"")
	b := kajtest.StartProcess(t, envB, "reconcile_on_start = true\ndatabase_timeout = \"3m\"")
	ia, ib := instanceOf(t, a.URL), instanceOf(t, b.URL)
	if ia == ib {
		t.Fatalf("two data directories got the same instance ID %s", ia)
	}
	ca, cb := a.Login(t), b.Login(t)
	def := map[string]any{"name": app, "image": img, "port": 8080, "health_path": "/healthz",
		"database": map[string]any{"kind": "mariadb", "image": dbImage}}
	for _, c := range []*kajtest.Client{ca, cb} {
		code, raw := c.Do("POST", "/api/v1/apps", def)
		must(t, code, raw, http.StatusCreated, "create "+app)
	}
	if st, ev := deploy(t, ca, app); st != "succeeded" {
		t.Fatalf("instance A's deploy: %s: %s\n%s", st, failure(ev), a.Log())
	}
	if st, ev := deploy(t, cb, app); st != "succeeded" {
		t.Fatalf("instance B's deploy: %s: %s\n%s", st, failure(ev), b.Log())
	}

	da, db := engineOf(t, envA, ia), engineOf(t, envB, ib)
	sql(t, da, envA, app, "CREATE TABLE notes (v INT); INSERT INTO notes VALUES (1),(2),(3)")
	sql(t, db, envB, app, "CREATE TABLE notes (v INT); INSERT INTO notes VALUES (7)")
	na, nb := da.Names(app), db.Names(app)
	if na.Network == nb.Network || na.Database == nb.Database || na.Volume == nb.Volume {
		t.Fatalf("the instances share names: %+v and %+v", na, nb)
	}
	dbA, err := envA.Client.ContainerInspect(t.Context(), na.Database, mclient.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dbA.Container.Config.Labels["kaj.instance"]; got != ia {
		t.Fatalf("A's database container has kaj.instance=%q; want %s", got, ia)
	}

	code, raw := cb.Do("DELETE", "/api/v1/apps/"+app+"?data=true", nil)
	must(t, code, raw, http.StatusNoContent, "B deletes "+app+" with its data")

	// B's objects are gone, A's untouched.
	ctx := t.Context()
	if _, err := envB.Client.VolumeInspect(ctx, nb.Volume, mclient.VolumeInspectOptions{}); err == nil {
		t.Errorf("B's volume %s outlived B's delete with data", nb.Volume)
	}
	if _, err := envA.Client.NetworkInspect(ctx, na.Network, mclient.NetworkInspectOptions{}); err != nil {
		t.Errorf("A's network %s: %v", na.Network, err)
	}
	if _, err := envA.Client.VolumeInspect(ctx, na.Volume, mclient.VolumeInspectOptions{}); err != nil {
		t.Errorf("A's volume %s: %v", na.Volume, err)
	}
	again, err := envA.Client.ContainerInspect(ctx, na.Database, mclient.ContainerInspectOptions{})
	if err != nil || again.Container.ID != dbA.Container.ID || !again.Container.State.Running {
		t.Fatalf("A's database container after B's delete: %v %+v", err, again.Container.State)
	}
	if got := sql(t, da, envA, app, "SELECT COUNT(*), SUM(v) FROM notes"); got != "3\t6" {
		t.Errorf("A's rows after B's delete: %q; want 3 rows summing to 6", got)
	}
	host := "http://" + app + ".localhost:" + a.RouterURL[strings.LastIndex(a.RouterURL, ":")+1:]
	if code, body := visit(host + "/healthz"); code != http.StatusOK {
		t.Errorf("A's app after B's delete: %d %s", code, body)
	}
	var view struct {
		Containers []struct {
			Role  string `json:"role"`
			State string `json:"state"`
		} `json:"containers"`
	}
	ca.JSON("GET", "/api/v1/apps/"+app, nil, &view)
	running := 0
	for _, c := range view.Containers {
		if c.State == "running" {
			running++
		}
	}
	if running != 2 {
		t.Errorf("A lists %+v; want its app and database running", view.Containers)
	}

	// A restart of A reconciles without touching anything of B's, and B's
	// restart does not claim A's.
	b.Kill()
	b.Restart()
	time.Sleep(time.Second)
	if got := sql(t, da, envA, app, "SELECT COUNT(*) FROM notes"); got != "3" {
		t.Errorf("A's rows after B's restart: %q", got)
	}
	if code, body := visit(host + "/healthz"); code != http.StatusOK {
		t.Errorf("A's app after B's restart: %d %s\n%s", code, body, b.Log())
	}
}

package isolation

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"
	bolt "go.etcd.io/bbolt"

	"github.com/kajhq/kaj/internal/kajd"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// TestMigration_schema7ObjectsKeepWorking starts kaj on a schema 7 data
// file whose app runs in objects named and labelled as kaj made them
// before instance IDs: kaj-<app>, kaj-<app>-db, <app>-data, no
// kaj.instance label. After the upgrade the app is listed and routed, a
// deploy reuses its database container and volume, reconcile removes
// nothing of it, and a delete with data removes it all.
func TestMigration_schema7ObjectsKeepWorking(t *testing.T) {
	env := testutil.NewEnv(t)
	ctx := t.Context()
	img := env.TestAppImage()
	dbImage := env.TestAppImageAs("kaj-iso-fakedb", "FAKE_MYSQL_PORT=3306", "PORT=8081")
	cfg := kajtest.Config(t)
	cfg.Deploy.ReconcileOnStart = true
	app := env.Name("old")
	volume := app + "-data"

	// The engine objects, as a kaj before instance IDs made them: an
	// engine client without a scope names and labels them so.
	old, err := runtime.NewDocker("")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	const password = "s3cretpassword"
	dbSpec := runtime.DatabaseSpec{App: app, Kind: runtime.MySQL, Image: dbImage, Volume: volume, Password: password, Labels: env.Labels()}
	db, err := old.EnsureDatabase(ctx, dbSpec)
	if err != nil {
		t.Fatal(err)
	}
	dbEnv, _ := runtime.DatabaseEnv(dbSpec, "")
	web, err := old.StartApp(ctx, runtime.AppSpec{App: app, Release: "1", Image: img, Port: 8080, Private: true, Env: dbEnv, Labels: env.Labels()})
	if err != nil {
		t.Fatal(err)
	}
	if db.Name != "kaj-"+app+"-db" || !strings.HasPrefix(web.Name, "kaj-"+app+"-r1-") {
		t.Fatalf("the old objects are named %s and %s", db.Name, web.Name)
	}

	// The data file, as that kaj left it: schema 7, no instance ID.
	st, err := kajd.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(func(tx *store.Tx) error {
		if _, err := tx.CreateApp(store.App{Name: app, Image: img, Port: 8080, HealthPath: "/healthz",
			Database: &store.Database{Kind: "mysql", Image: dbImage, Alias: runtime.DefaultAlias, Name: strings.ReplaceAll(app, "-", "_"), User: strings.ReplaceAll(app, "-", "_"), Volume: volume, Password: password}}); err != nil {
			return err
		}
		r, err := tx.CreateRelease(store.Release{App: app, CreatedBy: "admin"})
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		r.Status, r.ContainerID, r.Image, r.Digest, r.FinishedAt = store.ReleaseLive, web.ID, img, img, &now
		_, err = tx.UpdateRelease(r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	downgrade(t, filepath.Join(cfg.Data.Dir, "kaj.db"))

	k := kajtest.StartConfig(t, env, cfg)
	c := k.Login(t)
	inst := instanceOf(t, k.URL)
	if k.Engine.Instance() != inst || len(inst) != 6 {
		t.Fatalf("instance ID %q (engine %q); want 6 hex digits made on upgrade", inst, k.Engine.Instance())
	}
	if n := k.Engine.Names(app); n.Network != "kaj-"+app || n.Database != "kaj-"+app+"-db" || n.Volume != volume {
		t.Fatalf("the upgraded app's names are %+v; want those it had", n)
	}
	var view struct {
		Containers []struct {
			ID    string `json:"id"`
			Role  string `json:"role"`
			State string `json:"state"`
		} `json:"containers"`
	}
	c.JSON("GET", "/api/v1/apps/"+app, nil, &view)
	if len(view.Containers) != 2 {
		t.Fatalf("after the upgrade kaj lists %+v; want the old app and database containers", view.Containers)
	}
	router := "http://" + app + ".localhost:" + k.RouterURL[strings.LastIndex(k.RouterURL, ":")+1:]
	if code, body := visit(router + "/healthz"); code != http.StatusOK {
		t.Fatalf("the old container through the router after the upgrade: %d %s", code, body)
	}

	if st, ev := deploy(t, c, app); st != "succeeded" {
		t.Fatalf("deploy after the upgrade: %s %s", st, failure(ev))
	}
	dbNow, err := env.Client.ContainerInspect(ctx, "kaj-"+app+"-db", mclient.ContainerInspectOptions{})
	if err != nil || dbNow.Container.ID != db.ID {
		t.Fatalf("the database container after a deploy: %v (id %s, was %s)", err, dbNow.Container.ID, db.ID)
	}
	// The old container stays up, unrouted, through the new one's
	// stability window (deploy.stable_for, 1s), then goes.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c.JSON("GET", "/api/v1/apps/"+app, nil, &view)
		old := false
		for _, ct := range view.Containers {
			old = old || ct.ID == web.ID
		}
		if !old {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old app container is still there 15s after the deploy")
		}
	}
	for _, ct := range view.Containers {
		if ct.Role != "app" {
			continue
		}
		insp, err := env.Client.ContainerInspect(ctx, ct.ID, mclient.ContainerInspectOptions{})
		if err != nil || insp.Container.Config.Labels[runtime.LabelInstance] != inst {
			t.Fatalf("the new app container: %v, labels %v", err, insp.Container.Config.Labels)
		}
	}
	if code, body := visit(router + "/healthz"); code != http.StatusOK {
		t.Fatalf("the new container through the router: %d %s", code, body)
	}

	code, raw := c.Do("DELETE", "/api/v1/apps/"+app+"?data=true", nil)
	must(t, code, raw, http.StatusNoContent, "delete with data")
	if _, err := env.Client.VolumeInspect(ctx, volume, mclient.VolumeInspectOptions{}); err == nil {
		t.Error("the old volume outlived a delete with data")
	}
	if _, err := env.Client.NetworkInspect(ctx, "kaj-"+app, mclient.NetworkInspectOptions{}); err == nil {
		t.Error("the old network outlived the delete")
	}
	if _, err := env.Client.ContainerInspect(ctx, "kaj-"+app+"-db", mclient.ContainerInspectOptions{}); err == nil {
		t.Error("the old database container outlived the delete")
	}
}

// downgrade makes a data file look as a schema 7 kaj left it.
func downgrade(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		if err := meta.Put([]byte("schema"), []byte("7")); err != nil {
			return err
		}
		if err := meta.Delete([]byte("instance")); err != nil {
			return err
		}
		return tx.DeleteBucket([]byte("legacy-names"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

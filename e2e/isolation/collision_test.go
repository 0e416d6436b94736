package isolation

import (
	"net/http"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
)

// TestCollision_foreignObjectsUntouched puts, under the names this kaj
// gives an app's network, database container and volume, and under its
// database's alias, objects that are not this kaj's: another instance's,
// or nobody's. Each deploy fails saying which object is in the way and
// what to do; the object is neither used nor removed, not even by a
// delete with data.
func TestCollision_foreignObjectsUntouched(t *testing.T) {
	env := testutil.NewEnv(t)
	k := kajtest.Start(t, env)
	c := k.Login(t)
	ctx := t.Context()
	img := env.TestAppImage()
	dbImage := env.TestAppImageAs("kaj-iso-fakedb", "FAKE_MYSQL_PORT=3306", "PORT=8081")
	other := env.WithLabels(map[string]string{runtime.LabelManaged: "true", runtime.LabelInstance: "someoneelse"})
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	create := func(name string, db bool) {
		t.Helper()
		def := map[string]any{"name": name, "image": img, "port": 8080, "health_path": "/healthz"}
		if db {
			def["database"] = map[string]any{"kind": "mysql", "image": dbImage}
		}
		code, raw := c.Do("POST", "/api/v1/apps", def)
		must(t, code, raw, http.StatusCreated, "create "+name)
	}
	refused := func(app, object string) {
		t.Helper()
		st, ev := deploy(t, c, app)
		msg := failure(ev)
		if st != "failed" || !strings.Contains(msg, object) || !strings.Contains(msg, "not this kaj's") || !strings.Contains(msg, "remove or rename it yourself") && !strings.Contains(msg, "disconnect it") {
			t.Fatalf("deploy of %s with %s in the way: %s: %q", app, object, st, msg)
		}
		code, raw := c.Do("DELETE", "/api/v1/apps/"+app+"?data=true", nil)
		must(t, code, raw, http.StatusNoContent, "delete "+app)
	}

	// Another kaj's network under this kaj's name for the app.
	netApp := env.Name("netsq")
	netName := k.Engine.Names(netApp).Network
	n, err := env.Client.NetworkCreate(ctx, netName, mclient.NetworkCreateOptions{Labels: with(other, runtime.LabelApp, netApp)})
	if err != nil {
		t.Fatal(err)
	}
	create(netApp, false)
	refused(netApp, "network "+netName)
	if got, err := env.Client.NetworkInspect(ctx, netName, mclient.NetworkInspectOptions{}); err != nil || got.Network.ID != n.ID {
		t.Fatalf("the foreign network after the deploy and delete: %v", err)
	}

	// Another kaj's database container under this kaj's name.
	dbApp := env.Name("dbsq")
	dbName := k.Engine.Names(dbApp).Database
	squat, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{Name: dbName, Config: &container.Config{
		Image: img, Labels: with(other, runtime.LabelApp, dbApp, runtime.LabelRole, "db", runtime.LabelDatabase, "mysql"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	create(dbApp, true)
	refused(dbApp, "container "+dbName)
	if got, err := env.Client.ContainerInspect(ctx, dbName, mclient.ContainerInspectOptions{}); err != nil || got.Container.ID != squat.ID {
		t.Fatalf("the foreign database container after the deploy and delete: %v", err)
	}

	// A volume nobody labelled, under the name kaj gives the app's data.
	volApp := env.Name("volsq")
	volName := k.Engine.Names(volApp).Volume
	if _, err := env.Client.VolumeCreate(ctx, mclient.VolumeCreateOptions{Name: volName, Labels: env.Labels()}); err != nil {
		t.Fatal(err)
	}
	create(volApp, true)
	refused(volApp, "volume "+volName)
	if _, err := env.Client.VolumeInspect(ctx, volName, mclient.VolumeInspectOptions{}); err != nil {
		t.Fatalf("the foreign volume after the deploy and delete: %v", err)
	}

	// A stranger on the app's own network answering to the database's
	// alias.
	aliasApp := env.Name("aliassq")
	create(aliasApp, false)
	if st, ev := deploy(t, c, aliasApp); st != "succeeded" {
		t.Fatalf("deploy without a database: %s %s", st, failure(ev))
	}
	stranger := env.Name("stranger")
	sc, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{Name: stranger,
		Config: &container.Config{Image: img, Labels: env.Labels()},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			k.Engine.Names(aliasApp).Network: {Aliases: []string{"dbserver"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.ContainerStart(ctx, sc.ID, mclient.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	var view map[string]any
	c.JSON("GET", "/api/v1/apps/"+aliasApp, nil, &view)
	upd := map[string]any{"image": img, "port": 8080, "health_path": "/healthz", "version": view["version"],
		"database": map[string]any{"kind": "mysql", "image": dbImage}}
	code, raw := c.Do("PUT", "/api/v1/apps/"+aliasApp, upd)
	must(t, code, raw, http.StatusOK, "add a database")
	st, ev := deploy(t, c, aliasApp)
	if msg := failure(ev); st != "failed" || !strings.Contains(msg, stranger) || !strings.Contains(msg, `"dbserver"`) {
		t.Fatalf("deploy with %s answering to dbserver: %s %q", stranger, st, msg)
	}
	if got, err := env.Client.ContainerInspect(ctx, sc.ID, mclient.ContainerInspectOptions{}); err != nil || !got.Container.State.Running {
		t.Fatalf("the stranger after the refused deploy: %v", err)
	}
}

package image

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestKajImage_deploysFromItsOwnNetwork runs kaj's image on the engine's
// default bridge, where neither the host's loopback nor other bridge
// networks are reachable, and deploys an app with a database through it:
// kaj joins the app's network to wait for the database and the health
// check, and leaves it when the app is deleted.
func TestKajImage_deploysFromItsOwnNetwork(t *testing.T) {
	env := testutil.NewEnv(t)
	sock, gid, _ := socket(t, env)
	tag := buildKajImage(t, env)
	ctx := env.Context()
	appImage := env.TestAppImageAs("kaj-inctr-app")
	dbImage := env.TestAppImageAs("kaj-inctr-db", "FAKE_MYSQL_PORT=3306", "PORT=8081")

	volume := env.Name("kaj-data")
	if _, err := env.Client.VolumeCreate(ctx, mclient.VolumeCreateOptions{Name: volume, Labels: env.Labels()}); err != nil {
		t.Fatal(err)
	}
	k := runKaj(t, env, tag, sock, volume, runOptions{
		groups: []string{strconv.FormatUint(uint64(gid), 10)},
		env:    []string{"KAJ_DEPLOY_LABELS=" + testutil.Label + "=" + env.ID, "KAJ_DEPLOY_HEALTH_TIMEOUT=30s", "KAJ_DEPLOY_DATABASE_TIMEOUT=30s"},
	})
	if h := k.healthz(t, env); h.Status != "ok" {
		t.Fatalf("/healthz = %+v\n%s", h, k.logs(t, env))
	}
	k.waitHealth(t, env, container.Healthy)
	_, password := k.dataDir(t, env)
	c := (&kajtest.Kaj{URL: k.URL, Password: password}).Login(t)

	name := env.Name("inctr")
	app := map[string]any{
		"name": name, "image": appImage, "port": 8080, "health_path": "/healthz",
		"database": map[string]any{"kind": "mysql", "image": dbImage},
	}
	if code := c.JSON("POST", "/api/v1/apps", app, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	var job struct {
		Job string `json:"job"`
	}
	c.JSON("POST", "/api/v1/apps/"+name+"/deploy", nil, &job)
	if status, events := c.WaitJob(job.Job, 3*time.Minute); status != "succeeded" {
		t.Fatalf("deploy from kaj's container: %s %v\n%s", status, events, k.logs(t, env))
	}
	// Visitors reach the app through the router in kaj's container.
	u, _ := url.Parse(k.RouterURL)
	if code, body := kajtest.Visit(t, "http://"+name+".localhost:"+u.Port()+"/healthz"); code != 200 {
		t.Fatalf("the app through the router in kaj's container: %d %s\n%s", code, body, k.logs(t, env))
	}
	// The network's name carries kaj's instance ID: find it by its labels.
	nets, err := env.Client.NetworkList(ctx, mclient.NetworkListOptions{Filters: mclient.Filters{}.Add("label", "kaj.app="+name).Add("label", testutil.Label+"="+env.ID)})
	if err != nil || len(nets.Items) != 1 {
		t.Fatalf("the app's networks: %+v %v", nets.Items, err)
	}
	netName := nets.Items[0].Name
	net, err := env.Client.NetworkInspect(ctx, netName, mclient.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, joined := net.Network.Containers[k.ID]; !joined {
		t.Fatalf("kaj's container is not on the app's network: %v", net.Network.Containers)
	}

	if code, body := c.Do("DELETE", "/api/v1/apps/"+name+"?data=true", nil); code != 204 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if _, err := env.Client.NetworkInspect(ctx, netName, mclient.NetworkInspectOptions{}); err == nil {
		t.Fatal("the app's network outlived the app: kaj's container still holds it")
	}
}

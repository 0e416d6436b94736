package api

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestPush_throughAPIAndDeployBack pushes an engine image to a real
// registry with htpasswd auth through the API, deletes it from the engine,
// and deploys it from the registry.
func TestPush_throughAPIAndDeployBack(t *testing.T) {
	env := testutil.NewEnv(t)
	reg := testutil.NewDistributionRegistry(t)
	local := env.TestAppImageAs("kaj-e2e-push")
	k := kajtest.Start(t, env)
	c := k.Login(t)

	// Wrong password first: the test call says so; then the right one.
	c.JSON("POST", "/api/v1/registries", map[string]string{"host": reg.Host, "username": reg.Username, "password": "wrong"}, nil)
	var res struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	c.JSON("POST", "/api/v1/registries/"+reg.Host+"/test", nil, &res)
	if res.OK || !strings.Contains(res.Error, "bad credentials") || !strings.Contains(res.Error, reg.Host) {
		t.Fatalf("wrong password test = %+v", res)
	}
	var cred struct {
		Version uint64 `json:"version"`
	}
	c.JSON("GET", "/api/v1/registries", nil, nil)
	if code := c.JSON("PUT", "/api/v1/registries/"+reg.Host, map[string]any{"username": reg.Username, "password": reg.Password, "version": 1}, &cred); code != 200 {
		t.Fatalf("update credential: %d", code)
	}
	c.JSON("POST", "/api/v1/registries/"+reg.Host+"/test", nil, &res)
	if !res.OK {
		t.Fatalf("right password test = %+v", res)
	}

	target := fmt.Sprintf("%s/e2e/%s:v1", reg.Host, env.Name("push"))
	job := startJob(t, c, "POST", "/api/v1/images/push", map[string]string{"image": local, "target": target})
	status, events := c.WaitJob(job, 2*time.Minute)
	if status != "succeeded" {
		t.Fatalf("push %s: %v", status, events)
	}
	complete := false
	for _, e := range events {
		if e["type"] == "progress" {
			cur, _ := e["current"].(float64) // absent means 0
			tot, _ := e["total"].(float64)
			if tot > 0 && cur == tot {
				complete = true
			}
			if cur > tot && tot > 0 {
				t.Fatalf("progress past total: %v", e)
			}
		}
	}
	if !complete {
		t.Fatalf("no layer reached 100%%: %v", events)
	}

	// The engine forgets the image; a deploy must pull it with the stored
	// credentials.
	if _, err := env.Client.ImageRemove(t.Context(), local, mclient.ImageRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	// The pulled image carries the test's label (it is the same image),
	// so the cleanup removes it too.
	name := env.Name("pulled")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": target, "port": 8080, "health_path": "/healthz"}, nil); code != 201 {
		t.Fatalf("create app: %d", code)
	}
	job = startJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil)
	status, events = c.WaitJob(job, 3*time.Minute)
	if status != "succeeded" {
		t.Fatalf("deploy from registry %s: %v", status, events)
	}
	pulled := false
	for _, e := range events {
		if e["step"] == "image" && e["status"] == "succeeded" && strings.Contains(fmt.Sprint(e["message"]), "pulled") {
			pulled = true
		}
	}
	if !pulled {
		t.Fatalf("image step did not pull: %v", events)
	}
	var app appView
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if code, _ := get(t, app.URL+"/healthz"); code != 200 {
		t.Fatalf("pulled app unhealthy: %d", code)
	}
	// The release names what it ran exactly, so a rollback can pull it
	// again by digest.
	var rels []release
	c.JSON("GET", "/api/v1/apps/"+name+"/releases", nil, &rels)
	if len(rels) != 1 || !strings.Contains(rels[0].Digest, "/e2e/") || !strings.Contains(rels[0].Digest, "@sha256:") {
		t.Fatalf("release digest = %+v; want repo@sha256:...", rels)
	}
}

package api

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestDeploy_simultaneousOneJob: many deploys of one app asked at the
// same moment start exactly one job; the others are told the app is
// busy (409), never handed a job that then fails for being second.
func TestDeploy_simultaneousOneJob(t *testing.T) {
	env := testutil.NewEnv(t)
	image := env.TestAppImageAs("kaj-e2e-app", "PORT=5000")
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("race")
	if code, body := c.Do("POST", "/api/v1/apps", map[string]any{"name": name, "image": image, "port": 5000, "health_path": "/healthz"}); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	const n = 12
	codes := make([]int, n)
	bodies := make([][]byte, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i], bodies[i] = c.Do("POST", "/api/v1/apps/"+name+"/deploy", nil)
		}()
	}
	close(start)
	wg.Wait()
	var job string
	accepted := 0
	for i, code := range codes {
		switch code {
		case 202:
			accepted++
			var j struct {
				Job string `json:"job"`
			}
			json.Unmarshal(bodies[i], &j)
			job = j.Job
		case 409:
		default:
			t.Errorf("deploy %d: %d %s", i, code, bodies[i])
		}
	}
	if accepted != 1 {
		t.Fatalf("%d of %d simultaneous deploys were accepted (%v); want exactly one", accepted, n, codes)
	}
	if status, events := c.WaitJob(job, 2*time.Minute); status != "succeeded" {
		t.Fatalf("the one deploy: %s %v", status, events)
	}
	// Free again once it has ended.
	if code, body := c.Do("POST", "/api/v1/apps/"+name+"/deploy", nil); code != 202 {
		t.Fatalf("deploy after the first ended: %d %s", code, body)
	}
}

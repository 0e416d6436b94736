package isolation

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestCrash_fixedHostPortDeployRestoresLive kills kaj with SIGKILL while
// a deploy of an app on a fixed host port waits for a slow new container
// (the serving one already stopped to free the port), restarts kaj, and
// checks that the live release answers on its port and through the router
// again.
func TestCrash_fixedHostPortDeployRestoresLive(t *testing.T) {
	env := testutil.NewEnv(t)
	fast := env.TestAppImageAs("kaj-iso-fast", "VERSION=one")
	slow := env.TestAppImageAs("kaj-iso-slow", "START_DELAY=120s", "VERSION=two")
	p := kajtest.StartProcess(t, env, "health_timeout = \"3m\"\nreconcile_on_start = true")
	c := p.Login(t)
	port := freePort(t)
	name := env.Name("fixed")
	def := map[string]any{"name": name, "image": fast, "port": 8080, "host_port": port, "health_path": "/healthz"}
	code, raw := c.Do("POST", "/api/v1/apps", def)
	must(t, code, raw, http.StatusCreated, "create")
	if st, ev := deploy(t, c, name); st != "succeeded" {
		t.Fatalf("first deploy: %s: %s", st, failure(ev))
	}
	direct := fmt.Sprintf("http://127.0.0.1:%d/env", port)
	if code, body := visit(direct); code != http.StatusOK || !strings.Contains(body, `"one"`) {
		t.Fatalf("release 1 on port %d: %d %s", port, code, body)
	}

	var view struct {
		Version uint64 `json:"version"`
	}
	c.JSON("GET", "/api/v1/apps/"+name, nil, &view)
	def["image"], def["version"] = slow, view.Version
	code, raw = c.Do("PUT", "/api/v1/apps/"+name, def)
	must(t, code, raw, http.StatusOK, "update")
	job := startDeploy(t, c, name)
	eventually(t, time.Minute, func() string {
		_, raw := c.Do("GET", "/api/v1/jobs/"+job, nil)
		var j struct {
			Events []map[string]any `json:"events"`
		}
		json.Unmarshal(raw, &j)
		for _, e := range j.Events {
			if e["step"] == "health" && e["status"] == "running" {
				return ""
			}
		}
		return "the deploy never reached its health check: " + string(raw)
	})
	// The old container was stopped to free the port: the app is down.
	if code, _ := visit(direct); code != 0 {
		t.Fatalf("port %d answers %d during the deploy; the old container should be stopped", port, code)
	}
	p.Kill()
	p.Restart()
	c = p.Login(t)

	eventually(t, time.Minute, func() string {
		if code, body := visit(direct); code != http.StatusOK || !strings.Contains(body, `"one"`) {
			return fmt.Sprintf("after the restart, port %d answers %d %q; want release 1\n%s", port, code, body, p.Log())
		}
		return ""
	})
	routed := "http://" + name + ".localhost:" + p.RouterURL[strings.LastIndex(p.RouterURL, ":")+1:] + "/env"
	eventually(t, 30*time.Second, func() string {
		if code, body := visit(routed); code != http.StatusOK || !strings.Contains(body, `"one"`) {
			return fmt.Sprintf("after the restart the router answers %d %q; want release 1", code, body)
		}
		return ""
	})
	var rels []struct {
		Number  uint64   `json:"number"`
		Status  string   `json:"status"`
		Stopped []string `json:"stopped"`
	}
	c.JSON("GET", "/api/v1/apps/"+name+"/releases", nil, &rels)
	if len(rels) != 2 || rels[0].Status != "interrupted" || rels[1].Status != "live" || len(rels[0].Stopped) != 0 {
		t.Fatalf("releases after the restart: %+v", rels)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

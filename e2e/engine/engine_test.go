package engine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajd"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/internal/testutil/hangproxy"
)

// The deadline kaj gives the engine in these tests, and the grace period
// of a stop: a stop gets both before kaj gives up on it.
const (
	timeout = 3 * time.Second
	grace   = 2 * time.Second
)

// engineSocket is the real engine's socket the proxy forwards to.
func engineSocket(t *testing.T) string {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = mclient.DefaultDockerHost
	}
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		t.Skipf("DOCKER_HOST %s is not a unix socket the proxy can front", host)
	}
	return path
}

type health struct {
	Status string `json:"status"`
	Engine struct {
		Reachable bool   `json:"reachable"`
		State     string `json:"state"`
		Error     string `json:"error"`
		Host      string `json:"host"`
	} `json:"engine"`
}

func getHealth(t *testing.T, base string) (health, time.Duration) {
	t.Helper()
	start := time.Now()
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz: %d %v", resp.StatusCode, err)
	}
	return h, time.Since(start)
}

func waitHealth(t *testing.T, base, state string, within time.Duration) health {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		h, _ := getHealth(t, base)
		if h.Engine.State == state {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine state %q after %s, want %q: %+v", h.Engine.State, within, state, h)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type appView struct {
	Name        string `json:"name"`
	State       string `json:"state"`
	EngineError string `json:"engine_error"`
	Containers  []struct {
		ID      string `json:"id"`
		State   string `json:"state"`
		Serving bool   `json:"serving"`
	} `json:"containers"`
}

// listApps GETs the apps and says how long it took.
func listApps(t *testing.T, c *kajtest.Client) ([]appView, string, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest("GET", c.Base+"/api/v1/apps", nil)
	start := time.Now()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("GET /api/v1/apps: %v", err)
	}
	defer resp.Body.Close()
	took := time.Since(start)
	var views []appView
	if err := json.NewDecoder(resp.Body).Decode(&views); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/apps: %d %v", resp.StatusCode, err)
	}
	return views, resp.Header.Get("Kaj-Engine"), took
}

// TestEngine_hung plays a hung engine (connections taken, nothing
// answered) in front of the real one: kaj serves its health check and
// pages at once whatever the engine does and says the engine is not
// answering; a stop the engine never answers fails within its deadline,
// releases the app, and never runs when the engine comes back.
func TestEngine_hung(t *testing.T) {
	env := testutil.NewEnv(t)
	image := env.TestAppImage()
	p := hangproxy.Start(t, engineSocket(t), true)
	cfg := kajtest.Config(t)
	cfg.Docker.Host = p.Host
	cfg.Docker.Timeout = config.Duration(timeout)
	cfg.Deploy.StopTimeout = config.Duration(grace)

	// The first admin is made beforehand, as on any start but the first:
	// hashing its password is not what this test times.
	st, err := kajd.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	password, err := auth.EnsureAdmin(st)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	k := kajtest.StartConfig(t, env, cfg)
	t.Logf("kaj started in %s", time.Since(start).Round(time.Millisecond))
	h, _ := getHealth(t, k.URL)
	// Within the engine's deadline: a kaj that waited on the hung engine
	// would have served only once that deadline had passed.
	if took := time.Since(start); took > timeout {
		t.Fatalf("kaj served /healthz %s after it started, with the engine hung; want within the engine's deadline, %s", took, timeout)
	} else {
		t.Logf("/healthz answered %s after start with the engine hung: %+v", took.Round(time.Millisecond), h)
	}
	if h.Engine.Reachable || h.Status != "degraded" {
		t.Fatalf("/healthz with the engine hung: %+v", h)
	}
	// Before kaj knows the engine hangs, the list waits for it, within
	// the deadline.
	c := k.LoginAs(t, "admin", password)
	if _, engine, took := listApps(t, c); engine != "not answering" || took > timeout+time.Second {
		t.Fatalf("GET /apps on a hung engine not yet known to hang: Kaj-Engine %q after %s", engine, took)
	} else {
		t.Logf("GET /apps on a hung engine not yet known to hang: %s", took.Round(time.Millisecond))
	}
	h = waitHealth(t, k.URL, "not answering", timeout+3*time.Second)
	if !strings.Contains(h.Engine.Error, "not answering") || h.Engine.Host != p.Host {
		t.Fatalf("/healthz does not say why: %+v", h)
	}

	_, engine, took := listApps(t, c)
	if engine != "not answering" || took > timeout {
		t.Fatalf("GET /apps with the engine hung: Kaj-Engine %q after %s", engine, took)
	}
	page := getPage(t, c, "/")
	if !strings.Contains(page, "Docker engine not answering at") || !strings.Contains(page, p.Host) {
		t.Fatalf("the apps page has no engine banner:\n%s", page)
	}
	// The engine comes back: kaj finishes starting on its own.
	if err := p.Forward(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-k.Started():
	case <-time.After(3 * timeout):
		t.Fatal("kaj did not finish starting once the engine answered")
	}
	waitHealth(t, k.URL, "answering", 2*timeout)
	name := env.Name("hung")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": image, "port": 8080, "health_path": "/healthz"}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if status, ev := c.WaitJob(startJob(t, c, "/api/v1/apps/"+name+"/deploy"), 2*time.Minute); status != "succeeded" {
		t.Fatalf("deploy: %s %v", status, ev)
	}
	id := servingContainer(t, c, name)

	// A log viewer who leaves while kaj still waits on the engine is
	// normal: it is no error in kaj's log, and its call is dropped. The
	// viewer's first inspect finds the container, its second, before
	// reading the log, hangs.
	inspects := 0
	inspect := regexp.MustCompile(`^GET /containers/[^/]+/json$`)
	p.HangIf(func(line string) bool {
		if inspect.MatchString(line) {
			inspects++
			return inspects > 1
		}
		return false
	})
	conn := c.Dial("/api/v1/apps/" + name + "/logs?follow=0&tail=10")
	waitFor(t, "the viewer's log read to reach the engine", func() bool { return len(p.Held()) > 0 })
	conn.Close()
	waitFor(t, "the log read to be dropped", func() bool { return len(p.Held()) == 0 })
	time.Sleep(100 * time.Millisecond)
	for _, line := range strings.Split(k.Log(), "\n") {
		if strings.Contains(line, "log stream failed") {
			t.Fatalf("a viewer leaving was logged as a failure: %s", line)
		}
	}

	// The engine takes stops and never answers them.
	p.HangMatching(regexp.MustCompile(`^POST /containers/[^/]+/stop$`))
	start = time.Now()
	code, body := c.Do("POST", "/api/v1/apps/"+name+"/stop", nil)
	took = time.Since(start)
	t.Logf("stop with the engine hung: %d after %s: %s", code, took.Round(time.Millisecond), body)
	if code != http.StatusGatewayTimeout || !strings.Contains(string(body), "not answering") {
		t.Fatalf("stop the engine never answers: %d %s; want 504 saying the engine is not answering", code, body)
	}
	if took > grace+timeout+3*time.Second {
		t.Fatalf("the stop took %s; its deadline is grace %s + timeout %s", took, grace, timeout)
	}
	if held := p.Held(); len(held) > 0 {
		time.Sleep(200 * time.Millisecond) // the close travels through the proxy
		if held = p.Held(); len(held) > 0 {
			t.Fatalf("kaj left the abandoned request's connection open: %q", held)
		}
	}

	var v struct {
		Busy bool `json:"busy"`
	}
	if c.JSON("GET", "/api/v1/apps/"+name, nil, &v); v.Busy {
		t.Fatal("the app is still busy after its stop timed out")
	}

	// The whole engine hangs: the list answers within the deadline and
	// says so.
	p.Hang()
	views, engine, took := listApps(t, c)
	if engine != "not answering" || took > timeout+time.Second {
		t.Fatalf("GET /apps with the engine hung: Kaj-Engine %q after %s", engine, took)
	}
	for _, v := range views {
		if v.Name == name && (v.State != "unknown" || v.EngineError == "") {
			t.Fatalf("the app's view with the engine hung: %+v; want state unknown and engine_error", v)
		}
	}
	t.Logf("GET /apps with the engine hung: %s, Kaj-Engine %q", took.Round(time.Millisecond), engine)

	// The engine comes back: the stop kaj gave up on never runs.
	if err := p.Forward(); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, k.URL, "answering", 3*timeout)
	time.Sleep(2 * time.Second)
	// Requests still waiting when the engine came back (the watcher's
	// check) go through, as they should; none kaj gave up on may.
	for _, r := range p.Replayed() {
		if strings.HasSuffix(r, "/stop") {
			t.Fatalf("the stop kaj had given up on reached the engine when it came back: %q", p.Replayed())
		}
	}
	ins, err := env.Client.ContainerInspect(context.Background(), id, mclient.ContainerInspectOptions{})
	if err != nil || ins.Container.State == nil || !ins.Container.State.Running {
		t.Fatalf("the app's container after the engine came back: %v %+v; the abandoned stop ran", err, ins.Container.State)
	}
	if views, _, _ := listApps(t, c); len(views) != 1 || views[0].State == "unknown" {
		t.Fatalf("the apps once the engine answers again: %+v", views)
	}

	// The app is free: a deploy runs (not 409).
	if status, ev := c.WaitJob(startJob(t, c, "/api/v1/apps/"+name+"/deploy"), 2*time.Minute); status != "succeeded" {
		t.Fatalf("deploy after the timed-out stop: %s %v", status, ev)
	}
}

func startJob(t *testing.T, c *kajtest.Client, path string) string {
	t.Helper()
	var job struct {
		Job string `json:"job"`
	}
	if code := c.JSON("POST", path, nil, &job); code != http.StatusAccepted {
		t.Fatalf("POST %s: status %d", path, code)
	}
	return job.Job
}

func servingContainer(t *testing.T, c *kajtest.Client, name string) string {
	t.Helper()
	var v appView
	if code := c.JSON("GET", "/api/v1/apps/"+name, nil, &v); code != 200 {
		t.Fatalf("GET app: %d", code)
	}
	for _, ct := range v.Containers {
		if ct.Serving && ct.State == "running" {
			return ct.ID
		}
	}
	t.Fatalf("%s has no serving container: %+v", name, v)
	return ""
}

func getPage(t *testing.T, c *kajtest.Client, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", c.Base+path, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout + 3*time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

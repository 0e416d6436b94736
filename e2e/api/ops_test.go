package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/notify"
)

// deployApp creates and deploys an app of image and fails the test
// unless the deploy ends with want; it returns the deploy's events.
func deployApp(t *testing.T, c *kajtest.Client, name, image, want string, env ...map[string]any) []map[string]any {
	t.Helper()
	body := map[string]any{"name": name, "image": image, "port": 8080, "health_path": "/healthz"}
	if len(env) > 0 {
		body["env"] = env
	}
	if code := c.JSON("POST", "/api/v1/apps", body, nil); code != 201 {
		t.Fatalf("create %s: %d", name, code)
	}
	status, ev := c.WaitJob(startJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil), 2*time.Minute)
	if status != want {
		t.Fatalf("deploy %s: %s, want %s: %v", name, status, want, ev)
	}
	return ev
}

type statsMsg struct {
	Type    string `json:"type"`
	Samples []struct {
		Memory uint64 `json:"memory"`
	} `json:"samples"`
	Sample *struct {
		CPU    float64 `json:"cpu_percent"`
		Memory uint64  `json:"memory"`
		Limit  uint64  `json:"memory_limit"`
	} `json:"sample"`
	Error string `json:"error"`
}

func readSample(t *testing.T, conn *websocket.Conn) statsMsg {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var m statsMsg
	if err := conn.ReadJSON(&m); err != nil {
		t.Fatalf("reading stats: %v", err)
	}
	if m.Type == "history" && len(m.Samples) > 0 && m.Samples[0].Memory > 0 {
		return readSample(t, conn) // a late viewer's history, then live
	}
	if m.Type != "sample" || m.Sample == nil || m.Sample.Memory == 0 || m.Sample.Limit == 0 {
		t.Fatalf("stats message %+v; want a sample with memory", m)
	}
	return m
}

// TestStats_twoViewersOneEngineStream: two browsers watching one
// container's stats share one engine stats stream, which closes when both
// have left.
func TestStats_twoViewersOneEngineStream(t *testing.T) {
	env := testutil.NewEnv(t)
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("stats")
	events := deployApp(t, c, name, env.TestAppImage(), "succeeded")
	// The Network step names the network, not its 64-character ID.
	for _, e := range events {
		if want := k.Engine.Names(name).Network; e["step"] == "network" && e["status"] == "succeeded" && e["message"] != want {
			t.Fatalf("the network step says %q; want the network's name %s", e["message"], want)
		}
	}

	a := c.Dial("/api/v1/apps/" + name + "/stats")
	readSample(t, a)
	b := c.Dial("/api/v1/apps/" + name + "/stats")
	readSample(t, b)
	readSample(t, a)
	if n := k.Stats.OpenStreams(); n != 1 {
		t.Fatalf("%d engine stats streams for two viewers of one container; want 1", n)
	}
	var host struct {
		CPUs    int   `json:"cpus"`
		Memory  int64 `json:"memory"`
		Images  int64 `json:"images_bytes"`
		Streams int   `json:"stats_streams"`
	}
	if code := c.JSON("GET", "/api/v1/host", nil, &host); code != 200 || host.CPUs == 0 || host.Memory == 0 || host.Images == 0 || host.Streams != 1 {
		t.Fatalf("host totals %d %+v", code, host)
	}
	// The apps list's one socket for many apps shares the same stream.
	u := c.Dial("/api/v1/stats/stream?apps=" + name + ",no-such-app")
	u.SetReadDeadline(time.Now().Add(20 * time.Second))
	var um struct {
		Type   string `json:"type"`
		App    string `json:"app"`
		Sample struct {
			Memory uint64 `json:"memory"`
		} `json:"sample"`
	}
	if err := u.ReadJSON(&um); err != nil || um.Type != "sample" || um.App != name || um.Sample.Memory == 0 {
		t.Fatalf("usage stream: %+v, %v", um, err)
	}
	if n := k.Stats.OpenStreams(); n != 1 {
		t.Fatalf("%d engine stats streams with the apps list watching too; want 1", n)
	}
	u.Close()
	a.Close()
	b.Close()
	// The hub lingers 5s after the last viewer, so a reload reuses it.
	for deadline := time.Now().Add(20 * time.Second); k.Stats.OpenStreams() != 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d engine stats streams open after both viewers left", k.Stats.OpenStreams())
		}
	}
}

// TestTerminal_echoAndRoles: an admin's terminal runs echo in the app's
// container and the output comes back; the session is in the event
// trail; a viewer is refused before the upgrade.
func TestTerminal_echoAndRoles(t *testing.T) {
	env := testutil.NewEnv(t)
	image := env.ShellImage()
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("term")
	deployApp(t, c, name, image, "succeeded")

	conn := c.Dial("/api/v1/apps/" + name + "/terminal?rows=24&cols=80")
	conn.WriteJSON(map[string]any{"type": "resize", "rows": 30, "cols": 100})
	conn.WriteJSON(map[string]any{"type": "input", "data": "echo kaj-$((6*7))-ok\r"})
	var out strings.Builder
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "kaj-42-ok"); {
		conn.SetReadDeadline(deadline)
		_, b, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("terminal output so far %q: %v", out.String(), err)
		}
		out.Write(b)
	}
	// Ctrl-C interrupts a running command and the shell answers again.
	conn.WriteJSON(map[string]any{"type": "input", "data": "sleep 30\r"})
	time.Sleep(300 * time.Millisecond)
	conn.WriteJSON(map[string]any{"type": "input", "data": "\x03"})
	conn.WriteJSON(map[string]any{"type": "input", "data": "echo after-$((1+1))\r"})
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "after-2"); {
		conn.SetReadDeadline(deadline)
		_, b, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("no prompt after Ctrl-C; output %q: %v", out.String(), err)
		}
		out.Write(b)
	}
	conn.WriteJSON(map[string]any{"type": "input", "data": "exit\r"})
	conn.Close()

	var evs []struct {
		Action string `json:"action"`
		Actor  string `json:"actor"`
		Target string `json:"target"`
	}
	found := false
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c.JSON("GET", "/api/v1/events?limit=50", nil, &evs)
		opened, closed := false, false
		for _, e := range evs {
			mine := e.Actor == "admin" && strings.HasPrefix(e.Target, name+"/")
			opened = opened || (mine && e.Action == "terminal.open")
			closed = closed || (mine && e.Action == "terminal.close")
		}
		found = opened && closed
	}
	if !found {
		t.Fatalf("the trail lacks the terminal session's open and close: %+v", evs)
	}

	for _, u := range []struct{ name, role string }{{"vera", "viewer"}, {"dean", "deployer"}} {
		if code := c.JSON("POST", "/api/v1/users", map[string]any{"name": u.name, "password": "a-long-password-1", "role": u.role}, nil); code != 201 {
			t.Fatalf("creating %s: %d", u.name, code)
		}
		uc := k.LoginAs(t, u.name, "a-long-password-1")
		if _, status, err := uc.TryDial("/api/v1/apps/" + name + "/terminal"); err == nil || status != http.StatusForbidden {
			t.Fatalf("%s opened a terminal: status %d, err %v; want 403", u.role, status, err)
		}
		// Stats and logs stay open to them.
		readSample(t, uc.Dial("/api/v1/apps/"+name+"/stats"))
	}
}

// hook is an httptest webhook that keeps what it receives.
type hook struct {
	mu   sync.Mutex
	got  []notify.Event
	bad  []string
	srv  *httptest.Server
	secr string
}

func newHook(t *testing.T, secret string) *hook {
	h := &hook{secr: secret}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if sig := r.Header.Get(notify.SignatureHeader); sig != notify.Sign(h.secr, body) {
			h.bad = append(h.bad, sig)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var e notify.Event
		json.Unmarshal(body, &e)
		h.got = append(h.got, e)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) wait(t *testing.T, kind notify.Kind, app string, within time.Duration) notify.Event {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		h.mu.Lock()
		for _, e := range h.got {
			if e.Kind == kind && e.App == app {
				h.mu.Unlock()
				return e
			}
		}
		got, bad := append([]notify.Event(nil), h.got...), h.bad
		h.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s notification for %s within %s; got %+v, badly signed %v", kind, app, within, got, bad)
		}
	}
}

// TestNotify_deployFailAndRestartLoop: a signed webhook hears of a failed
// deploy, and of a container restarting in a loop (from the engine's
// events stream), and the test button reaches it.
func TestNotify_deployFailAndRestartLoop(t *testing.T) {
	env := testutil.NewEnv(t)
	h := newHook(t, "s3cret-signing-key")
	k := kajtest.Start(t, env, func(c *config.Config) { c.Deploy.HealthTimeout = config.Duration(5 * time.Second) })
	c := k.Login(t)
	var target struct {
		ID        string `json:"id"`
		URL       string `json:"url"`
		Secret    string `json:"secret"`
		HasSecret bool   `json:"has_secret"`
	}
	if code := c.JSON("POST", "/api/v1/notifications", map[string]any{"name": "test hook", "kind": "webhook", "url": h.srv.URL + "/hook/token123", "secret": h.secr}, &target); code != 201 {
		t.Fatalf("adding the target: %d", code)
	}
	if target.Secret != "" || strings.Contains(target.URL, "token123") || !target.HasSecret {
		t.Fatalf("the target came back with its secrets: %+v", target)
	}
	if code := c.JSON("POST", "/api/v1/notifications/"+target.ID+"/test", nil, nil); code != 200 {
		t.Fatalf("send test: %d", code)
	}
	h.wait(t, notify.Test, "", 5*time.Second)

	broken := env.Name("broken")
	deployApp(t, c, broken, env.TestAppImageAs("kaj-e2e-unhealthy", "HEALTH_STATUS=500"), "failed")
	if e := h.wait(t, notify.DeployFailed, broken, 15*time.Second); !strings.Contains(e.Detail, "previous release") {
		t.Fatalf("deploy.failed says %q", e.Detail)
	}

	loop := env.Name("loop")
	deployApp(t, c, loop, env.TestAppImageAs("kaj-e2e-crashy", "EXIT_AFTER=3s", "EXIT_CODE=3"), "succeeded")
	h.wait(t, notify.DeploySucceeded, loop, 15*time.Second)
	h.wait(t, notify.AppCrashed, loop, 30*time.Second)
	e := h.wait(t, notify.AppRestarting, loop, 90*time.Second)
	if !strings.Contains(e.Detail, "code 3") {
		t.Fatalf("app.restarting says %q", e.Detail)
	}
}

// TestPrune_keepsReleaseImages: the prune plan (dry run: a real prune
// would remove other tests' images) never lists an image a release
// refers to, even when no container uses it any more, and does list an
// unused image nothing refers to.
func TestPrune_keepsReleaseImages(t *testing.T) {
	env := testutil.NewEnv(t)
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("prune")
	first := env.TestAppImageAs("kaj-e2e-prune-one")
	deployApp(t, c, name, first, "succeeded")
	second := env.TestAppImageAs("kaj-e2e-prune-two", "VERSION=2")
	var app appView
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if code := c.JSON("PUT", "/api/v1/apps/"+name, map[string]any{"image": second, "port": 8080, "health_path": "/healthz", "version": app.Version}, nil); code != 200 {
		t.Fatalf("update: %d", code)
	}
	if status, ev := c.WaitJob(startJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil), 2*time.Minute); status != "succeeded" {
		t.Fatalf("second deploy %s: %v", status, ev)
	}
	unused := env.TestAppImageAs("kaj-e2e-prune-unused", "VERSION=unused")
	var plan struct {
		Removed []struct {
			Tags []string `json:"tags"`
		} `json:"removed"`
		Kept int `json:"kept_for_releases"`
	}
	if code := c.JSON("POST", "/api/v1/images/prune?dry_run=1", nil, &plan); code != 200 {
		t.Fatalf("prune plan: %d", code)
	}
	listed := map[string]bool{}
	for _, im := range plan.Removed {
		for _, tag := range im.Tags {
			listed[tag] = true
		}
	}
	if listed[first] || listed[second] {
		t.Fatalf("the prune plan removes a release's image: %v", plan.Removed)
	}
	if !listed[unused] || plan.Kept == 0 {
		t.Fatalf("the prune plan keeps the unused %s (kept %d): %v", unused, plan.Kept, plan.Removed)
	}
}

// TestTerminal_databaseClient: the database "shell" opens mariadb logged
// in as the app's user, answers a query, and never shows the password.
func TestTerminal_databaseClient(t *testing.T) {
	env := testutil.NewEnv(t)
	db := env.MariaDBImage()
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("dbterm")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": env.TestAppImage(), "port": 8080, "health_path": "/healthz",
		"database": map[string]any{"kind": "mariadb", "image": db}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if status, ev := c.WaitJob(startJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil), 3*time.Minute); status != "succeeded" {
		t.Fatalf("deploy %s: %v", status, ev)
	}
	var pw struct {
		Password string `json:"password"`
	}
	c.JSON("GET", "/api/v1/apps/"+name+"/database/password", nil, &pw)
	if pw.Password == "" {
		t.Fatal("no database password to compare with")
	}
	conn := c.Dial("/api/v1/apps/" + name + "/terminal?container=db&client=1")
	var out strings.Builder
	read := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), want); {
			conn.SetReadDeadline(deadline)
			_, b, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("waiting for %q; output %q: %v", want, out.String(), err)
			}
			out.Write(b)
		}
	}
	read("MariaDB [")
	conn.WriteJSON(map[string]any{"type": "input", "data": "SELECT CURRENT_USER() AS who, 6*7 AS answer;\r"})
	read("42")
	conn.WriteJSON(map[string]any{"type": "input", "data": "exit\r"})
	if strings.Contains(out.String(), pw.Password) {
		t.Fatalf("the database client showed the password: %q", out.String())
	}
	t.Logf("database client session: %q", out.String())
	if !strings.Contains(out.String(), "@") {
		t.Fatalf("not logged in as the app's user: %q", out.String())
	}
}

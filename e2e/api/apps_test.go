package api

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// fullApp is the API's view of an app, with what these tests read.
type fullApp struct {
	appView
	HostPort   int      `json:"host_port"`
	Domains    []string `json:"domains"`
	State      string   `json:"state"`
	URLs       []string `json:"urls"`
	Containers []struct {
		ID      string `json:"id"`
		Role    string `json:"role"`
		Image   string `json:"image"`
		Serving bool   `json:"serving"`
		State   string `json:"state"`
	} `json:"containers"`
}

func deployNow(t *testing.T, c *kajtest.Client, name string) (string, []map[string]any) {
	t.Helper()
	return c.WaitJob(startJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil), 3*time.Minute)
}

func failure(events []map[string]any) string {
	var b strings.Builder
	for _, e := range events {
		if e["status"] == "failed" {
			if m, ok := e["message"].(string); ok {
				b.WriteString(m + "\n")
			}
		}
	}
	return b.String()
}

// TestApps_rollbackRestoresDefinition: a release records the whole
// definition, and a rollback after an image and port change runs the old
// image on the old port and puts both back on the app, so the next deploy
// does not bring the newer version back.
func TestApps_rollbackRestoresDefinition(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	v1 := env.TestAppImageAs("kaj-e2e-v1", "PORT=5000", "VERSION=one")
	v2 := env.TestAppImageAs("kaj-e2e-v2", "PORT=6000", "VERSION=two")
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("rb")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": v1, "port": 5000, "env": []map[string]any{{"name": "COLOUR", "value": "blue"}}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if st, ev := deployNow(t, c, name); st != "succeeded" {
		t.Fatalf("deploy 1: %s %s", st, failure(ev))
	}
	var app fullApp
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if code, body := kajtest.Visit(t, app.URL+"/env"); code != 200 || !strings.Contains(body, `"VERSION":"one"`) {
		t.Fatalf("release 1 at %s: %d %s", app.URL, code, body)
	}
	upd := map[string]any{"image": v2, "port": 6000, "version": app.Version, "env": []map[string]any{{"name": "COLOUR", "value": "green"}}}
	if code := c.JSON("PUT", "/api/v1/apps/"+name, upd, &app); code != 200 {
		t.Fatalf("update: %d", code)
	}
	if st, ev := deployNow(t, c, name); st != "succeeded" {
		t.Fatalf("deploy 2: %s %s", st, failure(ev))
	}
	job := startJob(t, c, "POST", "/api/v1/apps/"+name+"/rollback", map[string]any{"release": 1})
	if st, ev := c.WaitJob(job, 3*time.Minute); st != "succeeded" {
		t.Fatalf("rollback: %s %s", st, failure(ev))
	}
	// The definition goes back on the app once the rollback has passed
	// its stability window (deploy.stable_for, 1s).
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
		if app.Image == v1 && app.Port == 5000 && len(app.Env) == 1 && app.Env[0].Value == "blue" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rollback the app is %s on port %d with env %+v; want %s on 5000 with COLOUR=blue", app.Image, app.Port, app.Env, v1)
		}
	}
	if code, body := kajtest.Visit(t, app.URL+"/env"); code != 200 || !strings.Contains(body, `"VERSION":"one"`) || !strings.Contains(body, `"COLOUR":"blue"`) {
		t.Fatalf("after the rollback %s: %d %s", app.URL, code, body)
	}
	var rels []struct {
		Number  uint64 `json:"number"`
		Changes []struct {
			Field, From, To string
		} `json:"changes"`
	}
	c.JSON("GET", "/api/v1/apps/"+name+"/releases", nil, &rels)
	if len(rels) != 3 || len(rels[1].Changes) == 0 {
		t.Fatalf("releases %+v: want 3, the second with changes", rels)
	}
	fields := map[string]bool{}
	for _, ch := range rels[1].Changes {
		fields[ch.Field] = true
	}
	if !fields["port"] || !fields["image"] || !fields["env.COLOUR"] {
		t.Fatalf("changes of release 2: %+v; want port, image and env.COLOUR", rels[1].Changes)
	}
	// The next deploy runs what the app now says: release 1's definition.
	if st, ev := deployNow(t, c, name); st != "succeeded" {
		t.Fatalf("deploy after rollback: %s %s", st, failure(ev))
	}
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if code, body := kajtest.Visit(t, app.URL+"/env"); code != 200 || !strings.Contains(body, `"VERSION":"one"`) {
		t.Fatalf("the deploy after a rollback brought back: %d %s", code, body)
	}
}

// TestApps_healthMeansServing: with no health path, a wrong port fails
// the deploy (and says where the app listens) while the old release keeps
// serving; a slow starter is not reported live before it answers; the
// app's URL during a deploy is the live release's.
func TestApps_healthMeansServing(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	img := env.TestAppImageAs("kaj-e2e-h", "PORT=5000")
	k := kajtest.Start(t, env, func(c *config.Config) { c.Deploy.HealthTimeout = config.Duration(8 * time.Second) })
	c := k.Login(t)
	name := env.Name("health")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": img, "port": 5000, "env": []map[string]any{{"name": "VERSION", "value": "one"}}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if st, ev := deployNow(t, c, name); st != "succeeded" {
		t.Fatalf("deploy 1: %s %s", st, failure(ev))
	}
	var app fullApp
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	liveURL := app.URL

	// Wrong port, no health path: the deploy fails and names port 5000.
	upd := map[string]any{"image": img, "port": 7000, "version": app.Version, "env": []map[string]any{{"name": "VERSION", "value": "two"}}}
	if code := c.JSON("PUT", "/api/v1/apps/"+name, upd, &app); code != 200 {
		t.Fatalf("update: %d", code)
	}
	st, ev := deployNow(t, c, name)
	if st != "failed" || !strings.Contains(failure(ev), "listens on port 5000") {
		t.Fatalf("wrong-port deploy: %s, failure %q; want failed naming port 5000", st, failure(ev))
	}
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if app.URL != liveURL {
		t.Fatalf("URL moved from %s to %s after a failed deploy", liveURL, app.URL)
	}
	if code, body := kajtest.Visit(t, app.URL+"/env"); code != 200 || !strings.Contains(body, `"VERSION":"one"`) {
		t.Fatalf("the old release stopped serving: %d %s", code, body)
	}

	// A slow starter: the job says "live" only once it answers, and
	// during the deploy the URL keeps pointing at the live release.
	upd = map[string]any{"image": img, "port": 5000, "version": app.Version, "env": []map[string]any{{"name": "VERSION", "value": "three"}, {"name": "START_DELAY", "value": "3s"}}}
	if code := c.JSON("PUT", "/api/v1/apps/"+name, upd, &app); code != 200 {
		t.Fatalf("update: %d", code)
	}
	job := startJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil)
	time.Sleep(1500 * time.Millisecond) // the new container exists and is being checked
	var during fullApp
	c.JSON("GET", "/api/v1/apps/"+name, nil, &during)
	if during.URL != liveURL {
		t.Fatalf("URL during the deploy is %q; want the live %q", during.URL, liveURL)
	}
	if code, body := kajtest.Visit(t, during.URL+"/env"); code != 200 || !strings.Contains(body, `"VERSION":"one"`) {
		t.Fatalf("during the deploy %s answered %d %s; want release one", during.URL, code, body)
	}
	if st, ev := c.WaitJob(job, 3*time.Minute); st != "succeeded" {
		t.Fatalf("slow deploy: %s %s", st, failure(ev))
	}
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if code, body := kajtest.Visit(t, app.URL+"/env"); code != 200 || !strings.Contains(body, `"VERSION":"three"`) {
		t.Fatalf("right after the job succeeded: %d %s; want release three answering", code, body)
	}

	// The job stream ends with a close frame, not an abrupt 1006.
	conn := c.Dial("/api/v1/jobs/" + job + "/stream")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure || ce.Text == "" {
				t.Fatalf("stream ended with %v; want a 1000 close frame with a reason", err)
			}
			break
		}
	}
}

// TestApps_templateOverridesAndDatabase: a template deploys an image
// without /healthz when the health path is overridden; a database image
// change is applied on the same volume and said; a missing image names
// the image and both places looked.
func TestApps_templateOverridesAndDatabase(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	// /healthz answers 404 in this image: it has no health endpoint.
	appImage := env.TestAppImageAs("kaj-e2e-nohealth", "PORT=5000", "HEALTH_STATUS=404")
	dbImage := env.TestAppImageAs("kaj-e2e-fakedb", "FAKE_MYSQL_PORT=3306", "PORT=8081")
	dbImage2 := env.TestAppImageAs("kaj-e2e-fakedb2", "FAKE_MYSQL_PORT=3306", "PORT=8081")
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("tpl")
	var preview struct {
		App struct {
			HealthPath string `json:"health_path"`
			Port       int    `json:"port"`
		} `json:"app"`
		Defaults []string `json:"defaults"`
	}
	params := map[string]any{"name": name, "image": appImage, "database_image": dbImage, "health_path": "none"}
	if code := c.JSON("POST", "/api/v1/templates/microblog-mysql?preview=true", params, &preview); code != 200 {
		t.Fatalf("preview: %d", code)
	}
	if preview.App.HealthPath != "" || preview.App.Port != 5000 || !strings.Contains(strings.Join(preview.Defaults, ";"), "port 5000") {
		t.Fatalf("preview %+v", preview)
	}
	job := startJob(t, c, "POST", "/api/v1/templates/microblog-mysql", params)
	if st, ev := c.WaitJob(job, 3*time.Minute); st != "succeeded" {
		t.Fatalf("template deploy with the health path overridden: %s %s", st, failure(ev))
	}
	var app fullApp
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if code, _ := kajtest.Visit(t, app.URL+"/"); code != 200 {
		t.Fatalf("app at %s: %d", app.URL, code)
	}

	// A new database image: applied on the same volume, and said.
	raw := definition(t, c, name)
	db := raw["database"].(map[string]any)
	db["image"] = dbImage2
	raw["database"] = db
	if code := c.JSON("PUT", "/api/v1/apps/"+name, raw, &app); code != 200 {
		t.Fatalf("update: %d", code)
	}
	st, ev := deployNow(t, c, name)
	if st != "succeeded" {
		t.Fatalf("deploy with a new database image: %s %s", st, failure(ev))
	}
	said := false
	for _, e := range ev {
		if m, _ := e["message"].(string); strings.Contains(m, "database image changes from "+dbImage+" to "+dbImage2) {
			said = true
		}
	}
	if !said {
		t.Fatalf("the deploy did not say the database image changed: %v", ev)
	}
	cs, err := env.Client.ContainerList(t.Context(), mclient.ContainerListOptions{All: true, Filters: mclient.Filters{}.Add("label", "kaj.app="+name).Add("label", "kaj.role=db")})
	if err != nil || len(cs.Items) != 1 || cs.Items[0].Image != dbImage2 {
		t.Fatalf("database containers after the change: %+v (%v); want one on %s", cs.Items, err, dbImage2)
	}

	// A missing image: the error names it and both places looked.
	raw = definition(t, c, name)
	missing := "kaj-missing-" + env.ID + ":1"
	raw["image"] = missing
	if code := c.JSON("PUT", "/api/v1/apps/"+name, raw, nil); code != 200 {
		t.Fatalf("update: %d", code)
	}
	st, ev = deployNow(t, c, name)
	msg := failure(ev)
	if st != "failed" || !strings.Contains(msg, "the engine has no image "+missing) || !strings.Contains(msg, "registry index.docker.io") {
		t.Fatalf("missing image: %s, %q", st, msg)
	}
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if code, _ := kajtest.Visit(t, app.URL+"/"); code != 200 {
		t.Fatalf("the live release stopped serving after a missing image: %d", code)
	}
}

// definition reads an app's definition as an update sends it back: the
// view's read-only fields left out.
func definition(t *testing.T, c *kajtest.Client, name string) map[string]any {
	t.Helper()
	var raw map[string]any
	if code := c.JSON("GET", "/api/v1/apps/"+name, nil, &raw); code != 200 {
		t.Fatalf("get %s: %d", name, code)
	}
	out := map[string]any{}
	for _, k := range []string{"image", "env", "port", "host_port", "health_path", "health", "domains", "proxy", "database", "restart", "command", "entrypoint", "memory_bytes", "cpus", "version"} {
		if v, ok := raw[k]; ok {
			out[k] = v
		}
	}
	return out
}

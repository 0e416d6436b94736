package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

type appView struct {
	Name       string `json:"name"`
	Version    uint64 `json:"version"`
	URL        string `json:"url"`
	Image      string `json:"image"`
	Port       int    `json:"port"`
	HealthPath string `json:"health_path"`
	Env        []struct {
		Name   string `json:"name"`
		Value  string `json:"value"`
		Secret bool   `json:"secret"`
	} `json:"env"`
	Database *struct {
		Volume string `json:"volume"`
	} `json:"database"`
	Containers []struct {
		ID      string `json:"id"`
		Role    string `json:"role"`
		Release string `json:"release"`
		State   string `json:"state"`
	} `json:"containers"`
}

type release struct {
	Number uint64 `json:"number"`
	Status string `json:"status"`
	Error  string `json:"error"`
	Digest string `json:"digest"`
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func startJob(t *testing.T, c *kajtest.Client, method, path string, body any) string {
	t.Helper()
	var job struct {
		Job string `json:"job"`
	}
	if code := c.JSON(method, path, body, &job); code != http.StatusAccepted {
		t.Fatalf("%s %s: status %d", method, path, code)
	}
	return job.Job
}

func appContainers(v appView, role string) []string {
	var ids []string
	for _, c := range v.Containers {
		if c.Role == role {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// TestDeploy_lifecycle walks one app with a database through the life a
// user gives it: one-click template, a broken redeploy, a rollback, live
// logs for two viewers, delete keeping the data.
func TestDeploy_lifecycle(t *testing.T) {
	env := testutil.NewEnv(t)
	appImage := env.TestAppImageAs("kaj-e2e-app", "PORT=5000")
	dbImage := env.TestAppImageAs("kaj-e2e-fakedb", "FAKE_MYSQL_PORT=3306", "PORT=8081")
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("blog")

	// One click: the Microblog + MySQL template with local images.
	job := startJob(t, c, "POST", "/api/v1/templates/microblog-mysql", map[string]any{
		"name": name, "image": appImage, "database_image": dbImage,
	})
	if status, events := c.WaitJob(job, 3*time.Minute); status != "succeeded" {
		t.Fatalf("template deploy %s: %v", status, events)
	}
	var app appView
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if app.URL == "" || len(appContainers(app, "app")) != 1 || len(appContainers(app, "db")) != 1 {
		t.Fatalf("after deploy: %+v", app)
	}
	if code, body := get(t, app.URL+"/healthz"); code != 200 {
		t.Fatalf("app health %d %s", code, body)
	}
	_, envBody := get(t, app.URL+"/env")
	var appEnv map[string]string
	json.Unmarshal([]byte(envBody), &appEnv)
	if !strings.HasPrefix(appEnv["DATABASE_URL"], "mysql+pymysql://") || !strings.Contains(appEnv["DATABASE_URL"], "@dbserver") || len(appEnv["SECRET_KEY"]) != 32 || appEnv["LOG_TO_STDOUT"] != "1" {
		t.Fatalf("app env = %v", appEnv)
	}
	if code, body := get(t, app.URL+"/dial?addr=dbserver:3306"); code != 200 {
		t.Fatalf("app cannot reach dbserver:3306: %s", body)
	}
	for _, e := range app.Env {
		if e.Secret && e.Value != "" {
			t.Fatalf("API shows secret %s", e.Name)
		}
	}
	firstApp := appContainers(app, "app")[0]

	// A broken new version: its health check fails. The old one must keep
	// serving and the failure must be recorded.
	broken := app
	for i := range broken.Env {
		broken.Env[i].Value = appEnvValue(appEnv, broken.Env[i].Name, broken.Env[i].Secret)
	}
	upd := map[string]any{
		"image": app.Image, "port": app.Port, "health_path": app.HealthPath, "version": app.Version,
		"env":      append(envList(broken), map[string]any{"name": "HEALTH_STATUS", "value": "500"}),
		"database": map[string]any{"kind": "mysql", "image": dbImage, "volume": app.Database.Volume},
	}
	if code := c.JSON("PUT", "/api/v1/apps/"+name, upd, &app); code != 200 {
		t.Fatalf("update: %d", code)
	}
	job = startJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil)
	status, events := c.WaitJob(job, 3*time.Minute)
	if status != "failed" {
		t.Fatalf("broken deploy ended %s", status)
	}
	sawHealthFail := false
	for _, e := range events {
		if e["step"] == "health" && e["status"] == "failed" {
			sawHealthFail = true
		}
	}
	if !sawHealthFail {
		t.Fatalf("no failed health step in %v", events)
	}
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if ids := appContainers(app, "app"); len(ids) != 1 || ids[0] != firstApp {
		t.Fatalf("after the failed deploy the app containers are %v; want only %s", ids, firstApp)
	}
	if code, _ := get(t, app.URL+"/healthz"); code != 200 {
		t.Fatalf("old release stopped serving: %d", code)
	}
	var rels []release
	c.JSON("GET", "/api/v1/apps/"+name+"/releases", nil, &rels)
	if len(rels) != 2 || rels[0].Status != "failed" || rels[0].Error == "" || rels[1].Status != "live" {
		t.Fatalf("releases = %+v", rels)
	}

	// Rollback returns to release 1 exactly.
	job = startJob(t, c, "POST", "/api/v1/apps/"+name+"/rollback", map[string]any{"release": 1})
	if status, events := c.WaitJob(job, 3*time.Minute); status != "succeeded" {
		t.Fatalf("rollback %s: %v", status, events)
	}
	c.JSON("GET", "/api/v1/apps/"+name+"/releases", nil, &rels)
	if rels[0].Status != "live" || rels[0].Digest != rels[2].Digest || rels[2].Status != "superseded" {
		t.Fatalf("after rollback: %+v", rels)
	}
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if code, _ := get(t, app.URL+"/healthz"); code != 200 {
		t.Fatalf("rolled back app unhealthy: %d", code)
	}

	// Two viewers follow the app's log; both get every line, and the
	// engine is read once.
	viewers := []*logViewer{newViewer(t, c, name), newViewer(t, c, name)}
	post(t, app.URL+"/log?n=200&text=fanout")
	for i, v := range viewers {
		if got := v.collect(t, "fanout", 200); got != 200 {
			t.Fatalf("viewer %d got %d of 200 lines", i, got)
		}
	}
	if n := k.Hub.OpenStreams(); n != 1 {
		t.Fatalf("engine log streams open: %d; want 1", n)
	}

	// Delete without the data flag keeps the volume.
	if code, body := c.Do("DELETE", "/api/v1/apps/"+name, nil); code != 204 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if _, err := env.Client.VolumeInspect(t.Context(), app.Database.Volume, mclient.VolumeInspectOptions{}); err != nil {
		t.Fatalf("volume %s gone after delete without data: %v", app.Database.Volume, err)
	}
	cs, _ := env.Client.ContainerList(t.Context(), mclient.ContainerListOptions{All: true, Filters: mclient.Filters{}.Add("label", "kaj.app="+name)})
	if len(cs.Items) != 0 {
		t.Fatalf("%d containers left after delete", len(cs.Items))
	}
}

func appEnvValue(env map[string]string, name string, secret bool) string {
	if secret {
		return "" // keep the stored secret
	}
	return env[name]
}

func envList(v appView) []map[string]any {
	var out []map[string]any
	for _, e := range v.Env {
		out = append(out, map[string]any{"name": e.Name, "value": e.Value, "secret": e.Secret})
	}
	return out
}

func post(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

type logViewer struct {
	conn interface {
		ReadJSON(any) error
		SetReadDeadline(time.Time) error
	}
}

// newViewer follows app's log from the oldest line kaj keeps, so lines
// written while the viewer connects are not missed.
func newViewer(t *testing.T, c *kajtest.Client, app string) *logViewer {
	return &logViewer{conn: c.Dial("/api/v1/apps/" + app + "/logs?tail=all&container=app")}
}

// collect reads until it has seen want lines starting with prefix, in
// order, and returns how many it saw.
func (v *logViewer) collect(t *testing.T, prefix string, want int) int {
	t.Helper()
	v.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	next := 1
	for next <= want {
		var m struct {
			Type  string `json:"type"`
			Error string `json:"error"`
			Lines []struct {
				Text    string    `json:"text"`
				Time    time.Time `json:"time"`
				Skipped int       `json:"skipped"`
			} `json:"lines"`
		}
		if err := v.conn.ReadJSON(&m); err != nil {
			t.Logf("read: %v", err)
			return next - 1
		}
		if m.Type != "lines" {
			t.Fatalf("unexpected message %+v", m)
		}
		for _, l := range m.Lines {
			if l.Skipped != 0 {
				t.Fatalf("viewer skipped %d lines", l.Skipped)
			}
			if !strings.HasPrefix(l.Text, prefix) {
				continue
			}
			if l.Text != fmt.Sprintf("%s %d", prefix, next) || l.Time.IsZero() {
				t.Fatalf("line %q; want %s %d with a time", l.Text, prefix, next)
			}
			next++
		}
	}
	return next - 1
}

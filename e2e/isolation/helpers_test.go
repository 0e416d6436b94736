package isolation

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
)

// deploy starts a deploy of app and waits for its end.
func deploy(t *testing.T, c *kajtest.Client, app string) (string, []map[string]any) {
	t.Helper()
	return c.WaitJob(startDeploy(t, c, app), 4*time.Minute)
}

func startDeploy(t *testing.T, c *kajtest.Client, app string) string {
	t.Helper()
	var job struct {
		Job string `json:"job"`
	}
	if code := c.JSON("POST", "/api/v1/apps/"+app+"/deploy", nil, &job); code != http.StatusAccepted {
		t.Fatalf("deploy %s: status %d", app, code)
	}
	return job.Job
}

// failure is the message of a job's failed step or of its end.
func failure(events []map[string]any) string {
	var out []string
	for _, e := range events {
		if e["status"] == "failed" {
			if m, _ := e["message"].(string); m != "" {
				out = append(out, m)
			}
		}
	}
	return strings.Join(out, " | ")
}

// instanceOf reads a kaj's instance ID from its /healthz.
func instanceOf(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Instance string `json:"instance"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.Instance == "" {
		t.Fatalf("/healthz gives no instance ID (%v)", err)
	}
	return h.Instance
}

// engineOf is an engine client kept to one kaj instance's objects, as
// that kaj keeps itself.
func engineOf(t *testing.T, env *testutil.Env, instance string) *runtime.Docker {
	t.Helper()
	d, err := runtime.NewDocker("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.SetScope(runtime.Scope{Instance: instance, Labels: env.Labels()}); err != nil {
		t.Fatal(err)
	}
	return d
}

// sql runs statements in app's MariaDB database container with the
// app's own account and returns the output.
func sql(t *testing.T, d *runtime.Docker, env *testutil.Env, app, stmt string) string {
	t.Helper()
	name := d.Names(app).Database
	insp, err := env.Client.ContainerInspect(context.Background(), name, mclient.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspecting %s: %v", name, err)
	}
	var pw string
	for _, e := range insp.Container.Config.Env {
		if v, ok := strings.CutPrefix(e, "MYSQL_PASSWORD="); ok {
			pw = v
		}
	}
	db := strings.ReplaceAll(app, "-", "_")
	var out, errb bytes.Buffer
	code, err := d.Exec(context.Background(), name, runtime.ExecOptions{
		Env: []string{"MYSQL_PWD=" + pw}, Cmd: []string{"mariadb", "-h", "127.0.0.1", "-u", db, db, "-N", "-e", stmt},
		Stdout: &out, Stderr: &errb,
	})
	if err != nil || code != 0 {
		t.Fatalf("%s in %s: exit %d, %v: %s", stmt, name, code, err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// visit asks url and returns the status, or 0 when nothing answers.
func visit(url string) (int, string) {
	resp, err := kajtest.Visitor.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls fn until it returns "" or the time is up, then fails
// with its last answer.
func eventually(t *testing.T, within time.Duration, fn func() string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if last = fn(); last == "" {
			return
		}
	}
	t.Fatal(last)
}

func must(t *testing.T, code int, raw []byte, want int, what string) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: status %d, want %d: %s", what, code, want, raw)
	}
}

package api

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestSecrets_failingAppLeavesNoneInTheStore: an app that prints its
// configuration while it fails its health check — a secret env value,
// DATABASE_URL with the database password, a URL with a password set by
// hand — leaves none of them in the store file: not in the release's log
// tail, not in the trail, not in the job, and not after the app is deleted
// with its data.
func TestSecrets_failingAppLeavesNoneInTheStore(t *testing.T) {
	env := testutil.NewEnv(t)
	appImage := env.TestAppImageAs("kaj-e2e-app", "PORT=5000")
	dbImage := env.TestAppImageAs("kaj-e2e-fakedb", "FAKE_MYSQL_PORT=3306", "PORT=8081")
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("leaky")

	apiKey := "key-" + rand.Text()
	dbPassword := "pw/" + rand.Text() + "+@"
	// A URL in plain env is plain configuration the app's definition and
	// releases keep as the user wrote it; what the app prints of it is
	// masked all the same.
	cachePassword := "cache-" + rand.Text()
	secrets := map[string]string{
		"secret env value":    apiKey,
		"database password":   dbPassword,
		"its URL form":        url.PathEscape(dbPassword),
		"DATABASE_URL's form": strings.NewReplacer("/", "%2F", "+", "%2B", "@", "%40").Replace(dbPassword),
	}
	printed := map[string]string{"password in a URL env": cachePassword}
	for k, v := range secrets {
		printed[k] = v
	}
	in := map[string]any{
		"name": name, "image": appImage, "port": 5000, "health_path": "/healthz",
		"health": map[string]any{"retries": 2, "interval": "200ms"},
		"env": []map[string]any{
			{"name": "PRINT_ENV", "value": "1"},
			{"name": "HEALTH_STATUS", "value": "500"},
			{"name": "API_KEY", "value": apiKey, "secret": true},
			{"name": "CACHE_URL", "value": "redis://:" + cachePassword + "@cache:6379/0"},
		},
		"database": map[string]any{"kind": "mysql", "image": dbImage, "password": dbPassword},
	}
	if code, body := c.Do("POST", "/api/v1/apps", in); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	leaksOf := func(secrets map[string]string, where string, b []byte) {
		t.Helper()
		for what, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the %s %q", where, what, s)
			}
		}
	}
	leaks := func(where string, b []byte) { t.Helper(); leaksOf(printed, where, b) }

	job := startJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil)
	status, events := c.WaitJob(job, 3*time.Minute)
	if status != "failed" {
		t.Fatalf("deploy of an app failing its health check: %s %v", status, events)
	}
	streamed, _ := json.Marshal(events)
	leaks("the job's stream", streamed)
	// The app did print them: the tail shows where they were.
	if !bytes.Contains(streamed, []byte("API_KEY=[redacted]")) || !bytes.Contains(streamed, []byte("@dbserver")) {
		t.Fatalf("the job's log tail does not show the app's printed env, redacted: %s", streamed)
	}
	_, jobBody := c.Do("GET", "/api/v1/jobs/"+job, nil)
	leaks("GET /jobs/"+job, jobBody)
	var rels []struct {
		Error string `json:"error"`
		Steps []struct {
			Detail string `json:"detail"`
		} `json:"steps"`
	}
	c.JSON("GET", "/api/v1/apps/"+name+"/releases", nil, &rels)
	if len(rels) != 1 || !strings.Contains(rels[0].Error, "[redacted]") {
		t.Fatalf("the failed release keeps no redacted log tail: %+v", rels)
	}
	failure, _ := json.Marshal(rels)
	leaks("the release's error and steps", failure)
	_, trail := c.Do("GET", "/api/v1/events?limit=50", nil)
	leaks("the trail", trail)

	dbFile := filepath.Join(k.Config.Data.Dir, "kaj.db")
	raw, err := os.ReadFile(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	leaksOf(secrets, "kaj.db after the failed deploy", raw)

	if code, body := c.Do("DELETE", "/api/v1/apps/"+name+"?data=true", nil); code >= 300 {
		t.Fatalf("delete with data: %d %s", code, body)
	}
	_, trail = c.Do("GET", "/api/v1/events?limit=50", nil)
	if !bytes.Contains(trail, []byte("deploy.fail")) {
		t.Fatalf("the trail lost the failed deploy with the app: %s", trail)
	}
	leaks("the trail after delete", trail)
	if raw, err = os.ReadFile(dbFile); err != nil {
		t.Fatal(err)
	}
	leaksOf(secrets, "kaj.db after delete with data", raw)
}

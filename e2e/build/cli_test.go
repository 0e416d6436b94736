package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// cli runs the kaj binary as a user would, against p with a token.
func cli(t *testing.T, p *kajtest.Process, token string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kajtest.Binary(t), args...)
	cmd.Env = append(os.Environ(), "KAJ_URL="+p.URL, "KAJ_TOKEN="+token, "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// token creates an API token for the CLI.
func token(t *testing.T, c *kajtest.Client) string {
	t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	if code := c.JSON("POST", "/api/v1/tokens", map[string]string{"name": "cli"}, &tok); code != 201 || tok.Token == "" {
		t.Fatalf("creating a token: %d", code)
	}
	return tok.Token
}

// TestCLI_deployContext: `kaj deploy APP --context DIR --dockerfile
// DIR/Dockerfile_prod` uploads the folder (its .dockerignore honoured on
// the client), builds, deploys and exits 0 with the build output; a
// Dockerfile that the engine cannot build, and one with an error-level
// lint finding, make it exit non-zero with the reason, and the app keeps
// serving the release before.
func TestCLI_deployContext(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	p := kajtest.StartProcess(t, env, "")
	c := p.Login(t)
	tok := token(t, c)
	name := env.Name("cli")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "port": 8080, "health_path": "/healthz", "source": map[string]any{}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	dir := t.TempDir()
	files := map[string][]byte{
		"testapp": testappBinary(t), "VERSION": []byte("cli-1\n"), "Dockerfile_prod": dockerfile("cli-1"),
		".dockerignore": []byte("notes/\n"), "notes/todo.txt": []byte("stays on the laptop\n"),
	}
	for n, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	out, err := cli(t, p, tok, "deploy", name, "--context", dir, "--dockerfile", filepath.Join(dir, "Dockerfile_prod"))
	if err != nil {
		t.Fatalf("kaj deploy: %v\n%s", err, out)
	}
	t.Logf("kaj deploy --context: %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"1 left out by .dockerignore", "Step 1/", "Successfully tagged kaj/" + name, "done"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	var v appView
	c.JSON("GET", "/api/v1/apps/"+name, nil, &v)
	if code, body := kajtest.Visit(t, v.URL+"/file?path=/ctx/VERSION"); code != 200 || body != "cli-1\n" {
		t.Fatalf("after kaj deploy: %d %q", code, body)
	}
	if code, _ := kajtest.Visit(t, v.URL+"/file?path=/ctx/notes/todo.txt"); code != 404 {
		t.Fatalf("an ignored file reached the image: %d", code)
	}
	if out, err := cli(t, p, tok, "apps"); err != nil || !strings.Contains(out, name) || !strings.Contains(out, "upload kaj/"+name+":1") {
		t.Fatalf("kaj apps: %v\n%s", err, out)
	}

	t.Run("engine error", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "Dockerfile_prod"), []byte("FROM scratch\nCOPY missing-file /x\n"), 0o644)
		out, err := cli(t, p, tok, "deploy", name, "--context", dir, "--dockerfile", filepath.Join(dir, "Dockerfile_prod"))
		if err == nil || !strings.Contains(out, "missing-file") {
			t.Fatalf("a broken Dockerfile: err %v\n%s", err, out)
		}
	})
	t.Run("lint error", func(t *testing.T) {
		os.WriteFile(filepath.Join(dir, "Dockerfile_prod"), []byte("FROM scratch\nWORKDIR app\nCOPY testapp /testapp\n"), 0o644)
		out, err := cli(t, p, tok, "deploy", name, "--context", dir, "--dockerfile", filepath.Join(dir, "Dockerfile_prod"))
		if err == nil || !strings.Contains(out, "DL3000") || strings.Contains(out, "Step 1/") {
			t.Fatalf("a lint error: err %v\n%s", err, out)
		}
	})
	if code, body := kajtest.Visit(t, v.URL+"/file?path=/ctx/VERSION"); code != 200 || body != "cli-1\n" {
		t.Fatalf("after the failed deploys the app serves %d %q", code, body)
	}
}

// TestCLI_envRollbackLogs: after an upload, `kaj env set` and a plain
// `kaj deploy` run the built image with the new env (no new upload
// needed), `kaj rollback` goes back, `kaj logs` prints the app's log,
// and `kaj apps --json` is JSON.
func TestCLI_envRollbackLogs(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	p := kajtest.StartProcess(t, env, "")
	c := p.Login(t)
	tok := token(t, c)
	name := env.Name("cli2")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "port": 8080, "health_path": "/healthz", "source": map[string]any{},
		"env": []map[string]any{{"name": "LOG_EVERY", "value": "200ms"}}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "testapp"), testappBinary(t), 0o755)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), dockerfile("env-1"), 0o644)
	if out, err := cli(t, p, tok, "deploy", name, "--context", dir); err != nil {
		t.Fatalf("kaj deploy --context: %v\n%s", err, out)
	}
	if out, err := cli(t, p, tok, "env", "set", name, "GREETING=hello"); err != nil || !strings.Contains(out, "env updated") {
		t.Fatalf("kaj env set: %v\n%s", err, out)
	}
	out, err := cli(t, p, tok, "deploy", name)
	if err != nil || !strings.Contains(out, "reusing the image release 1 built") {
		t.Fatalf("kaj deploy after env set: %v\n%s", err, out)
	}
	var v appView
	c.JSON("GET", "/api/v1/apps/"+name, nil, &v)
	if code, body := kajtest.Visit(t, v.URL+"/env"); code != 200 || !strings.Contains(body, `"GREETING":"hello"`) {
		t.Fatalf("after env set and deploy: %d %s", code, body)
	}
	// The release went live at its first answer: its first tick (every
	// 200ms) may be a moment away.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := cli(t, p, tok, "logs", "--tail", "5", name)
		if err == nil && strings.Contains(out, "tick") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kaj logs: %v\n%s", err, out)
		}
	}
	if out, err := cli(t, p, tok, "rollback", name); err != nil {
		t.Fatalf("kaj rollback: %v\n%s", err, out)
	}
	if code, body := kajtest.Visit(t, v.URL+"/env"); code != 200 || strings.Contains(body, "GREETING") {
		t.Fatalf("after the rollback: %d %s", code, body)
	}
	if out, err := cli(t, p, tok, "apps", "--json"); err != nil || !strings.HasPrefix(strings.TrimSpace(out), "[") {
		t.Fatalf("kaj apps --json: %v\n%s", err, out)
	}
}

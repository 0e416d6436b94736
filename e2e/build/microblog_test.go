package build

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/microblog/image"
)

// microblogFolder lays out a copy of the microblog folder as a user has
// it after compiling: Dockerfile_prod, its .dockerignore, some sources
// (which must stay out of the image) and the binary with an empty data
// folder, as `go build -o microblog ./cmd/microblog && mkdir data` leave
// them.
func microblogFolder(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"Dockerfile_prod", "Dockerfile_prod.dockerignore", "microblog.go", "README.md"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "microblog", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := image.Compile(ctx, filepath.Join(dir, "microblog"), "linux", ""); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBuild_microblogFolder: the Microblog sample is built by kaj from
// its own folder with its Dockerfile_prod (kaj deploy --context .), in
// place of build.sh's docker build, and serves.
func TestBuild_microblogFolder(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	dir := microblogFolder(t)
	p := kajtest.StartProcess(t, env, "")
	c := p.Login(t)
	tok := token(t, c)
	name := env.Name("microblog")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "port": 5000, "health_path": "/healthz", "source": map[string]any{"dockerfile": "Dockerfile_prod"},
		"env": []map[string]any{{"name": "SECRET_KEY", "value": "test-secret", "secret": true}}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	out, err := cli(t, p, tok, "deploy", name, "--context", dir)
	if err != nil {
		t.Fatalf("kaj deploy: %v\n%s", err, out)
	}
	if !strings.Contains(out, "2 left out by .dockerignore") {
		t.Fatalf("the sources were not left out:\n%s", out)
	}
	var v appView
	c.JSON("GET", "/api/v1/apps/"+name, nil, &v)
	if code, body := kajtest.Visit(t, v.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("microblog /healthz: %d %s", code, body)
	}
}

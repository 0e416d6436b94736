package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/build"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/store"
)

// TestBench_build measures, in one run (KAJ_BENCH=1): building the
// Microblog image through kaj's build pipeline (tar the folder with its
// .dockerignore, unpack as an upload, lint, engine build, decode the
// stream) against `docker build` of the same folder with the same
// builder, each from a cold cache for the changed layers; a no-change
// rebuild; and git push to live for a small app through the webhook.
func TestBench_build(t *testing.T) {
	if os.Getenv("KAJ_BENCH") != "1" {
		t.Skip("set KAJ_BENCH=1 to run the build benchmarks")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is needed for the comparison")
	}
	env := testutil.NewEnv(t)
	dir := microblogFolder(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, err := build.New(build.Options{Engine: env.Client, Labels: env.Labels(), WorkDir: t.TempDir(), KeepImages: 100})
	if err != nil {
		t.Fatal(err)
	}
	app := env.Name("bench")
	src := store.Source{Dockerfile: "Dockerfile_prod"}
	// bust changes data/, so every build from the COPY of data on runs
	// again: a cold build of the app's own layers, as after a code change.
	bust := func() {
		r := make([]byte, 8)
		rand.Read(r)
		os.WriteFile(filepath.Join(dir, "data", ".bust"), []byte(hex.EncodeToString(r)), 0o644)
	}
	var release uint64
	kajBuild := func() time.Duration {
		release++
		start := time.Now()
		var buf bytes.Buffer
		if _, _, err := build.WriteContext(&buf, dir, "Dockerfile_prod"); err != nil {
			t.Fatal(err)
		}
		up, err := build.Receive(&buf, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer up.Close()
		if _, err := b.Build(ctx, build.Request{App: app, Release: release, Source: src, Upload: up}, nil); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	n := 0
	dockerBuild := func() time.Duration {
		n++
		tag := fmt.Sprintf("kaj-bench-docker-%s:%d", env.ID, n)
		start := time.Now()
		cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-f", filepath.Join(dir, "Dockerfile_prod"), "--label", testutil.Label+"="+env.ID, "-t", tag, dir)
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker build: %v\n%s", err, out)
		}
		d := time.Since(start)
		t.Cleanup(func() { env.Client.ImageRemove(context.Background(), tag, mclient.ImageRemoveOptions{}) })
		return d
	}
	// Warm both once (the FROM scratch and LABEL layers are shared).
	bust()
	kajBuild()
	dockerBuild()
	const rounds = 5
	var kt, dt []time.Duration
	for i := 0; i < rounds; i++ {
		bust()
		kt = append(kt, kajBuild())
		bust()
		dt = append(dt, dockerBuild())
	}
	km, dm := median(kt), median(dt)
	t.Logf("Microblog image, changed layers rebuilt (median of %d): kaj %s, docker build %s, ratio %.2fx", rounds, km.Round(time.Millisecond), dm.Round(time.Millisecond), float64(km)/float64(dm))
	t.Logf("  kaj %v\n  docker %v", kt, dt)

	var nt, dn []time.Duration
	for i := 0; i < rounds; i++ {
		nt = append(nt, kajBuild())
		dn = append(dn, dockerBuild())
	}
	t.Logf("no-change rebuild (median of %d): kaj %s, docker build %s, ratio %.2fx", rounds, median(nt).Round(time.Millisecond), median(dn).Round(time.Millisecond), float64(median(nt))/float64(median(dn)))

	// git push to live, through the webhook.
	g := testutil.NewGitServer(t)
	repo, _ := appRepo(t, g, "small")
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("push")
	const secret = "bench-secret"
	c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "port": 8080, "health_path": "/healthz",
		"source": map[string]any{"repo": repo.URL, "context": "app", "dockerfile": "Dockerfile_prod", "webhook_secret": secret}}, nil)
	if st, ev := c.WaitJob(startJob(t, c, "/api/v1/apps/"+name+"/build"), 3*time.Minute); st != "succeeded" {
		t.Fatalf("first build: %s\n%s", st, messages(ev))
	}
	var pt []time.Duration
	for i := 2; i <= 4; i++ {
		start := time.Now()
		version := fmt.Sprintf("v%d", i)
		commit := repo.Commit("main", version, map[string][]byte{"app/VERSION": []byte(version + "\n")})
		body := pushPayload("refs/heads/main", commit)
		code, res := hook(t, k.URL, name, body, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": version, "X-Hub-Signature-256": "sha256=" + sign(secret, body)})
		if code != 202 {
			t.Fatalf("webhook: %d %v", code, res)
		}
		if st, ev := c.WaitJob(fmt.Sprint(res["job"]), 3*time.Minute); st != "succeeded" {
			t.Fatalf("build: %s\n%s", st, messages(ev))
		}
		pt = append(pt, time.Since(start))
	}
	t.Logf("git push to live (commit, push, webhook, build, deploy; median of 3): %s %v", median(pt).Round(time.Millisecond), pt)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

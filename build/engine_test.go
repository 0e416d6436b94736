package build_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/build"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/store"
)

// appRepo pushes a repository whose app/Dockerfile_prod builds the
// testapp binary FROM scratch, with a .dockerignore that keeps
// app/secret.txt out, and returns it with the first commit.
func appRepo(t *testing.T, g *testutil.GitServer, name, version string) (*testutil.GitRepo, string) {
	t.Helper()
	bin, err := testutil.TestAppBinary()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	r := g.Repo(name)
	commit := r.Commit("main", "first", map[string][]byte{
		"README.md":           []byte("not in the context\n"),
		"app/testapp":         data,
		"app/VERSION":         []byte(version + "\n"),
		"app/secret.txt":      []byte("must stay out of the image\n"),
		"app/.dockerignore":   []byte("secret.txt\n"),
		"app/Dockerfile_prod": []byte("FROM scratch\nCOPY testapp /testapp\nCOPY . /ctx/\nENV VERSION=" + version + "\nEXPOSE 8080\nENTRYPOINT [\"/testapp\"]\n"),
	}, "app/testapp")
	return r, commit
}

// TestBuild_git: a repository's app/Dockerfile_prod is fetched over
// git://, built by the engine with the commit recorded and tagged, the
// .dockerignore'd file left out; the same commit built again comes from
// the layer cache.
func TestBuild_git(t *testing.T) {
	env := testutil.NewEnv(t)
	g := testutil.NewGitServer(t)
	repo, commit := appRepo(t, g, "web", "v1")
	b, err := build.New(build.Options{Engine: env.Client, Labels: env.Labels(), WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	app := env.Name("web")
	src := store.Source{Repo: repo.URL, Context: "app", Dockerfile: "Dockerfile_prod"}
	var lines []string
	emit := func(e jobs.Event) {
		if e.Type == jobs.TypeLog || e.Type == jobs.TypeStep {
			lines = append(lines, e.Step+": "+e.Status+" "+e.Message)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := b.Build(ctx, build.Request{App: app, Release: 1, Source: src}, emit)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, strings.Join(lines, "\n"))
	}
	first := time.Since(start)
	if out.Commit != commit || out.ImageID == "" || out.Tags[0] != build.Tag(app, 1) || out.Tags[1] != "kaj/"+app+":"+commit[:12] {
		t.Fatalf("build record %+v (commit %s)", out, commit)
	}
	joined := strings.Join(lines, "\n")
	if !strings.Contains(joined, "Step 1/7 : FROM scratch") || !strings.Contains(joined, "1 kept out by .dockerignore") {
		t.Fatalf("build output lacks the engine's steps or the ignore count:\n%s", joined)
	}
	img, err := env.Client.ImageInspect(ctx, out.Tags[0])
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Labels[testutil.Label] != env.ID {
		t.Fatalf("labels %v", img.Config.Labels)
	}

	start = time.Now()
	again, err := b.Build(ctx, build.Request{App: app, Release: 2, Source: src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first build %s, rebuild of the same commit %s (%d steps from cache)", first.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), again.Cached)
	if again.ImageID != out.ImageID || again.Cached < 6 {
		t.Fatalf("rebuild of the same commit: image %s (first %s), %d cached steps", again.ImageID, out.ImageID, again.Cached)
	}

	t.Run("unknown ref", func(t *testing.T) {
		s := src
		s.Ref = "nope"
		_, err := b.Build(ctx, build.Request{App: app, Release: 3, Source: s}, nil)
		if err == nil || !strings.Contains(err.Error(), `no branch or tag "nope"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("push", func(t *testing.T) {
		reg := testutil.NewMemRegistry(t)
		rc, err := registry.New(registry.Options{Engine: env.Client, Insecure: []string{reg.Host}})
		if err != nil {
			t.Fatal(err)
		}
		pb, _ := build.New(build.Options{Engine: env.Client, Pusher: rc, Labels: env.Labels(), WorkDir: t.TempDir()})
		s := src
		s.Push = reg.Host + "/team/" + app
		var steps []string
		res, err := pb.Build(ctx, build.Request{App: app, Release: 7, Source: s}, func(e jobs.Event) {
			if e.Type == jobs.TypeStep && e.Status == jobs.StatusSucceeded {
				steps = append(steps, e.Step)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(res.Pushed, reg.Host+"/team/"+app+"@sha256:") || steps[len(steps)-1] != build.StepPush {
			t.Fatalf("pushed %q, steps %v", res.Pushed, steps)
		}
		got, err := rc.Resolve(ctx, reg.Host+"/team/"+app+":7")
		if err != nil || got.ID != res.ImageID {
			t.Fatalf("the registry's %s:7 is %+v (%v); built %s", s.Push, got, err, res.ImageID)
		}
	})
	t.Run("prune", func(t *testing.T) {
		pb, _ := build.New(build.Options{Engine: env.Client, Labels: env.Labels(), WorkDir: t.TempDir(), KeepImages: 1})
		s := src
		for i := uint64(10); i < 12; i++ {
			if _, err := pb.Build(ctx, build.Request{App: app, Release: i, Source: s}, nil); err != nil {
				t.Fatal(err)
			}
		}
		// Same content, same image: every tag lands on one image, which
		// is the newest and kept.
		res, err := env.Client.ImageList(ctx, mclient.ImageListOptions{Filters: mclient.Filters{}.Add("reference", build.Repository(app))})
		if err != nil || len(res.Items) != 1 {
			t.Fatalf("images %v %v", res.Items, err)
		}
	})
}

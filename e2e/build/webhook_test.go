package build

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestBuild_gitWebhook: an app built from a repository's
// app/Dockerfile_prod over git:// is deployed and answers, without the
// file its .dockerignore names; a second commit pushed and announced by
// a GitHub-signed webhook is built and goes live; a bad signature, a
// replayed delivery and a push to another branch are refused with their
// statuses and recorded; a second build while one runs is refused
// (409); a rebuild of the same commit comes from the
// engine's cache.
func TestBuild_gitWebhook(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	g := testutil.NewGitServer(t)
	repo, first := appRepo(t, g, "web")
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("src")
	const secret = "webhook-secret-for-the-test"
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "port": 8080, "health_path": "/healthz",
		"source": map[string]any{"repo": repo.URL, "context": "app", "dockerfile": "Dockerfile_prod", "webhook_secret": secret}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	start := time.Now()
	job := startJob(t, c, "/api/v1/apps/"+name+"/build")
	// One build per app at a time.
	if code := c.JSON("POST", "/api/v1/apps/"+name+"/build", nil, nil); code != 409 {
		t.Errorf("a second build while one runs: %d, want 409", code)
	}
	st, ev := c.WaitJob(job, 3*time.Minute)
	if st != "succeeded" {
		t.Fatalf("first build: %s\n%s", st, messages(ev))
	}
	t.Logf("first build and deploy: %s", time.Since(start).Round(time.Millisecond))
	if out := messages(ev); !strings.Contains(out, "Step 1/") || !strings.Contains(out, "1 kept out by .dockerignore") {
		t.Fatalf("the job lacks the build output:\n%s", out)
	}
	var v appView
	c.JSON("GET", "/api/v1/apps/"+name, nil, &v)
	if v.Live == nil || v.Live.Build == nil || v.Live.Build.Commit != first || v.Source.WebhookSecret != "" || !v.Source.HasWebhookSecret {
		t.Fatalf("app after the build: %+v live %+v", v.Source, v.Live)
	}
	if code, body := kajtest.Visit(t, v.URL+"/file?path=/ctx/VERSION"); code != 200 || body != "v1\n" {
		t.Fatalf("VERSION: %d %q", code, body)
	}
	if code, _ := kajtest.Visit(t, v.URL+"/file?path=/ctx/secret.txt"); code != 404 {
		t.Fatalf("secret.txt reached the image: %d", code)
	}

	// A second commit, announced by GitHub.
	second := repo.Commit("main", "second", map[string][]byte{"app/VERSION": []byte("v2\n"), "app/Dockerfile_prod": dockerfile("v2")})
	body := pushPayload("refs/heads/main", second)
	gh := map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-1", "X-Hub-Signature-256": "sha256=" + sign(secret, body)}
	pushed := time.Now()
	code, res := hook(t, k.URL, name, body, gh)
	if code != 202 || res["action"] != "build" || res["job"] == nil {
		t.Fatalf("webhook: %d %v", code, res)
	}
	if st, ev := c.WaitJob(fmt.Sprint(res["job"]), 3*time.Minute); st != "succeeded" {
		t.Fatalf("webhook build: %s\n%s", st, messages(ev))
	}
	t.Logf("webhook to live: %s", time.Since(pushed).Round(time.Millisecond))
	if code, body := kajtest.Visit(t, v.URL+"/env"); code != 200 || !strings.Contains(body, `"VERSION":"v2"`) {
		t.Fatalf("after the webhook: %d %s", code, body)
	}
	c.JSON("GET", "/api/v1/apps/"+name, nil, &v)
	if v.Live.Build.Commit != second {
		t.Fatalf("live commit %s, want %s", v.Live.Build.Commit, second)
	}

	t.Run("refusals", func(t *testing.T) {
		if code, res := hook(t, k.URL, name, body, gh); code != 409 {
			t.Errorf("replayed delivery: %d %v", code, res)
		}
		bad := map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-2", "X-Hub-Signature-256": "sha256=" + sign("wrong", body)}
		if code, res := hook(t, k.URL, name, body, bad); code != 401 {
			t.Errorf("bad signature: %d %v", code, res)
		}
		if code, res := hook(t, k.URL, name, body, map[string]string{"X-GitHub-Delivery": "delivery-3"}); code != 401 {
			t.Errorf("no signature: %d %v", code, res)
		}
		other := pushPayload("refs/heads/dev", second)
		gitea := map[string]string{"X-Gitea-Event": "push", "X-Gitea-Delivery": "delivery-4", "X-Gitea-Signature": sign(secret, other)}
		if code, res := hook(t, k.URL, name, other, gitea); code != 202 || res["action"] != "ignored" || !strings.Contains(fmt.Sprint(res["reason"]), "refs/heads/dev") {
			t.Errorf("another branch (Gitea): %d %v", code, res)
		}
		if code, res := hook(t, k.URL, name, other, map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong"}); code != 401 {
			t.Errorf("GitLab with a wrong token: %d %v", code, res)
		}
		if code, _ := hook(t, k.URL, "no-such-app", body, gh); code != 404 {
			t.Errorf("unknown app: %d", code)
		}
		var events []struct {
			Action string `json:"action"`
			Target string `json:"target"`
			Detail string `json:"detail"`
		}
		c.JSON("GET", "/api/v1/events?limit=50", nil, &events)
		seen := map[string]int{}
		for _, e := range events {
			if e.Target == name {
				seen[e.Action]++
			}
		}
		if seen["webhook.push"] < 2 || seen["webhook.refuse"] < 3 {
			t.Errorf("event trail: %v", seen)
		}
	})

	t.Run("rebuild from cache", func(t *testing.T) {
		start := time.Now()
		if st, ev := c.WaitJob(startJob(t, c, "/api/v1/apps/"+name+"/build"), 3*time.Minute); st != "succeeded" {
			t.Fatalf("rebuild: %s\n%s", st, messages(ev))
		}
		c.JSON("GET", "/api/v1/apps/"+name, nil, &v)
		t.Logf("rebuild of the same commit and deploy: %s, %d steps from cache", time.Since(start).Round(time.Millisecond), v.Live.Build.Cached)
		if v.Live.Build.Commit != second || v.Live.Build.Cached < 6 {
			t.Fatalf("rebuild: %+v", v.Live.Build)
		}
	})
}

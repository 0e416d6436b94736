package dashboard

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestDashboard_buildFromSource: an app with a git repository shows its
// Source card (repository, branch, Dockerfile, the webhook URL with its
// secret on request); "Build & deploy" streams the engine's build output
// into the deploy panel line by line and the new commit shows as live.
func TestDashboard_buildFromSource(t *testing.T) {
	env := testutil.NewEnv(t)
	g := testutil.NewGitServer(t)
	bin, err := testutil.TestAppBinary()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	repo := g.Repo("site")
	commit := repo.Commit("main", "first", map[string][]byte{
		"app/testapp":         data,
		"app/Dockerfile_prod": []byte("FROM scratch\nCOPY testapp /testapp\nEXPOSE 8080\nENTRYPOINT [\"/testapp\"]\n"),
	}, "app/testapp")
	k := kajtest.Start(t, env)
	api := k.Login(t)
	name := env.Name("site")
	if code := api.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "port": 8080, "health_path": "/healthz",
		"source": map[string]any{"repo": repo.URL, "context": "app", "dockerfile": "Dockerfile_prod", "webhook_secret": "shown-on-request"}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	b := newBrowser(t, k.URL)
	b.open("/")
	login(b, k.Password)
	b.open("/apps/" + name)
	b.waitFor("the Source card", `document.querySelector("#source-card") !== null`, 10*time.Second)
	card := eval[string](b, `document.querySelector("#source-card").innerText`)
	for _, want := range []string{repo.URL, "main", "app/Dockerfile_prod", k.URL + "/api/v1/hooks/" + name} {
		if !strings.Contains(card, want) {
			t.Errorf("the Source card lacks %q: %q", want, card)
		}
	}
	if label := eval[string](b, `document.querySelector("#deploy-btn").innerText`); !strings.Contains(label, "Build & deploy") {
		t.Errorf("the deploy button says %q", label)
	}
	b.click(`#source-card button[data-webhook="secret"]`)
	b.waitFor("the webhook secret", `document.querySelector("#source-card .webhook-secret").innerText === "shown-on-request"`, 10*time.Second)

	b.click("#deploy-btn")
	const output = `(document.querySelector('#deploy-panel [data-output="build"] pre') || {textContent: ""}).textContent`
	b.waitFor("build output in the deploy panel", output+`.includes("Step 1/")`, 2*time.Minute)
	b.waitFor("the build and deploy to end", `["succeeded","failed","canceled"].includes(document.querySelector("#deploy-panel").dataset.status)`, 3*time.Minute)
	if st := eval[string](b, `document.querySelector("#deploy-panel").dataset.status`); st != "succeeded" {
		b.screenshot("failure-build")
		t.Fatalf("build %s: %s", st, eval[string](b, `document.querySelector("#deploy-panel").innerText`))
	}
	out := eval[string](b, output)
	if !strings.Contains(out, "Successfully tagged kaj/"+name+":1") {
		t.Fatalf("the build output lacks the tag: %q", out)
	}
	b.waitFor("the live commit on the Source card", `document.querySelector("#source-card").innerText.includes(`+js(commit[:12])+`)`, 20*time.Second)
	time.Sleep(6 * time.Second) // one overview refresh: the webhook URL stays whole
	if u := eval[string](b, `document.querySelector("#source-card .webhook-url").innerText`); u != k.URL+"/api/v1/hooks/"+name {
		t.Errorf("webhook URL after a refresh: %q", u)
	}
	b.screenshot("app-source")
}

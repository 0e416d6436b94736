package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kajhq/kaj/store"
)

// TestPages_appSource: an app built from a repository shows its Source
// card (repository, branch, Dockerfile in its folder, the webhook URL
// with copy and reveal, the last commit and build time, the last build's
// lint findings) and a "Build & deploy" button; its secrets never reach
// the page.
func TestPages_appSource(t *testing.T) {
	p := newPageSite(t)
	err := p.st.Update(func(tx *store.Tx) error {
		if _, err := tx.CreateApp(store.App{Name: "web", Port: 8080, Source: &store.Source{
			Repo: "https://git.example.com/me/web.git", Ref: "prod", Context: "app", Dockerfile: "Dockerfile_prod",
			Token: "tok-never-shown", WebhookSecret: "hook-never-shown",
		}}); err != nil {
			return err
		}
		rel, err := tx.CreateRelease(store.Release{App: "web", Image: "kaj/web:1", Status: store.ReleaseLive,
			Build: &store.Build{Commit: "0123456789abcdef0123", ImageID: "sha256:abc", Duration: store.Duration(2_600_000_000),
				Findings: []string{"line 3 DL3059 info: Multiple consecutive RUN instructions."}}})
		_ = rel
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cookie := p.login()
	resp := p.do("GET", "/apps/web", cookie, nil)
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		"https://git.example.com/me/web.git", ">prod<", "app/Dockerfile_prod", "/api/v1/hooks/web</code>", `data-webhook="copy"`,
		"0123456789ab", "built in 2.6s", "DL3059", "Build &amp; deploy", `id="source-form"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the app page lacks %q", want)
		}
	}
	for _, secret := range []string{"tok-never-shown", "hook-never-shown"} {
		if strings.Contains(body, secret) {
			t.Errorf("the page shows the secret %q", secret)
		}
	}
}

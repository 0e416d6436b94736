package apps

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

func TestVerifyWebhook(t *testing.T) {
	const secret = "s3cret"
	body := []byte(`{"ref":"refs/heads/main","after":"abc"}`)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	sig := hex.EncodeToString(m.Sum(nil))
	for name, tc := range map[string]struct {
		headers  map[string]string
		secret   string
		forge    string
		delivery string
		ok       bool
	}{
		"github":         {map[string]string{"X-Hub-Signature-256": "sha256=" + sig, "X-GitHub-Delivery": "d1"}, secret, "github", "d1", true},
		"github bad":     {map[string]string{"X-Hub-Signature-256": "sha256=" + sig[:60] + "0000"}, secret, "github", "", false},
		"github no algo": {map[string]string{"X-Hub-Signature-256": sig}, secret, "github", "", false},
		"gitea":          {map[string]string{"X-Gitea-Signature": sig, "X-Gitea-Delivery": "d2"}, secret, "gitea", "d2", true},
		"forgejo":        {map[string]string{"X-Forgejo-Signature": sig, "X-Forgejo-Delivery": "d3"}, secret, "forgejo", "d3", true},
		"gitlab":         {map[string]string{"X-Gitlab-Token": secret, "X-Gitlab-Event-UUID": "d4"}, secret, "gitlab", "d4", true},
		"gitlab bad":     {map[string]string{"X-Gitlab-Token": "nope"}, secret, "gitlab", "", false},
		"unsigned":       {map[string]string{"X-GitHub-Delivery": "d5"}, secret, "", "", false},
		"no secret":      {map[string]string{"X-Gitlab-Token": ""}, "", "", "", false},
	} {
		t.Run(name, func(t *testing.T) {
			req := WebhookRequest{Body: body, Header: func(n string) string { return tc.headers[n] }}
			forge, delivery, err := verifyWebhook(req, tc.secret)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrWebhookSignature)) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (forge != tc.forge || delivery != tc.delivery) {
				t.Fatalf("forge %q delivery %q", forge, delivery)
			}
		})
	}
}

func TestRefMatches(t *testing.T) {
	for _, tc := range []struct {
		pushed, want string
		ok           bool
	}{
		{"refs/heads/main", "main", true},
		{"refs/heads/dev", "main", false},
		{"refs/tags/v1", "v1", true},
		{"refs/heads/main", "refs/heads/main", true},
		{"refs/tags/main", "refs/heads/main", false},
		{"refs/heads/feature/main", "main", false},
	} {
		if got := refMatches(tc.pushed, tc.want); got != tc.ok {
			t.Errorf("refMatches(%q, %q) = %v", tc.pushed, tc.want, got)
		}
	}
}

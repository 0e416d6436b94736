package apps

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// Webhook errors. Match them with errors.Is.
var (
	// ErrWebhookSignature means the request is not signed with the
	// app's webhook secret (or carries no signature kaj knows).
	ErrWebhookSignature = errors.New("the webhook signature does not match the app's secret")
	// ErrWebhookReplay means the delivery ID was accepted before.
	ErrWebhookReplay = errors.New("this webhook delivery was received before")
)

// WebhookPath is where an app's push webhook is served, under kaj's URL.
func WebhookPath(app string) string { return "/api/v1/hooks/" + app }

// WebhookRequest is a webhook delivery as it arrived: its headers (looked
// up case-insensitively by the caller's func) and its raw body, which
// the signature covers.
type WebhookRequest struct {
	Header func(name string) string
	Body   []byte
}

// WebhookResult says what a delivery did.
type WebhookResult struct {
	// Action is "build" (a build and deploy started), "ignored" (a
	// valid delivery with nothing to build: another branch, a tag, a
	// ping) or "pong".
	Action string    `json:"action"`
	Reason string    `json:"reason,omitempty"`
	Forge  string    `json:"forge"`
	Ref    string    `json:"ref,omitempty"`
	Commit string    `json:"commit,omitempty"`
	Job    *jobs.Job `json:"-"`
}

// push is the part of a push event kaj reads; GitHub, Gitea, Forgejo and
// GitLab all send these two fields.
type push struct {
	Ref   string `json:"ref"`
	After string `json:"after"`
}

// Webhook handles a push delivery for app: it checks the signature
// (GitHub's X-Hub-Signature-256 HMAC-SHA256, Gitea's and Forgejo's
// X-Gitea-Signature / X-Forgejo-Signature HMAC-SHA256, or GitLab's
// X-Gitlab-Token), refuses a replayed delivery ID, and starts a build
// and deploy when the pushed ref is the app's branch or tag. Every
// outcome is recorded in the event trail. Errors: ErrWebhookSignature,
// ErrWebhookReplay, store.ErrNotFound for an app without a repository,
// deploy.ErrBusy while the app is busy.
func (s *Service) Webhook(life context.Context, app string, req WebhookRequest) (WebhookResult, error) {
	a, err := s.opts.Store.App(app)
	if err != nil || !hasRepo(a) {
		// An unknown app and one without a repository look the same to
		// the caller: the URL reveals nothing about what exists.
		return WebhookResult{}, fmt.Errorf("webhook for %q: %w", app, store.ErrNotFound)
	}
	sec, err := s.opts.Store.RevealApp(app)
	if err != nil {
		return WebhookResult{}, err
	}
	forge, delivery, err := verifyWebhook(req, sec.Source.WebhookSecret)
	if err != nil {
		s.audit(store.ActionWebhookDeny, app, err.Error())
		return WebhookResult{}, err
	}
	res := WebhookResult{Forge: forge}
	key := ""
	if delivery != "" {
		key = forge + ":" + delivery
	}
	if err := s.opts.Store.RecordDelivery(app, key); errors.Is(err, store.ErrConflict) {
		s.audit(store.ActionWebhookDeny, app, fmt.Sprintf("%s delivery %s replayed", forge, delivery))
		return res, fmt.Errorf("%w: %s delivery %s", ErrWebhookReplay, forge, delivery)
	} else if err != nil {
		return res, err
	}
	event := req.Header("X-GitHub-Event") + req.Header("X-Gitea-Event") + req.Header("X-Gitlab-Event")
	if event == "ping" || req.Header("X-GitHub-Event") == "ping" {
		return WebhookResult{Action: "pong", Forge: forge}, nil
	}
	var p push
	if err := json.Unmarshal(req.Body, &p); err != nil || p.Ref == "" {
		res.Action, res.Reason = "ignored", "not a push event (no ref in the payload)"
		s.audit(store.ActionWebhook, app, fmt.Sprintf("%s %s: %s", forge, delivery, res.Reason))
		return res, nil
	}
	res.Ref, res.Commit = p.Ref, p.After
	want := a.Source.ResolvedRef()
	if !refMatches(p.Ref, want) {
		res.Action, res.Reason = "ignored", fmt.Sprintf("the push is to %s; %s builds %s", p.Ref, app, want)
		s.audit(store.ActionWebhook, app, fmt.Sprintf("%s %s: %s", forge, delivery, res.Reason))
		return res, nil
	}
	if strings.Trim(p.After, "0") == "" {
		res.Action, res.Reason = "ignored", "the branch was deleted"
		s.audit(store.ActionWebhook, app, fmt.Sprintf("%s %s: %s", forge, delivery, res.Reason))
		return res, nil
	}
	actor := "webhook:" + forge
	j, err := s.startBuild(life, actor, app, nil)
	if err != nil {
		// Not built: the forge's "redeliver" must work once the app is
		// free again.
		if ferr := s.opts.Store.ForgetDelivery(app, key); ferr != nil {
			s.log.Error("forgetting a webhook delivery", "app", app, "err", ferr)
		}
		if errors.Is(err, deploy.ErrBusy) {
			s.audit(store.ActionWebhook, app, fmt.Sprintf("%s %s: push to %s at %s not built: a deploy is running", forge, delivery, p.Ref, short(p.After)))
		}
		return res, err
	}
	res.Action, res.Job = "build", j
	s.audit(store.ActionWebhook, app, fmt.Sprintf("%s %s: push to %s at %s; build job %s", forge, delivery, p.Ref, short(p.After), j.ID))
	return res, nil
}

// refMatches reports whether a pushed ref ("refs/heads/main") is the
// app's branch or tag ("main", "v1", or a full "refs/..." name).
func refMatches(pushed, want string) bool {
	if strings.HasPrefix(want, "refs/") {
		return pushed == want
	}
	return pushed == "refs/heads/"+want || pushed == "refs/tags/"+want
}

// verifyWebhook authenticates a delivery against secret and returns the
// forge that sent it and its delivery ID.
func verifyWebhook(req WebhookRequest, secret string) (forge, delivery string, err error) {
	if secret == "" {
		return "", "", fmt.Errorf("%w: the app has no webhook secret; save its source again to get one", ErrWebhookSignature)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(req.Body)
	sum := mac.Sum(nil)
	checkHex := func(sig string) bool {
		got, err := hex.DecodeString(strings.TrimSpace(sig))
		return err == nil && hmac.Equal(got, sum)
	}
	switch {
	case req.Header("X-Hub-Signature-256") != "" && req.Header("X-Gitea-Signature") == "" && req.Header("X-Forgejo-Signature") == "":
		sig, ok := strings.CutPrefix(req.Header("X-Hub-Signature-256"), "sha256=")
		if !ok || !checkHex(sig) {
			return "github", "", fmt.Errorf("%w (X-Hub-Signature-256)", ErrWebhookSignature)
		}
		return "github", req.Header("X-GitHub-Delivery"), nil
	case req.Header("X-Gitea-Signature") != "" || req.Header("X-Forgejo-Signature") != "":
		forge, sig := "gitea", req.Header("X-Gitea-Signature")
		if sig == "" {
			forge, sig = "forgejo", req.Header("X-Forgejo-Signature")
		}
		if !checkHex(sig) {
			return forge, "", fmt.Errorf("%w (X-%s-Signature)", ErrWebhookSignature, strings.ToUpper(forge[:1])+forge[1:])
		}
		id := req.Header("X-Gitea-Delivery")
		if id == "" {
			id = req.Header("X-Forgejo-Delivery")
		}
		return forge, id, nil
	case req.Header("X-Gitlab-Token") != "":
		if subtle.ConstantTimeCompare([]byte(req.Header("X-Gitlab-Token")), []byte(secret)) != 1 {
			return "gitlab", "", fmt.Errorf("%w (X-Gitlab-Token)", ErrWebhookSignature)
		}
		id := req.Header("X-Gitlab-Event-UUID")
		if id == "" {
			id = req.Header("X-Gitlab-Webhook-UUID")
		}
		return "gitlab", id, nil
	}
	return "", "", fmt.Errorf("%w: no X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token header", ErrWebhookSignature)
}

// RevealWebhookSecret returns app's webhook secret for the user to paste
// into the forge's settings; the request is recorded.
func (s *Service) RevealWebhookSecret(actor, app, from string) (string, error) {
	sec, err := s.opts.Store.RevealApp(app)
	if err != nil {
		return "", err
	}
	if sec.Source.WebhookSecret == "" {
		return "", fmt.Errorf("app %q has no webhook secret: %w", app, store.ErrNotFound)
	}
	if _, err := s.opts.Store.AddEvent(store.Event{Actor: actor, Action: store.ActionWebhookShow, Target: app, Detail: from}); err != nil {
		return "", err
	}
	return sec.Source.WebhookSecret, nil
}

func (s *Service) audit(action store.Action, target, detail string) {
	if _, err := s.opts.Store.AddEvent(store.Event{Actor: "webhook", Action: action, Target: target, Detail: detail}); err != nil {
		s.log.Error("recording a webhook event", "app", target, "err", err)
	}
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

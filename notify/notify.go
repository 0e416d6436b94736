// Package notify tells people what happened to their apps: deploys that
// failed or went live, containers that crashed or restart in a loop,
// failed backups and certificate renewals. It sends to the targets kept
// in the store (generic signed webhooks, Slack- and Discord-compatible
// webhooks, email over SMTP), per app or for all of kaj.
//
// Sending never holds up the caller: Notify queues the event in a
// bounded queue and a worker delivers it. A full queue drops the event
// and logs it; a failed delivery is logged and recorded on its target,
// where the dashboard shows it.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kajhq/kaj/store"
)

// Kind is what a notification is about.
type Kind string

// The kinds of event kaj notifies about. Other packages emit the ones
// they own (a backup's failure, a certificate's) through Notify.
const (
	DeployFailed    Kind = "deploy.failed"
	DeploySucceeded Kind = "deploy.succeeded"
	AppCrashed      Kind = "app.crashed"
	AppRestarting   Kind = "app.restarting"
	BackupFailed    Kind = "backup.failed"
	CertFailed      Kind = "certificate.failed"
	// Test is the "send test" button's.
	Test Kind = "test"
)

// Kinds lists every kind a target can subscribe to.
var Kinds = []Kind{DeployFailed, DeploySucceeded, AppCrashed, AppRestarting, BackupFailed, CertFailed}

// Event is one notification.
type Event struct {
	Kind Kind `json:"kind"`
	// App is the app concerned; empty for kaj-wide events.
	App    string    `json:"app,omitempty"`
	Title  string    `json:"title"`
	Detail string    `json:"detail,omitempty"`
	Time   time.Time `json:"time"`
}

// SignatureHeader carries a generic webhook's HMAC-SHA256 of the body,
// keyed with the target's secret, as "sha256=<hex>".
const SignatureHeader = "X-Kaj-Signature"

// Sign is the SignatureHeader value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Options tune a Notifier.
type Options struct {
	// Queue is how many events may wait; zero means 256.
	Queue int
	// Client sends webhooks; nil means one with a 10-second timeout.
	Client *http.Client
	Logger *slog.Logger
}

// Notifier delivers events to the stored targets. It is safe for
// concurrent use; Run must be running for queued events to go out.
type Notifier struct {
	st      *store.Store
	q       chan Event
	client  *http.Client
	log     *slog.Logger
	dropped atomic.Int64
}

// New returns a Notifier reading targets from st.
func New(st *store.Store, opts Options) *Notifier {
	if opts.Queue == 0 {
		opts.Queue = 256
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Notifier{st: st, q: make(chan Event, opts.Queue), client: opts.Client, log: opts.Logger}
}

// Notify queues e for every target that wants it and returns at once.
// When the queue is full the event is dropped and logged: a burst of
// crashes must never hold up a deploy.
func (n *Notifier) Notify(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	select {
	case n.q <- e:
	default:
		n.dropped.Add(1)
		n.log.Warn("notification queue full; dropping a notification", "kind", e.Kind, "app", e.App)
	}
}

// Dropped is how many events a full queue has dropped.
func (n *Notifier) Dropped() int64 { return n.dropped.Load() }

// Run delivers queued events until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-n.q:
			n.deliver(ctx, e)
		}
	}
}

func (n *Notifier) deliver(ctx context.Context, e Event) {
	var targets []store.NotifyTarget
	if err := n.st.View(func(tx *store.Tx) (err error) { targets, err = tx.NotifyTargets(); return err }); err != nil {
		n.log.Error("reading notification targets", "err", err)
		return
	}
	for _, t := range targets {
		if !wants(t, e) {
			continue
		}
		if err := n.Send(ctx, t.ID, e); err != nil {
			n.log.Warn("notifying", "target", t.Name, "kind", e.Kind, "app", e.App, "err", err)
		}
	}
}

func wants(t store.NotifyTarget, e Event) bool {
	if t.App != "" && t.App != e.App {
		return false
	}
	return len(t.Events) == 0 || slices.Contains(t.Events, string(e.Kind))
}

// Send delivers e to one target now and records the outcome on it: the
// "send test" button's path, and the worker's.
func (n *Notifier) Send(ctx context.Context, id string, e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	var t store.NotifyTarget
	if err := n.st.View(func(tx *store.Tx) (err error) { t, err = tx.RevealNotifyTarget(id); return err }); err != nil {
		return err
	}
	err := n.send(ctx, t, e)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if rerr := n.st.Update(func(tx *store.Tx) error { return tx.RecordNotifyResult(id, msg) }); rerr != nil {
		n.log.Warn("recording a notification's outcome", "target", t.Name, "err", rerr)
	}
	return err
}

func (n *Notifier) send(ctx context.Context, t store.NotifyTarget, e Event) error {
	text := e.Title
	if e.Detail != "" {
		text += "\n" + e.Detail
	}
	switch t.Kind {
	case store.NotifyWebhook:
		body, _ := json.Marshal(e)
		h := http.Header{"Content-Type": {"application/json"}}
		if t.Secret != "" {
			h.Set(SignatureHeader, Sign(t.Secret, body))
		}
		return n.post(ctx, t, body, h)
	case store.NotifySlack:
		body, _ := json.Marshal(map[string]string{"text": text})
		return n.post(ctx, t, body, http.Header{"Content-Type": {"application/json"}})
	case store.NotifyDiscord:
		if len(text) > 2000 { // Discord's limit for content
			text = text[:1997] + "..."
		}
		body, _ := json.Marshal(map[string]string{"content": text})
		return n.post(ctx, t, body, http.Header{"Content-Type": {"application/json"}})
	case store.NotifyEmail:
		return sendMail(t, e, text)
	}
	return fmt.Errorf("target %s: unknown kind %q", t.Name, t.Kind)
}

func (n *Notifier) post(ctx context.Context, t store.NotifyTarget, body []byte, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sending to %s: %w", t.Name, errors.Unwrap(err))
	}
	req.Header = h
	req.Header.Set("User-Agent", "kaj-notify")
	resp, err := n.client.Do(req)
	if err != nil {
		// The URL is a secret for chat webhooks: say the target's name.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap()
		}
		return fmt.Errorf("sending to %s: %w", t.Name, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("sending to %s: the webhook answered %s; check its address", t.Name, resp.Status)
	}
	return nil
}

func sendMail(t store.NotifyTarget, e Event, text string) error {
	host, _, err := net.SplitHostPort(t.SMTPAddr)
	if err != nil {
		return fmt.Errorf("sending mail via %s: %w; give host:port", t.SMTPAddr, err)
	}
	var auth smtp.Auth
	if t.SMTPUser != "" {
		auth = smtp.PlainAuth("", t.SMTPUser, t.Password, host)
	}
	subject := "[kaj] " + e.Title
	var msg strings.Builder
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		t.From, strings.Join(t.To, ", "), strings.ReplaceAll(subject, "\n", " "), e.Time.Format(time.RFC1123Z), strings.ReplaceAll(text, "\n", "\r\n"))
	if err := smtp.SendMail(t.SMTPAddr, auth, t.From, t.To, []byte(msg.String())); err != nil {
		return fmt.Errorf("sending mail via %s: %w", t.SMTPAddr, err)
	}
	return nil
}

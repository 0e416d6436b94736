package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketNotify = []byte("notify")

// migrateNotify adds the bucket of notification targets; it is appended
// to migrations.
func migrateNotify(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketNotify)
	return err
}

// The kinds of notification target.
const (
	NotifyWebhook = "webhook" // JSON POST signed with HMAC-SHA256
	NotifySlack   = "slack"   // Slack-compatible incoming webhook
	NotifyDiscord = "discord" // Discord-compatible webhook
	NotifyEmail   = "email"   // SMTP
)

// NotifyTarget is where kaj sends notifications: for one app, or for
// every app when App is empty.
type NotifyTarget struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// App limits the target to one app; empty means all of kaj.
	App  string `json:"app,omitempty"`
	Kind string `json:"kind"`
	// URL is the webhook's address (webhook, slack, discord). Chat
	// webhook URLs are themselves secrets: it is sealed and read back
	// with its path hidden; see Tx.RevealNotifyTarget.
	URL string `json:"url,omitempty"`
	// Events lists the event kinds sent; empty means all.
	Events []string `json:"events,omitempty"`
	// SMTP settings (email): host:port, the sender and the recipients.
	SMTPAddr string   `json:"smtp_addr,omitempty"`
	SMTPUser string   `json:"smtp_user,omitempty"`
	From     string   `json:"from,omitempty"`
	To       []string `json:"to,omitempty"`
	// Secret signs generic webhooks (X-Kaj-Signature); Password logs in
	// to SMTP. Both are write-only: empty when read back, and an empty
	// value on update keeps the stored one. HasSecret says one is set.
	Secret    string `json:"secret,omitempty"`
	Password  string `json:"password,omitempty"`
	HasSecret bool   `json:"has_secret"`
	// LastError is why the last delivery failed; empty after a success.
	LastError  string     `json:"last_error,omitempty"`
	LastSentAt *time.Time `json:"last_sent_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

type notifyRecord struct {
	NotifyTarget
	SealedURL      []byte `json:"sealed_url,omitempty"`
	SealedSecret   []byte `json:"sealed_secret,omitempty"`
	SealedPassword []byte `json:"sealed_password,omitempty"`
}

func notifyContext(id, field string) string { return "notify/" + id + "/" + field }

// Validate checks a target before it is stored.
func (n *NotifyTarget) Validate(update bool) error {
	switch n.Kind {
	case NotifyWebhook, NotifySlack, NotifyDiscord:
		if n.URL == "" && update {
			break
		}
		u, err := url.Parse(n.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("url", "%q: give the webhook's http:// or https:// address", redactURL(n.URL))
		}
	case NotifyEmail:
		if n.SMTPAddr == "" {
			return invalid("smtp_addr", "give the mail server as host:port, e.g. smtp.example.com:587")
		}
		if _, err := mail.ParseAddress(n.From); err != nil {
			return invalid("from", "%q is not an email address", n.From)
		}
		if len(n.To) == 0 {
			return invalid("to", "give at least one recipient")
		}
		for _, to := range n.To {
			if _, err := mail.ParseAddress(to); err != nil {
				return invalid("to", "%q is not an email address", to)
			}
		}
	default:
		return invalid("kind", "%q: a target is webhook, slack, discord or email", n.Kind)
	}
	if n.Name == "" || len(n.Name) > 64 {
		n.Name = n.Kind
	}
	return nil
}

// redactURL shows a webhook address without the path and query that
// carry its token.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(hidden)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// PutNotifyTarget creates a target (ID empty) or replaces one; write-only
// fields left empty keep their stored values.
func (t *Tx) PutNotifyTarget(n NotifyTarget) (NotifyTarget, error) {
	b := t.tx.Bucket(bucketNotify)
	var old notifyRecord
	update := n.ID != ""
	if update {
		var err error
		if old, err = get[notifyRecord](b, n.ID); err != nil {
			return NotifyTarget{}, fmt.Errorf("notification target %s: %w", n.ID, err)
		}
		n.CreatedAt = old.CreatedAt
	} else {
		var id [6]byte
		rand.Read(id[:])
		n.ID = hex.EncodeToString(id[:])
		n.CreatedAt = t.s.now().UTC()
	}
	if err := n.Validate(update); err != nil {
		return NotifyTarget{}, err
	}
	rec := notifyRecord{SealedURL: old.SealedURL, SealedSecret: old.SealedSecret, SealedPassword: old.SealedPassword}
	for _, f := range []struct {
		plain, name string
		sealed      *[]byte
	}{{n.URL, "url", &rec.SealedURL}, {n.Secret, "secret", &rec.SealedSecret}, {n.Password, "password", &rec.SealedPassword}} {
		if f.plain == "" {
			continue
		}
		s, err := t.s.seal.seal(f.plain, notifyContext(n.ID, f.name))
		if err != nil {
			return NotifyTarget{}, err
		}
		*f.sealed = s
	}
	if n.URL != "" {
		n.URL = redactURL(n.URL)
	} else {
		n.URL = old.URL
	}
	n.Secret, n.Password = "", ""
	n.HasSecret = rec.SealedSecret != nil || rec.SealedPassword != nil
	n.LastError, n.LastSentAt = old.LastError, old.LastSentAt
	rec.NotifyTarget = n
	return n, put(b, n.ID, rec)
}

// NotifyTargets lists the targets, write-only fields empty, URLs
// redacted.
func (t *Tx) NotifyTargets() ([]NotifyTarget, error) {
	recs, err := list[notifyRecord](t.tx.Bucket(bucketNotify))
	out := make([]NotifyTarget, len(recs))
	for i, r := range recs {
		out[i] = r.NotifyTarget
	}
	slices.SortFunc(out, func(a, b NotifyTarget) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// RevealNotifyTarget returns a target with its URL, secret and password.
func (t *Tx) RevealNotifyTarget(id string) (NotifyTarget, error) {
	rec, err := get[notifyRecord](t.tx.Bucket(bucketNotify), id)
	if err != nil {
		return NotifyTarget{}, fmt.Errorf("notification target %s: %w", id, err)
	}
	n := rec.NotifyTarget
	for _, f := range []struct {
		sealed []byte
		name   string
		plain  *string
	}{{rec.SealedURL, "url", &n.URL}, {rec.SealedSecret, "secret", &n.Secret}, {rec.SealedPassword, "password", &n.Password}} {
		if f.sealed == nil {
			continue
		}
		if *f.plain, err = t.s.seal.open(f.sealed, notifyContext(id, f.name)); err != nil {
			return NotifyTarget{}, fmt.Errorf("notification target %s: %w", id, err)
		}
	}
	return n, nil
}

// RecordNotifyResult notes a delivery: errMsg empty for a success.
func (t *Tx) RecordNotifyResult(id, errMsg string) error {
	b := t.tx.Bucket(bucketNotify)
	rec, err := get[notifyRecord](b, id)
	if err != nil {
		return fmt.Errorf("notification target %s: %w", id, err)
	}
	rec.LastError = errMsg
	if errMsg == "" {
		now := t.s.now().UTC()
		rec.LastSentAt = &now
	}
	return put(b, id, rec)
}

// DeleteNotifyTarget removes a target.
func (t *Tx) DeleteNotifyTarget(id string) error {
	b := t.tx.Bucket(bucketNotify)
	if b.Get([]byte(id)) == nil {
		return fmt.Errorf("notification target %s: %w", id, ErrNotFound)
	}
	return b.Delete([]byte(id))
}

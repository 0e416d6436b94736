// Package session keeps a visitor's session in a cookie signed with
// HMAC-SHA256, so the server holds no session state and any instance
// sharing the SECRET_KEY can read it.
//
// The cookie is signed, not encrypted: its content (user id, CSRF token,
// flash messages) is visible to the visitor, who cannot change it.
package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors returned by Decode.
var (
	// ErrInvalid: the value is malformed or its signature does not match,
	// e.g. because it was changed or signed with another key.
	ErrInvalid = errors.New("invalid session")
	// ErrExpired: the session was valid but is past its expiry.
	ErrExpired = errors.New("session expired")
)

// minKeyLen is the shortest secret accepted. It is short on purpose:
// the sample's documentation uses human-made passphrases.
const minKeyLen = 8

// Session is what the cookie carries.
type Session struct {
	// UserID is the logged-in user, 0 for an anonymous visitor.
	UserID int64 `json:"u,omitempty"`
	// CSRF is the token every form must echo back.
	CSRF string `json:"c"`
	// Flashes are messages to show on the next page rendered.
	Flashes []string `json:"f,omitempty"`
	// Expires is the Unix time after which Decode refuses the session.
	Expires int64 `json:"e"`
}

// New returns an anonymous session with a fresh CSRF token.
func New() Session {
	return Session{CSRF: Token()}
}

// Token returns 32 random bytes, base64url encoded.
func Token() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand.Read never fails on supported platforms.
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Codec signs and verifies sessions. It is safe for concurrent use.
type Codec struct {
	key    []byte
	maxAge time.Duration
	now    func() time.Time
}

// NewCodec returns a codec signing with key; sessions it encodes expire
// after maxAge. now is the clock, time.Now if nil.
func NewCodec(key []byte, maxAge time.Duration, now func() time.Time) (*Codec, error) {
	if len(key) < minKeyLen {
		return nil, fmt.Errorf("session key is %d bytes; use at least %d", len(key), minKeyLen)
	}
	if maxAge <= 0 {
		return nil, fmt.Errorf("session max age must be positive, got %v", maxAge)
	}
	if now == nil {
		now = time.Now
	}
	return &Codec{key: append([]byte(nil), key...), maxAge: maxAge, now: now}, nil
}

// MaxAge is how long an encoded session stays valid.
func (c *Codec) MaxAge() time.Duration { return c.maxAge }

// Encode signs s, setting its expiry, and returns a cookie-safe value.
func (c *Codec) Encode(s Session) (string, error) {
	s.Expires = c.now().Add(c.maxAge).Unix()
	payload, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encoding session: %w", err)
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(c.sign(p)), nil
}

// Decode verifies value and returns its session. The error is ErrInvalid
// or ErrExpired.
func (c *Codec) Decode(value string) (Session, error) {
	p, sig, ok := strings.Cut(value, ".")
	if !ok {
		return Session{}, ErrInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, c.sign(p)) {
		return Session{}, ErrInvalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Session{}, ErrInvalid
	}
	var s Session
	if err := json.Unmarshal(payload, &s); err != nil || s.CSRF == "" {
		return Session{}, ErrInvalid
	}
	if c.now().Unix() >= s.Expires {
		return Session{}, ErrExpired
	}
	return s, nil
}

func (c *Codec) sign(payload string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("microblog-session\x00")) // binds the key to this use
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// CheckCSRF reports whether the token sent with a form matches the
// session's, in constant time.
func (s Session) CheckCSRF(sent string) bool {
	return s.CSRF != "" && hmac.Equal([]byte(sent), []byte(s.CSRF))
}

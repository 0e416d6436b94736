package session

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func clock(t *time.Time) func() time.Time { return func() time.Time { return *t } }

func TestCodec_roundTrip(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c, err := NewCodec([]byte("a secret key"), time.Hour, clock(&now))
	if err != nil {
		t.Fatal(err)
	}
	in := Session{UserID: 42, CSRF: Token(), Flashes: []string{"hello, <you>"}}
	v, err := c.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	if out.UserID != 42 || out.CSRF != in.CSRF || len(out.Flashes) != 1 || out.Flashes[0] != "hello, <you>" {
		t.Errorf("decoded %+v, want the encoded %+v", out, in)
	}
	if out.Expires != now.Add(time.Hour).Unix() {
		t.Errorf("expires %d, want %d", out.Expires, now.Add(time.Hour).Unix())
	}
}

func TestCodec_Decode_refuses(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c, _ := NewCodec([]byte("a secret key"), time.Hour, clock(&now))
	other, _ := NewCodec([]byte("another key"), time.Hour, clock(&now))
	good, _ := c.Encode(Session{UserID: 1, CSRF: "t"})
	forged, _ := other.Encode(Session{UserID: 1, CSRF: "t"})
	p, sig, _ := strings.Cut(good, ".")
	// Swap in a payload claiming to be user 2 under user 1's signature.
	elevated, _ := c.Encode(Session{UserID: 2, CSRF: "t"})
	p2, _, _ := strings.Cut(elevated, ".")

	for name, v := range map[string]string{
		"empty":          "",
		"no signature":   p,
		"other key":      forged,
		"changed":        p2 + "." + sig,
		"bad base64":     "!!!." + sig,
		"truncated sig":  p + "." + sig[:10],
		"not json":       "bm90IGpzb24." + sig,
		"signature only": "." + sig,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.Decode(v); !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode(%q) = %v, want ErrInvalid", v, err)
			}
		})
	}
}

func TestCodec_Decode_expired(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c, _ := NewCodec([]byte("a secret key"), time.Hour, clock(&now))
	v, _ := c.Encode(New())
	now = now.Add(59 * time.Minute)
	if _, err := c.Decode(v); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := c.Decode(v); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: got %v, want ErrExpired", err)
	}
}

func TestNewCodec_shortKey(t *testing.T) {
	if _, err := NewCodec([]byte("short"), time.Hour, nil); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

func TestSession_CheckCSRF(t *testing.T) {
	s := New()
	if !s.CheckCSRF(s.CSRF) {
		t.Error("own token refused")
	}
	if s.CheckCSRF(Token()) || s.CheckCSRF("") {
		t.Error("foreign or empty token accepted")
	}
	if (Session{}).CheckCSRF("") {
		t.Error("empty session accepted an empty token")
	}
	if New().CSRF == New().CSRF {
		t.Error("two sessions share a token")
	}
}

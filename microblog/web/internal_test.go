package web

import (
	"testing"
	"time"
)

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"":                      "/",
		"/explore":              "/explore",
		"/user/alice?page=2":    "/user/alice?page=2",
		"//evil.example/":       "/",
		`/\evil.example`:        "/",
		"https://evil.example/": "/",
		"explore":               "/",
		"/x\r\nSet-Cookie: a=b": "/",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		10 * time.Second:    "just now",
		time.Minute:         "1 minute ago",
		59 * time.Minute:    "59 minutes ago",
		3 * time.Hour:       "3 hours ago",
		24 * time.Hour:      "1 day ago",
		29 * 24 * time.Hour: "29 days ago",
		60 * 24 * time.Hour: "31 Dec 2025",
	} {
		if got := ago(now, now.Add(-d)); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
	if got := ago(now, time.Time{}); got != "never" {
		t.Errorf("zero time: %q", got)
	}
}

package store

import (
	"path/filepath"
	"testing"
	"time"
)

func TestStore_PruneEvents(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	s, err := Open(filepath.Join(t.TempDir(), "kaj.db"), Options{Key: testKey, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Ten events a day apart, the newest now.
	for i := 9; i >= 0; i-- {
		clock = now.Add(-time.Duration(i) * 24 * time.Hour)
		if _, err := s.AddEvent(Event{Actor: "a", Action: ActionAppCreate, Target: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func() []uint64 {
		evs, err := s.Events(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, e := range evs {
			out = append(out, e.Seq)
		}
		return out
	}
	cases := []struct {
		name    string
		maxAge  time.Duration
		keep    int
		deleted int
		left    []uint64
	}{
		{"nothing to do", 0, 0, 0, []uint64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"within both bounds", 30 * 24 * time.Hour, 100, 0, []uint64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"by age", 7*24*time.Hour + time.Minute, 0, 2, []uint64{10, 9, 8, 7, 6, 5, 4, 3}},
		{"by count", 0, 5, 3, []uint64{10, 9, 8, 7, 6}},
		{"age is tighter than count", 2*24*time.Hour + time.Minute, 4, 2, []uint64{10, 9, 8}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := s.PruneEvents(c.maxAge, c.keep)
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(); n != c.deleted || !equalSeqs(got, c.left) {
				t.Fatalf("PruneEvents(%v, %d) deleted %d, left %v; want %d, %v", c.maxAge, c.keep, n, got, c.deleted, c.left)
			}
		})
	}
	// Numbering goes on after the pruned ones.
	e, err := s.AddEvent(Event{Actor: "a", Action: ActionAppCreate})
	if err != nil || e.Seq != 11 {
		t.Fatalf("next event: %+v %v", e, err)
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package backup

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/testutil"
)

func TestParseSchedule(t *testing.T) {
	at := time.Date(2026, 12, 1, 14, 7, 0, 0, time.UTC)
	for spec, want := range map[string]time.Time{
		"6h":                      at.Add(6 * time.Hour),
		"@every 90m":              at.Add(90 * time.Minute),
		"30 3 * * *":              time.Date(2026, 12, 2, 3, 30, 0, 0, time.UTC),
		"0 */6 * * *":             time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC),
		"@daily":                  time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
		"CRON_TZ=UTC 15 14 * * 2": time.Date(2026, 12, 1, 14, 15, 0, 0, time.UTC), // 1 Dec 2026 is a Tuesday
	} {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Errorf("%q: %v", spec, err)
			continue
		}
		if got := s.Next(at).UTC(); !got.Equal(want) {
			t.Errorf("%q: next after %v = %v; want %v", spec, at, got, want)
		}
	}
	for _, bad := range []string{"", "soon", "1m", "@every 10s", "61 * * * *", "* * * *"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if !strings.Contains(err.Error(), "backup schedule") {
			t.Errorf("%q: error %q does not say what it was parsing", bad, err)
		}
	}
}

// TestScheduler_runsOnSchedule drives a scheduler by a fake clock: each
// app's backup runs when its time comes and not before, a removed
// schedule stops, and a run that outlasts its slots skips them.
func TestScheduler_runsOnSchedule(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := testutil.NewFakeClock(t0)
	type run struct {
		app string
		at  time.Time
	}
	runs := make(chan run, 10)
	slow := make(chan time.Duration, 1)
	s := NewScheduler(func(ctx context.Context, app string) {
		select {
		case d := <-slow:
			clock.Advance(d) // the backup takes d
		default:
		}
		runs <- run{app, clock.Now()}
	}, clock)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	hourly, _ := ParseSchedule("1h")
	daily, _ := ParseSchedule("0 3 * * *")
	s.Set("blog", hourly)
	s.Set("shop", daily)
	// expect waits for app's run at at, then for the scheduler to set
	// its next slot: the fake clock must not move before it has.
	expect := func(app string, at time.Time) {
		t.Helper()
		select {
		case r := <-runs:
			if r.app != app || !r.at.Equal(at) {
				t.Fatalf("ran %s at %v; want %s at %v", r.app, r.at, app, at)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no run of %s at %v", app, at)
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if next, ok := s.Next(app); !ok || next.After(clock.Now()) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's next run was not set after its run", app)
			}
		}
	}
	quiet := func() {
		t.Helper()
		select {
		case r := <-runs:
			t.Fatalf("unexpected run of %s at %v", r.app, r.at)
		case <-time.After(50 * time.Millisecond):
		}
	}

	quiet()
	clock.Advance(59 * time.Minute)
	quiet()
	clock.Advance(time.Minute)
	expect("blog", t0.Add(time.Hour))
	clock.Advance(time.Hour)
	expect("blog", t0.Add(2*time.Hour))
	clock.Advance(time.Hour)
	expect("blog", t0.Add(3*time.Hour)) // both due at 03:00: by name
	expect("shop", t0.Add(3*time.Hour))

	// A run lasting 2h30 skips the slots it overlaps.
	slow <- 150 * time.Minute
	clock.Advance(time.Hour)
	expect("blog", t0.Add(4*time.Hour+150*time.Minute))
	if next, _ := s.Next("blog"); !next.Equal(t0.Add(7*time.Hour + 30*time.Minute)) {
		t.Fatalf("next run after a long one at %v", next)
	}

	s.Set("blog", nil)
	clock.Advance(2 * time.Hour)
	quiet()
	if _, ok := s.Next("blog"); ok {
		t.Fatal("a removed schedule still has a next run")
	}
}

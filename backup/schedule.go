package backup

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule says when an app's backups run.
type Schedule interface {
	// Next is the first run strictly after t.
	Next(t time.Time) time.Time
}

// MinInterval is the shortest interval a schedule may have: a logical
// dump reads the whole database, and more often than this is a replica's
// job, not a backup's.
const MinInterval = 5 * time.Minute

// ParseSchedule reads a schedule: an interval as a Go duration ("6h",
// "90m") or "@every 6h"; a standard 5-field cron expression ("30 3 * * *",
// with an optional "CRON_TZ=Europe/Paris " prefix); or a descriptor such
// as "@daily" or "@hourly". Cron times are the host's local time unless
// a zone is given.
func ParseSchedule(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if d, err := time.ParseDuration(spec); err == nil {
		if d < MinInterval {
			return nil, fmt.Errorf("backup schedule %q: an interval is at least %s", spec, MinInterval)
		}
		return cron.Every(d), nil
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("backup schedule %q: %w; write an interval (\"6h\") or a cron expression (\"30 3 * * *\": minute hour day month weekday)", spec, err)
	}
	if c, ok := s.(cron.ConstantDelaySchedule); ok && c.Delay < MinInterval {
		return nil, fmt.Errorf("backup schedule %q: an interval is at least %s", spec, MinInterval)
	}
	return s, nil
}

// Clock is the time a Scheduler runs by; tests drive their own.
type Clock interface {
	Now() time.Time
	// At returns a channel that receives once the clock reaches t: at
	// once when it already has.
	At(t time.Time) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                  { return time.Now() }
func (realClock) At(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }

// Scheduler runs each app's backups on its schedule, one at a time, in
// the order they fall due. A run that outlasts its slot makes the next
// slot the first after the run ends: missed slots are skipped, not
// queued. It is safe for concurrent use.
type Scheduler struct {
	run   func(ctx context.Context, app string)
	clock Clock
	wake  chan struct{}
	mu    sync.Mutex
	apps  map[string]*slot
}

type slot struct {
	sched Schedule
	next  time.Time
}

// NewScheduler returns a scheduler calling run for each due backup; run
// takes the backup and records what came of it. A nil clock is the real
// one.
func NewScheduler(run func(ctx context.Context, app string), clock Clock) *Scheduler {
	if clock == nil {
		clock = realClock{}
	}
	return &Scheduler{run: run, clock: clock, wake: make(chan struct{}, 1), apps: map[string]*slot{}}
}

// Set gives app the schedule s, its first run being s's next time from
// now; a nil s stops app's scheduled backups.
func (s *Scheduler) Set(app string, sched Schedule) {
	s.mu.Lock()
	if sched == nil {
		delete(s.apps, app)
	} else {
		s.apps[app] = &slot{sched: sched, next: sched.Next(s.clock.Now())}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next is app's next scheduled run, if it has a schedule.
func (s *Scheduler) Next(app string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl, ok := s.apps[app]; ok {
		return sl.next, true
	}
	return time.Time{}, false
}

// Run runs due backups until ctx ends, and returns ctx's error.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		app, at, ok := s.first()
		now := s.clock.Now()
		if ok && !at.After(now) {
			s.run(ctx, app)
			s.mu.Lock()
			if sl, still := s.apps[app]; still && sl.next.Equal(at) {
				sl.next = sl.sched.Next(s.clock.Now())
			}
			s.mu.Unlock()
			continue
		}
		var timer <-chan time.Time
		if ok {
			timer = s.clock.At(at)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wake:
		case <-timer:
		}
	}
}

// first is the app due soonest (by name among equals, for a stable order).
func (s *Scheduler) first() (string, time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.apps))
	for n := range s.apps {
		names = append(names, n)
	}
	sort.Strings(names)
	var best string
	var at time.Time
	for _, n := range names {
		if t := s.apps[n].next; best == "" || t.Before(at) {
			best, at = n, t
		}
	}
	return best, at, best != ""
}

// Package jobs runs kaj's long operations (deploys, pushes) in the
// background and lets any number of watchers follow their progress, from
// the first event on, while they run and after they end.
package jobs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"sync"
	"time"
)

// Event types.
const (
	TypeStep     = "step"     // a stage started, finished or failed
	TypeProgress = "progress" // bytes of one layer
	TypeLog      = "log"      // lines worth showing (e.g. a failed container's log tail)
	TypeDone     = "done"     // the job ended; Status is succeeded or failed
)

// Statuses of jobs and steps.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Event is one thing a job reports.
type Event struct {
	Seq     int       `json:"seq"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Step    string    `json:"step,omitempty"`
	Status  string    `json:"status,omitempty"`
	Message string    `json:"message,omitempty"`
	// Layer, Current and Total describe transfer progress.
	Layer   string   `json:"layer,omitempty"`
	Current int64    `json:"current,omitempty"`
	Total   int64    `json:"total,omitempty"`
	Lines   []string `json:"lines,omitempty"`
}

// Emit reports an event from inside a job.
type Emit func(Event)

// Job is one running or finished operation. Its methods are safe for
// concurrent use.
type Job struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Target  string    `json:"target"`
	Actor   string    `json:"actor"`
	Created time.Time `json:"created"`

	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	status   string
	err      error
	ended    time.Time
	events   []Event
	progress map[string]int // layer -> index in events, so progress replaces itself
	subs     map[chan Event]struct{}
}

// Status is the job's state and, once failed, its error.
func (j *Job) Status() (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status, j.err
}

// Done is closed when the job has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// Cancel asks the job to stop; it ends as canceled or failed.
func (j *Job) Cancel() { j.cancel() }

// Watch returns the events so far and a channel of the ones that follow;
// the channel is closed after the done event, or when stop is called.
// A watcher that falls more than 256 events behind misses progress events
// first; one that stalls entirely loses its oldest queued events, whatever
// they are, so the newest (and the end) always arrive.
func (j *Job) Watch() (past []Event, next <-chan Event, stop func()) {
	j.mu.Lock()
	defer j.mu.Unlock()
	past = append([]Event(nil), j.events...)
	ch := make(chan Event, 256)
	if j.status != StatusRunning {
		close(ch)
		return past, ch, func() {}
	}
	j.subs[ch] = struct{}{}
	var once sync.Once
	return past, ch, func() {
		once.Do(func() {
			j.mu.Lock()
			defer j.mu.Unlock()
			if _, ok := j.subs[ch]; ok {
				delete(j.subs, ch)
				close(ch)
			}
		})
	}
}

func (j *Job) emit(e Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.status != StatusRunning && e.Type != TypeDone {
		return
	}
	e.Seq = len(j.events) + 1
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if e.Type == TypeProgress {
		if i, ok := j.progress[e.Layer]; ok {
			e.Seq = j.events[i].Seq
			j.events[i] = e
		} else {
			j.progress[e.Layer] = len(j.events)
			j.events = append(j.events, e)
		}
	} else {
		j.events = append(j.events, e)
	}
	for ch := range j.subs {
		select {
		case ch <- e:
		default:
			if e.Type != TypeProgress {
				// A step or the end must arrive: make room by dropping
				// this watcher's oldest queued event.
				select {
				case <-ch:
				default:
				}
				ch <- e
			}
		}
	}
}

// Manager starts jobs and finds them again. The zero value is not usable;
// use NewManager.
type Manager struct {
	mu      sync.Mutex
	jobs    map[string]*Job
	keep    int
	running sync.WaitGroup
}

// NewManager keeps the keep most recently finished jobs for late watchers.
func NewManager(keep int) *Manager {
	return &Manager{jobs: map[string]*Job{}, keep: keep}
}

// Start runs fn in the background as a new job. fn's context ends when
// the job is canceled or ctx (the server's lifetime) ends.
func (m *Manager) Start(ctx context.Context, kind, target, actor string, fn func(ctx context.Context, emit Emit) error) *Job {
	ctx, cancel := context.WithCancel(ctx)
	j := &Job{
		ID: rand.Text()[:16], Kind: kind, Target: target, Actor: actor, Created: time.Now().UTC(),
		cancel: cancel, done: make(chan struct{}), status: StatusRunning,
		progress: map[string]int{}, subs: map[chan Event]struct{}{},
	}
	m.mu.Lock()
	m.jobs[j.ID] = j
	m.prune()
	m.mu.Unlock()
	m.running.Add(1)
	go func() {
		defer m.running.Done()
		defer cancel()
		err := run(ctx, fn, j.emit)
		status := StatusSucceeded
		switch {
		case err != nil && errors.Is(err, context.Canceled):
			status = StatusCanceled
		case err != nil:
			status = StatusFailed
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		j.emit(Event{Type: TypeDone, Status: status, Message: msg})
		j.mu.Lock()
		j.status, j.err, j.ended = status, err, time.Now()
		for ch := range j.subs {
			close(ch)
		}
		j.subs = nil
		j.mu.Unlock()
		close(j.done)
	}()
	return j
}

// run calls fn, turning a panic into the job's error: a bug in one
// deploy must fail that deploy, not end kaj and every other one.
func run(ctx context.Context, fn func(ctx context.Context, emit Emit) error, emit Emit) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(ctx, emit)
}

// Wait blocks until every started job has ended, or ctx ends first. A
// shutdown cancels the jobs, then waits here so their cleanup finishes
// before the store and engine client close.
func (m *Manager) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { m.running.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// prune forgets the oldest finished jobs beyond keep; m.mu is held.
func (m *Manager) prune() {
	var finished []*Job
	for _, j := range m.jobs {
		select {
		case <-j.done:
			finished = append(finished, j)
		default:
		}
	}
	if len(finished) <= m.keep {
		return
	}
	sort.Slice(finished, func(a, b int) bool { return finished[a].Created.Before(finished[b].Created) })
	for _, j := range finished[:len(finished)-m.keep] {
		delete(m.jobs, j.ID)
	}
}

// Get finds a job by ID.
func (m *Manager) Get(id string) (*Job, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	return j, ok
}

// List returns the jobs still known, newest first.
func (m *Manager) List() []*Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Job, 0, len(m.jobs))
	for _, j := range m.jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Created.After(out[b].Created) })
	return out
}

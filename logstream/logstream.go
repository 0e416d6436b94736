// Package logstream fans container logs out to many viewers while keeping
// at most one log stream per container open against the engine.
//
// A Hub opens a container's engine stream when its first viewer
// subscribes: it reads the latest lines once into a bounded backlog, then
// follows from there, so every viewer, first or late, gets exactly the
// tail it asked for and then every new line. The engine stream closes when
// the last viewer leaves. Delivery to a
// viewer never blocks the others or the engine stream: a viewer that
// cannot keep up skips lines, and is told how many it missed.
package logstream

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Line is one log line of a container.
type Line struct {
	// Seq numbers the lines of one engine stream from 1.
	Seq    uint64    `json:"seq"`
	Stream string    `json:"stream"` // stdout or stderr
	Time   time.Time `json:"time"`
	Text   string    `json:"text"`
	// Skipped, when non-zero, says this viewer missed that many lines
	// since the line it got before this one, because it was too slow:
	// a slow viewer loses its oldest waiting lines, never the newest.
	Skipped uint64 `json:"skipped,omitempty"`
}

// Source reads containers' logs from the engine.
type Source interface {
	// Tail returns up to n of the container's latest lines, oldest
	// first: one short request, not a stream.
	Tail(ctx context.Context, container string, n int) ([]Line, error)
	// Follow emits the lines written at or after since, in order, until
	// ctx ends (nil) or the container stops (nil, or the error).
	Follow(ctx context.Context, container string, since time.Time, emit func(Line)) error
}

// Options tune a Hub.
type Options struct {
	// Backlog is how many recent lines a container's stream keeps for late
	// joiners. Zero means 1000.
	Backlog int
	// Buffer is how many lines may wait for one viewer before it skips.
	// Zero means 1024: about a second of a busy app at a browser's pace.
	Buffer int
	// Linger keeps an engine stream open this long after its last viewer
	// left, so a page reload does not reopen it. Zero closes at once.
	Linger time.Duration
}

// Hub multiplexes engine log streams. It is safe for concurrent use.
type Hub struct {
	src     Source
	opts    Options
	mu      sync.Mutex
	streams map[string]*stream
	open    atomic.Int64
}

// NewHub returns a hub reading from src.
func NewHub(src Source, opts Options) *Hub {
	if opts.Backlog == 0 {
		opts.Backlog = 1000
	}
	if opts.Buffer == 0 {
		opts.Buffer = 1024
	}
	return &Hub{src: src, opts: opts, streams: map[string]*stream{}}
}

// OpenStreams is how many engine log streams are open now.
func (h *Hub) OpenStreams() int { return int(h.open.Load()) }

// Subscription is one viewer of one container.
type Subscription struct {
	// C delivers lines in order. It is closed when the container's stream
	// ends or the subscription is closed; Err then says why.
	C       <-chan Line
	c       chan Line
	st      *stream
	skipped uint64 // guarded by st.mu
	once    sync.Once
	closed  bool // guarded by st.mu
}

// Err is the engine stream's error after C is closed, if any.
func (s *Subscription) Err() error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.err
}

// Close stops delivery. The engine stream closes when no viewer is left.
func (s *Subscription) Close() {
	s.once.Do(func() { s.st.hub.leave(s) })
}

type stream struct {
	hub       *Hub
	container string
	cancel    context.CancelFunc
	ready     chan struct{} // closed once the backlog is loaded (or failed)
	mu        sync.Mutex
	subs      map[*Subscription]struct{}
	backlog   []Line // ring
	head      int    // index of the oldest line when full
	seq       uint64
	done      bool
	stopping  bool // no longer in the hub's map; a new viewer needs a new stream
	err       error
	linger    *time.Timer
}

// Subscribe starts delivering container's lines to a new viewer,
// beginning with up to tail lines of the backlog (tail < 0: all of it).
// It waits for the container's backlog to load when it is the first
// viewer; an engine error then closes the subscription at once, with Err
// saying why.
func (h *Hub) Subscribe(ctx context.Context, container string, tail int) (*Subscription, error) {
	for {
		h.mu.Lock()
		st := h.streams[container]
		if st == nil {
			st = h.start(container)
		}
		h.mu.Unlock()
		select {
		case <-st.ready:
		case <-ctx.Done():
			// The viewer left while the history loaded: a stream it
			// started for no one else must not run on.
			st.mu.Lock()
			if len(st.subs) == 0 && !st.done && !st.stopping {
				h.stop(st)
			}
			st.mu.Unlock()
			return nil, ctx.Err()
		}
		st.mu.Lock()
		if st.stopping {
			st.mu.Unlock()
			continue
		}
		sub := st.attach(tail)
		st.mu.Unlock()
		return sub, nil
	}
}

// attach adds a viewer; st.mu is held.
func (st *stream) attach(tail int) *Subscription {
	h := st.hub
	sub := &Subscription{c: make(chan Line, h.opts.Buffer), st: st}
	sub.C = sub.c
	if st.linger != nil {
		st.linger.Stop()
		st.linger = nil
	}
	for _, l := range st.recent(tail) {
		sub.c <- l // fits: the buffer is at least the backlog tail asked for
	}
	if st.done {
		close(sub.c)
		sub.closed = true
		return sub
	}
	st.subs[sub] = struct{}{}
	return sub
}

// start opens the engine stream for container; h.mu is held.
func (h *Hub) start(container string) *stream {
	ctx, cancel := context.WithCancel(context.Background())
	st := &stream{hub: h, container: container, cancel: cancel, ready: make(chan struct{}), subs: map[*Subscription]struct{}{}}
	h.streams[container] = st
	h.open.Add(1)
	go func() {
		err := st.run(ctx)
		h.open.Add(-1)
		h.mu.Lock()
		if h.streams[container] == st {
			delete(h.streams, container)
		}
		h.mu.Unlock()
		st.finish(err)
	}()
	return st
}

// run loads the backlog, lets viewers in, then follows the log from the
// last line of the backlog on.
func (st *stream) run(ctx context.Context) error {
	h := st.hub
	since := time.Now()
	hist, err := h.src.Tail(ctx, st.container, h.opts.Backlog)
	if err != nil {
		st.mu.Lock()
		st.done, st.err = true, err
		st.mu.Unlock()
		close(st.ready)
		return err
	}
	// The follow starts at the newest backlog line's time, which the
	// engine includes: those lines at exactly that time are skipped once.
	var dupes map[string]int
	if len(hist) > 0 {
		since = hist[len(hist)-1].Time
		dupes = map[string]int{}
		for _, l := range hist {
			if l.Time.Equal(since) {
				dupes[l.Stream+"\x00"+l.Text]++
			}
		}
	}
	st.mu.Lock()
	for _, l := range hist {
		st.add(l)
	}
	st.mu.Unlock()
	close(st.ready)
	return h.src.Follow(ctx, st.container, since, func(l Line) {
		if l.Time.Before(since) {
			return
		}
		if k := l.Stream + "\x00" + l.Text; l.Time.Equal(since) && dupes[k] > 0 {
			dupes[k]--
			return
		}
		st.publish(l)
	})
}

// recent returns up to n lines of the backlog, oldest first; st.mu is held.
func (st *stream) recent(n int) []Line {
	all := make([]Line, 0, len(st.backlog))
	all = append(all, st.backlog[st.head:]...)
	all = append(all, st.backlog[:st.head]...)
	if n >= 0 && n < len(all) {
		all = all[len(all)-n:]
	}
	if c := st.hub.opts.Buffer; len(all) > c {
		all = all[len(all)-c:]
	}
	return all
}

// add numbers a line and keeps it in the backlog; st.mu is held.
func (st *stream) add(l Line) Line {
	st.seq++
	l.Seq = st.seq
	if max := st.hub.opts.Backlog; len(st.backlog) < max {
		st.backlog = append(st.backlog, l)
	} else {
		st.backlog[st.head] = l
		st.head = (st.head + 1) % max
	}
	return l
}

func (st *stream) publish(l Line) {
	st.mu.Lock()
	defer st.mu.Unlock()
	l = st.add(l)
	for sub := range st.subs {
		out := l
		out.Skipped = sub.skipped
		select {
		case sub.c <- out:
			sub.skipped = 0
			continue
		default:
		}
		// The viewer is behind: its oldest waiting line makes room, so
		// what it sees last is what the container wrote last, even when
		// the log then goes quiet.
		select {
		case dropped := <-sub.c:
			sub.skipped += dropped.Skipped + 1
		default: // the viewer took one meanwhile
		}
		out.Skipped = sub.skipped
		select {
		case sub.c <- out:
			sub.skipped = 0
		default:
			sub.skipped++
		}
	}
}

func (st *stream) finish(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.done = true
	if err != nil && !errors.Is(err, context.Canceled) {
		st.err = err
	}
	for sub := range st.subs {
		close(sub.c)
		sub.closed = true
	}
	st.subs = nil
}

func (h *Hub) leave(sub *Subscription) {
	st := sub.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if !sub.closed {
		delete(st.subs, sub)
		close(sub.c)
		sub.closed = true
	}
	if len(st.subs) > 0 || st.done {
		return
	}
	if h.opts.Linger <= 0 {
		h.stop(st)
		return
	}
	st.linger = time.AfterFunc(h.opts.Linger, func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		if len(st.subs) == 0 && !st.done {
			h.stop(st)
		}
	})
}

// stop ends st's engine stream and forgets it, so the next viewer opens a
// fresh one; st.mu is held.
func (h *Hub) stop(st *stream) {
	st.stopping = true
	h.mu.Lock()
	if h.streams[st.container] == st {
		delete(h.streams, st.container)
	}
	h.mu.Unlock()
	st.cancel()
}

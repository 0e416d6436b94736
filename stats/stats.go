// Package stats fans containers' live resource readings out to many
// viewers while keeping at most one engine stats stream per container
// open, the way logstream does for logs.
//
// A Hub opens a container's engine stream when its first viewer
// subscribes and keeps the last few minutes of readings, so a late
// viewer's chart starts full. The stream closes when the last viewer
// leaves (after Options.Linger, so a page reload does not reopen it).
// A slow viewer loses its oldest waiting readings, never the newest, and
// never slows the others.
package stats

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// Source streams a container's readings from the engine.
type Source interface {
	// StreamStats emits readings until ctx ends or the container stops.
	StreamStats(ctx context.Context, container string, emit func(runtime.Sample) error) error
}

var _ Source = (*runtime.Docker)(nil)

// Options tune a Hub.
type Options struct {
	// History is how many readings a stream keeps for late joiners.
	// Zero means 300: five minutes at the engine's one a second.
	History int
	// Buffer is how many readings may wait for one viewer. Zero means 64.
	Buffer int
	// Linger keeps a stream open this long after its last viewer left.
	// Zero closes it at once.
	Linger time.Duration
}

// Hub multiplexes engine stats streams. It is safe for concurrent use.
type Hub struct {
	src     Source
	opts    Options
	mu      sync.Mutex
	streams map[string]*stream
	open    atomic.Int64
}

// NewHub returns a hub reading from src.
func NewHub(src Source, opts Options) *Hub {
	if opts.History == 0 {
		opts.History = 300
	}
	if opts.Buffer == 0 {
		opts.Buffer = 64
	}
	return &Hub{src: src, opts: opts, streams: map[string]*stream{}}
}

// OpenStreams is how many engine stats streams are open now.
func (h *Hub) OpenStreams() int { return int(h.open.Load()) }

// Latest is the newest reading of every container with an open stream,
// by container ID: the apps list's compact column reads it without
// opening streams of its own.
func (h *Hub) Latest() map[string]runtime.Sample {
	h.mu.Lock()
	sts := make([]*stream, 0, len(h.streams))
	for _, st := range h.streams {
		sts = append(sts, st)
	}
	h.mu.Unlock()
	out := make(map[string]runtime.Sample, len(sts))
	for _, st := range sts {
		st.mu.Lock()
		if n := len(st.history); n > 0 {
			out[st.container] = st.history[(st.head+n-1)%n]
		}
		st.mu.Unlock()
	}
	return out
}

// Subscription is one viewer of one container's readings.
type Subscription struct {
	// History is the readings the stream kept, oldest first, at the
	// moment the viewer joined.
	History []runtime.Sample
	// C delivers the readings after History, in order. It is closed
	// when the stream ends or Close is called; Err says why.
	C      <-chan runtime.Sample
	c      chan runtime.Sample
	st     *stream
	once   sync.Once
	closed bool // guarded by st.mu
}

// Err is the engine stream's error after C is closed, if any.
func (s *Subscription) Err() error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.err
}

// Close stops delivery; the engine stream closes when no viewer is left.
func (s *Subscription) Close() { s.once.Do(func() { s.st.hub.leave(s) }) }

type stream struct {
	hub       *Hub
	container string
	cancel    context.CancelFunc
	mu        sync.Mutex
	subs      map[*Subscription]struct{}
	history   []runtime.Sample // ring
	head      int
	done      bool
	stopping  bool
	err       error
	linger    *time.Timer
}

// Subscribe starts delivering container's readings to a new viewer,
// beginning with the history the stream holds.
func (h *Hub) Subscribe(container string) *Subscription {
	for {
		h.mu.Lock()
		st := h.streams[container]
		if st == nil {
			st = h.start(container)
		}
		h.mu.Unlock()
		// st.mu is taken without h.mu held: stop takes them the other
		// way round.
		st.mu.Lock()
		if st.stopping {
			st.mu.Unlock()
			continue
		}
		sub := st.attach()
		st.mu.Unlock()
		return sub
	}
}

// attach adds a viewer; st.mu is held.
func (st *stream) attach() *Subscription {
	h := st.hub
	if st.linger != nil {
		st.linger.Stop()
		st.linger = nil
	}
	// The history is copied, not queued: a viewer's channel then holds
	// only what arrives while it writes, which keeps 500 viewers small.
	sub := &Subscription{c: make(chan runtime.Sample, h.opts.Buffer), st: st}
	sub.C = sub.c
	n := len(st.history)
	sub.History = make([]runtime.Sample, 0, n)
	for i := 0; i < n; i++ {
		sub.History = append(sub.History, st.history[(st.head+i)%n])
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
	st := &stream{hub: h, container: container, cancel: cancel, subs: map[*Subscription]struct{}{}}
	h.streams[container] = st
	h.open.Add(1)
	go func() {
		err := h.src.StreamStats(ctx, container, func(s runtime.Sample) error {
			st.publish(s)
			return nil
		})
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

func (st *stream) publish(s runtime.Sample) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if max := st.hub.opts.History; len(st.history) < max {
		st.history = append(st.history, s)
	} else {
		st.history[st.head] = s
		st.head = (st.head + 1) % max
	}
	for sub := range st.subs {
		select {
		case sub.c <- s:
			continue
		default:
		}
		select { // behind: drop its oldest so the newest gets through
		case <-sub.c:
		default:
		}
		select {
		case sub.c <- s:
		default:
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
		if len(st.subs) == 0 && !st.done && !st.stopping {
			h.stop(st)
		}
	})
}

// stop ends st's engine stream and forgets it; st.mu is held.
func (h *Hub) stop(st *stream) {
	st.stopping = true
	h.mu.Lock()
	if h.streams[st.container] == st {
		delete(h.streams, st.container)
	}
	h.mu.Unlock()
	st.cancel()
}

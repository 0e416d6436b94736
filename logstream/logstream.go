// Package logstream fans container logs out to many viewers while keeping
// at most one log stream per container open against the engine.
//
// A Hub opens a container's engine stream when its first viewer
// subscribes: it reads the latest lines once into a bounded backlog, then
// follows from there, so every viewer, first or late, gets exactly the
// tail it asked for and then every new line. The engine stream closes when
// the last viewer leaves.
//
// # Batches
//
// Lines move in batches: the engine reader hands over what one read of
// the engine's stream held, the hub numbers and encodes each line once
// and appends the batch, shared and never copied, to every viewer's
// queue, and a viewer takes everything waiting in one call. Under a
// flood the per-line cost is the engine read and one JSON encoding,
// however many viewers there are.
//
// # Slow viewers
//
// Delivery to a viewer never blocks the others or the engine stream. A
// viewer's queue is bounded in bytes (Options.Buffer); a viewer that
// falls that far behind loses its oldest waiting lines, never the
// newest, and the next line it gets says how many it missed (Skipped).
//
// # Engine repeats
//
// The engine's json-file driver can send a stretch of lines again while
// it follows a log that rotates. Those lines carry timestamps older than
// lines already sent on the same stream, so the hub drops them and the
// next line it passes on says how many it dropped (Repeats). Lines the
// engine loses in a rotation leave no trace kaj could see.
//
// The same driver's follow can also stop delivering at a rotation while
// the container goes on writing. While an engine stream is quiet the hub
// asks the engine for the log's newest line every Options.StallCheck;
// when it is newer than anything the stream delivered, the hub follows
// again from its newest line.
//
// # In-process sources
//
// Publish feeds lines kaj makes itself (the router's access log) under a
// key of the caller's choosing, with the same fan-out, backlog and skip
// rules; Subscribe to such a key never opens an engine stream.
package logstream

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Line is one log line of a container.
type Line struct {
	// Seq numbers the lines of one stream (an engine stream, or a
	// published key) from 1.
	Seq    uint64    `json:"seq"`
	Stream string    `json:"stream"` // stdout or stderr
	Time   time.Time `json:"time"`
	Text   string    `json:"text"`
	// Repeats, when non-zero, says the engine sent that many lines a
	// second time just before this one (json-file rotation) and the hub
	// dropped them. It is the same for every viewer.
	Repeats uint64 `json:"repeats,omitempty"`
	// Skipped, when non-zero, says this viewer missed that many lines
	// since the line it got before this one, because it was too slow:
	// a slow viewer loses its oldest waiting lines, never the newest.
	Skipped uint64 `json:"skipped,omitempty"`

	// enc is the line's JSON without Skipped, made once by the hub so
	// that a hundred viewers do not encode it a hundred times.
	enc []byte
}

// Source reads containers' logs from the engine.
type Source interface {
	// Tail returns up to n of the container's latest lines, oldest
	// first: one short request, not a stream.
	Tail(ctx context.Context, container string, n int) ([]Line, error)
	// Follow emits the lines written at or after since, in order and in
	// batches (what one read of the engine's stream held), until ctx
	// ends (nil) or the container stops (nil, or the error). emit keeps
	// the slice: Follow must not touch it afterwards.
	Follow(ctx context.Context, container string, since time.Time, emit func([]Line)) error
}

// Resumer is a Source that can follow again from since with every line
// the engine still has after it. A first follow needs only the few lines
// written since the history was read, and may ask the engine for the
// log's end alone; one that follows again after a stall or a lost file
// has a longer gap behind it, which a read further back fills. The hub resumes through it when its
// source has it, and through Follow otherwise.
type Resumer interface {
	Resume(ctx context.Context, container string, since time.Time, emit func([]Line)) error
}

// Options tune a Hub.
type Options struct {
	// Backlog is how many recent lines a stream keeps for late joiners.
	// Zero means 1000.
	Backlog int
	// Buffer is how many bytes of lines (text, its JSON encoding and
	// about 120 bytes of bookkeeping per line) may wait for one viewer before
	// it skips. Zero means 16 MiB: a viewer on loopback keeps up with a
	// flood at the engine's rate through a pause of a second or two,
	// and viewers behind by the same lines share them, so the memory
	// all viewers of a stream hold is about the slowest one's Buffer,
	// not the sum.
	Buffer int
	// Linger keeps an engine stream open this long after its last viewer
	// left, so a page reload does not reopen it. Zero closes at once.
	Linger time.Duration
	// StallCheck is how long an engine stream may deliver nothing before
	// the hub asks the engine for the log's newest line; when that is
	// newer than any line the stream delivered, the follow is stuck (the
	// json-file driver's follow can stop at a log rotation, moby#37646)
	// and the hub follows again from its newest line. Zero means 2s;
	// negative never checks.
	StallCheck time.Duration
}

// Hub multiplexes log streams. It is safe for concurrent use.
type Hub struct {
	src     Source
	opts    Options
	mu      sync.Mutex
	streams map[string]*stream
	open    atomic.Int64
	viewers atomic.Int64
}

// NewHub returns a hub reading from src.
func NewHub(src Source, opts Options) *Hub {
	if opts.Backlog <= 0 {
		opts.Backlog = 1000
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 16 << 20
	}
	if opts.StallCheck == 0 {
		opts.StallCheck = 2 * time.Second
	}
	return &Hub{src: src, opts: opts, streams: map[string]*stream{}}
}

// OpenStreams is how many engine log streams are open now; published
// keys are not counted.
func (h *Hub) OpenStreams() int { return int(h.open.Load()) }

// Viewers is how many subscriptions are following a stream now.
func (h *Hub) Viewers() int { return int(h.viewers.Load()) }

type stream struct {
	hub    *Hub
	key    string
	local  bool // fed by Publish; no engine stream
	cancel context.CancelFunc
	ready  chan struct{} // closed once the backlog is loaded (or failed)

	pub     sync.Mutex // orders publishers: numbering, encoding, fan-out
	seq     uint64     // guarded by pub
	repeats repeatFilter

	mu       sync.Mutex
	subs     map[*Subscription]struct{}
	backlog  []Line // ring
	head     int    // index of the oldest line when full
	done     bool
	stopping bool // no longer in the hub's map; a new viewer needs a new stream
	err      error
	linger   *time.Timer
}

// Subscribe starts delivering key's lines to a new viewer, beginning
// with up to tail lines of the backlog (tail < 0: all of it). A key that
// Publish has fed is an in-process stream; any other key is a container
// whose engine stream opens now unless one is open already. Subscribe
// waits for a container's backlog to load when it is the first viewer;
// an engine error then ends the subscription at once, Next returning it.
// It returns ctx's error when ctx ends first.
func (h *Hub) Subscribe(ctx context.Context, key string, tail int) (*Subscription, error) {
	for {
		h.mu.Lock()
		st := h.streams[key]
		if st == nil {
			st = h.start(key)
		}
		h.mu.Unlock()
		select {
		case <-st.ready:
		case <-ctx.Done():
			// The viewer left while the history loaded: a stream it
			// started for no one else must not run on.
			st.mu.Lock()
			if len(st.subs) == 0 && !st.done && !st.stopping && !st.local {
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
	sub := &Subscription{st: st, wake: make(chan struct{}, 1), limit: st.hub.opts.Buffer}
	if st.linger != nil {
		st.linger.Stop()
		st.linger = nil
	}
	if hist := st.recent(tail); len(hist) > 0 {
		sub.push(newBatch(hist))
	}
	if st.done {
		sub.closed = true
		return sub
	}
	st.subs[sub] = struct{}{}
	st.hub.viewers.Add(1)
	return sub
}

// start opens the engine stream for container; h.mu is held.
func (h *Hub) start(container string) *stream {
	ctx, cancel := context.WithCancel(context.Background())
	st := &stream{hub: h, key: container, cancel: cancel, ready: make(chan struct{}), subs: map[*Subscription]struct{}{}}
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
	hist, err := h.src.Tail(ctx, st.key, h.opts.Backlog)
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
	st.publish(hist, false)
	close(st.ready)
	var w watch
	w.saw(hist)
	lost := 0 // follows in a row that lost the engine's log file
	follow := h.src.Follow
	for {
		fctx, restart := context.WithCancel(ctx)
		stalled := make(chan bool, 1)
		// A new follow has its first read ahead of it: the watchdog
		// counts quiet from now, not from the last batch before.
		w.at.Store(time.Now().UnixNano())
		go st.watchdog(fctx, &w, restart, stalled)
		err := follow(fctx, st.key, since, func(batch []Line) {
			w.saw(batch)
			if len(dupes) > 0 {
				kept := batch[:0]
				for _, l := range batch {
					if l.Time.Before(since) {
						continue
					}
					if k := l.Stream + "\x00" + l.Text; l.Time.Equal(since) && dupes[k] > 0 {
						dupes[k]--
						continue
					}
					kept = append(kept, l)
				}
				batch = kept
				if len(batch) > 0 && batch[0].Time.After(since) {
					dupes = nil // past the backlog's last instant
				}
			}
			st.publish(batch, true)
		})
		restart()
		wasStalled := <-stalled
		if ctx.Err() != nil {
			return err
		}
		switch {
		case wasStalled:
			lost = 0
		case err != nil && lostFile(err) && lost < maxLostFile:
			// The json-file driver lost the file it followed as it
			// rotated ("Error grabbing logs: ... no such file"): the
			// container logs on, so follow again as after a stall.
			lost++
		default:
			return err
		}
		// The engine's follow stopped delivering while the log moved
		// on: follow again from the newest line passed on; the lines at
		// that instant come again and the repeat filter drops them.
		since = w.newest()
		if r, ok := h.src.(Resumer); ok {
			follow = r.Resume
		}
		st.pub.Lock()
		st.repeats.resume()
		st.pub.Unlock()
	}
}

// recent returns up to n lines of the backlog, oldest first, as a new
// slice; st.mu is held.
func (st *stream) recent(n int) []Line {
	all := make([]Line, 0, len(st.backlog))
	all = append(all, st.backlog[st.head:]...)
	all = append(all, st.backlog[:st.head]...)
	if n >= 0 && n < len(all) {
		all = all[len(all)-n:]
	}
	return all
}

// keep adds a line to the backlog; st.mu is held.
func (st *stream) keep(l Line) {
	if max := st.hub.opts.Backlog; len(st.backlog) < max {
		st.backlog = append(st.backlog, l)
	} else {
		st.backlog[st.head] = l
		st.head = (st.head + 1) % max
	}
}

// publish numbers and encodes batch in place, keeps it in the backlog
// and appends it to every viewer's queue. filter drops the engine's
// repeats first. batch belongs to the stream from here on.
func (st *stream) publish(batch []Line, filter bool) {
	st.pub.Lock()
	defer st.pub.Unlock()
	if filter {
		batch = st.repeats.filter(batch)
	}
	if len(batch) == 0 {
		return
	}
	// One buffer for the batch's encodings: a line's slice stays valid
	// when a later append moves the buffer.
	n := 0
	for _, l := range batch {
		n += len(l.Text) + 96
	}
	buf := make([]byte, 0, n)
	for i := range batch {
		st.seq++
		l := &batch[i]
		l.Seq, l.Skipped = st.seq, 0
		start := len(buf)
		buf = l.appendJSON(buf)
		l.enc = buf[start:len(buf):len(buf)]
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, l := range batch[max(0, len(batch)-st.hub.opts.Backlog):] {
		st.keep(l)
	}
	shared := newBatch(batch)
	for sub := range st.subs {
		sub.push(shared)
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
		st.hub.viewers.Add(-1)
		sub.closed = true
		sub.notify()
	}
	st.subs = nil
}

func (h *Hub) leave(sub *Subscription) {
	st := sub.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if !sub.closed {
		delete(st.subs, sub)
		h.viewers.Add(-1)
		sub.closed = true
		sub.queue, sub.bytes = nil, 0 // let go of shared batches now
		sub.notify()
	}
	if st.local || len(st.subs) > 0 || st.done {
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
	if h.streams[st.key] == st {
		delete(h.streams, st.key)
	}
	h.mu.Unlock()
	st.cancel()
}

// maxLostFile bounds the follows in a row reopened after the engine lost
// its log file: a container whose log is really gone ends the stream.
const maxLostFile = 3

// lostFile reports whether a follow ended because the engine's json-file
// driver lost the file it read, as it does when the log rotates under it.
func lostFile(err error) bool {
	return strings.Contains(err.Error(), "Error grabbing logs")
}

package logstream

import (
	"context"
	"io"
	"sync"
)

// lineCost is what a waiting line counts against Options.Buffer beyond
// its text and its encoding: the Line itself and the slices' headers.
const lineCost = 120

func cost(l Line) int { return len(l.Text) + len(l.enc) + lineCost }

// Subscription is one viewer of one stream. Next is for one goroutine;
// Close may be called from any.
type Subscription struct {
	st   *stream
	wake chan struct{} // a token when lines or the end arrived
	once sync.Once

	// guarded by st.mu:
	queue   [][]Line // batches shared with other viewers; never written
	bytes   int      // cost of what queue holds
	limit   int
	skipped uint64 // lines lost since the viewer's last Next
	closed  bool
}

// notify wakes Next; st.mu is held.
func (s *Subscription) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// push queues a batch, dropping the oldest waiting lines while the
// queue is over its limit; st.mu is held.
func (s *Subscription) push(batch []Line) {
	s.queue = append(s.queue, batch)
	for _, l := range batch {
		s.bytes += cost(l)
	}
	for s.bytes > s.limit && len(s.queue) > 0 {
		first := s.queue[0]
		if len(s.queue) == 1 && len(first) == 1 {
			break // one line is always deliverable
		}
		s.bytes -= cost(first[0])
		s.skipped++
		if len(first) == 1 {
			s.queue[0] = nil
			s.queue = s.queue[1:]
		} else {
			s.queue[0] = first[1:]
		}
	}
	s.notify()
}

// Next appends to dst up to limit of the lines waiting for the viewer
// (all of them when limit <= 0), oldest first, and returns it; it
// waits for a line when none is waiting. The first line appended has
// Skipped set when the viewer lost lines before it. When the stream has
// ended and nothing is left, Next returns dst and io.EOF, or the
// engine's error when the stream failed; after Close, io.EOF. When ctx
// ends first it returns dst and ctx's error.
//
// The lines are shared with other viewers: read them, don't change
// them (Skipped aside).
func (s *Subscription) Next(ctx context.Context, dst []Line, limit int) ([]Line, error) {
	st := s.st
	for {
		st.mu.Lock()
		if len(s.queue) > 0 {
			first := len(dst)
			for len(s.queue) > 0 && (limit <= 0 || len(dst)-first < limit) {
				b := s.queue[0]
				n := len(b)
				if limit > 0 {
					n = min(n, limit-(len(dst)-first))
				}
				dst = append(dst, b[:n]...)
				for _, l := range b[:n] {
					s.bytes -= cost(l)
				}
				if n == len(b) {
					s.queue[0] = nil
					s.queue = s.queue[1:]
				} else {
					s.queue[0] = b[n:]
				}
			}
			dst[first].Skipped = s.skipped
			s.skipped = 0
			if len(s.queue) == 0 {
				s.queue = s.queue[:0:0] // let go of the spent array
			}
			st.mu.Unlock()
			return dst, nil
		}
		if s.closed {
			err := st.err
			st.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return dst, err
		}
		st.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
			return dst, ctx.Err()
		}
	}
}

// Close stops delivery; Next then returns io.EOF. The engine stream
// closes when no viewer is left (after Options.Linger).
func (s *Subscription) Close() { s.once.Do(func() { s.st.hub.leave(s) }) }

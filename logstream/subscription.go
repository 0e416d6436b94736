package logstream

import (
	"context"
	"io"
	"sync"
)

// lineCost is what a waiting line counts against Options.Buffer beyond
// its text and its encoding: the Line itself and the slices' headers.
const lineCost = 120

func cost(l *Line) int { return len(l.Text) + len(l.enc) + lineCost }

// batch is a published run of lines, shared by every viewer's queue and
// never written after publishing. cum[i] is the cost of lines[:i], so a
// viewer's share of it is costed in O(1).
type batch struct {
	lines []Line
	cum   []int
}

func newBatch(lines []Line) *batch {
	cum := make([]int, len(lines)+1)
	for i := range lines {
		cum[i+1] = cum[i] + cost(&lines[i])
	}
	return &batch{lines: lines, cum: cum}
}

// chunk is the part of a batch a viewer still has to read.
type chunk struct {
	b        *batch
	from, to int
}

func (c chunk) cost() int { return c.b.cum[c.to] - c.b.cum[c.from] }

// Subscription is one viewer of one stream. Next is for one goroutine;
// Close may be called from any.
type Subscription struct {
	st   *stream
	wake chan struct{} // a token when lines or the end arrived
	once sync.Once

	// guarded by st.mu:
	queue   []chunk
	bytes   int // cost of what queue holds
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
func (s *Subscription) push(b *batch) {
	c := chunk{b, 0, len(b.lines)}
	s.queue = append(s.queue, c)
	s.bytes += c.cost()
	for s.bytes > s.limit {
		first := &s.queue[0]
		if len(s.queue) == 1 && first.to-first.from == 1 {
			break // one line is always deliverable
		}
		if len(s.queue) > 1 && first.cost() <= s.bytes-s.limit {
			// Every line of it has to go: drop it whole.
			s.bytes -= first.cost()
			s.skipped += uint64(first.to - first.from)
			s.queue[0] = chunk{}
			s.queue = s.queue[1:]
			continue
		}
		s.bytes -= cost(&first.b.lines[first.from])
		s.skipped++
		if first.from++; first.from == first.to {
			s.queue[0] = chunk{}
			s.queue = s.queue[1:]
		}
	}
	s.notify()
}

// Next waits until lines are waiting for the viewer and appends up to
// limit of them (all when limit <= 0), oldest first, to dst as slices
// shared with other viewers: read them, never change them. skipped is
// how many lines the viewer lost, being too slow, just before the first
// of them. When the stream has ended and nothing is left, Next returns
// io.EOF, or the engine's error when the stream failed; after Close,
// io.EOF. When ctx ends first it returns ctx's error.
func (s *Subscription) Next(ctx context.Context, dst [][]Line, limit int) (lines [][]Line, skipped uint64, err error) {
	st := s.st
	for {
		st.mu.Lock()
		if len(s.queue) > 0 {
			n := 0
			for len(s.queue) > 0 && (limit <= 0 || n < limit) {
				c := &s.queue[0]
				take := c.to - c.from
				if limit > 0 {
					take = min(take, limit-n)
				}
				part := chunk{c.b, c.from, c.from + take}
				dst = append(dst, c.b.lines[part.from:part.to])
				s.bytes -= part.cost()
				n += take
				c.from += take
				if c.from == c.to {
					s.queue[0] = chunk{}
					s.queue = s.queue[1:]
				}
			}
			skipped, s.skipped = s.skipped, 0
			st.mu.Unlock()
			return dst, skipped, nil
		}
		if s.closed {
			err := st.err
			st.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return dst, 0, err
		}
		st.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
			return dst, 0, ctx.Err()
		}
	}
}

// Close stops delivery; Next then returns io.EOF. The engine stream
// closes when no viewer is left (after Options.Linger).
func (s *Subscription) Close() { s.once.Do(func() { s.st.hub.leave(s) }) }

package logstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSource is a container whose lines the test writes through push;
// history is what it had written before.
type fakeSource struct {
	mu      sync.Mutex
	history []Line
	tailErr error
	lines   chan Line
	batches chan []Line
	opened  atomic.Int64
	active  atomic.Int64
	endWith chan error
}

func newFake() *fakeSource {
	return &fakeSource{lines: make(chan Line), batches: make(chan []Line), endWith: make(chan error, 1)}
}

func (f *fakeSource) Tail(ctx context.Context, container string, n int) ([]Line, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.history
	if len(h) > n {
		h = h[len(h)-n:]
	}
	return append([]Line(nil), h...), f.tailErr
}

func (f *fakeSource) Follow(ctx context.Context, container string, since time.Time, emit func([]Line)) error {
	f.opened.Add(1)
	f.active.Add(1)
	defer f.active.Add(-1)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-f.endWith:
			return err
		case l := <-f.lines:
			emit([]Line{l})
		case b := <-f.batches:
			emit(b)
		}
	}
}

func (f *fakeSource) push(text string) {
	f.lines <- Line{Stream: "stdout", Time: time.Now(), Text: text}
}

// viewer reads a subscription a line at a time.
type viewer struct {
	*Subscription
	pending []Line
}

func sub(t *testing.T, h *Hub, container string, tail int) *viewer {
	t.Helper()
	s, err := h.Subscribe(context.Background(), container, tail)
	if err != nil {
		t.Fatal(err)
	}
	return &viewer{Subscription: s}
}

// next is the viewer's next line, or the error that ended it.
func (v *viewer) next(d time.Duration) (Line, error) {
	if len(v.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		lines, err := nextFlat(ctx, v.Subscription, 0)
		if err != nil {
			return Line{}, err
		}
		v.pending = lines
	}
	l := v.pending[0]
	v.pending = v.pending[1:]
	return l, nil
}

// nextFlat is Next's lines copied into one slice, the first line
// carrying the skip count as the websocket message does.
func nextFlat(ctx context.Context, s *Subscription, limit int) ([]Line, error) {
	segs, skipped, err := s.Next(ctx, nil, limit)
	var out []Line
	for _, seg := range segs {
		out = append(out, seg...)
	}
	if len(out) > 0 {
		out[0].Skipped = skipped
	}
	return out, err
}

func recv(t *testing.T, v *viewer) Line {
	t.Helper()
	l, err := v.next(5 * time.Second)
	if err != nil {
		t.Fatalf("no line: %v", err)
	}
	return l
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestHub_fanOutOneStream(t *testing.T) {
	f := newFake()
	h := NewHub(f, Options{})
	subs := []*viewer{sub(t, h, "c1", 0), sub(t, h, "c1", 0), sub(t, h, "c1", 0)}
	for i := range 50 {
		f.push(fmt.Sprint("line ", i))
	}
	for _, s := range subs {
		for i := range 50 {
			l := recv(t, s)
			if l.Text != fmt.Sprint("line ", i) || l.Seq != uint64(i+1) {
				t.Fatalf("got %+v; want line %d", l, i)
			}
		}
	}
	if n := f.opened.Load(); n != 1 {
		t.Fatalf("engine streams opened: %d; want 1", n)
	}
	if h.OpenStreams() != 1 {
		t.Fatalf("OpenStreams = %d", h.OpenStreams())
	}
	for _, s := range subs {
		s.Close()
	}
	eventually(t, "engine stream to close", func() bool { return f.active.Load() == 0 && h.OpenStreams() == 0 })
}

func TestHub_lateJoinerGetsBacklog(t *testing.T) {
	f := newFake()
	h := NewHub(f, Options{Backlog: 10})
	first := sub(t, h, "c1", 0)
	defer first.Close()
	for i := range 25 {
		f.push(fmt.Sprint(i))
	}
	for range 25 {
		recv(t, first)
	}
	late := sub(t, h, "c1", 3)
	defer late.Close()
	for _, want := range []string{"22", "23", "24"} {
		if l := recv(t, late); l.Text != want {
			t.Fatalf("backlog line %q; want %q", l.Text, want)
		}
	}
	all := sub(t, h, "c1", -1)
	defer all.Close()
	if l := recv(t, all); l.Text != "15" {
		t.Fatalf("first of full backlog = %q; want 15 (backlog is 10)", l.Text)
	}
	f.push("live")
	if l := recv(t, late); l.Text != "live" {
		t.Fatalf("after backlog got %q", l.Text)
	}
}

func TestHub_slowViewerSkipsWithoutSlowingOthers(t *testing.T) {
	f := newFake()
	h := NewHub(f, Options{Buffer: 4 * (lineCost + 60)})
	slow := sub(t, h, "c1", 0)
	fast := sub(t, h, "c1", 0)
	defer slow.Close()
	defer fast.Close()
	var counted atomic.Uint64
	go func() {
		for {
			l, err := fast.next(time.Minute)
			if err != nil {
				return
			}
			// Every line is either delivered or counted as skipped.
			counted.Add(1 + l.Skipped)
		}
	}()
	for i := range 100 {
		f.push(fmt.Sprint(i)) // would block here if the slow viewer held the stream back
	}
	f.push("after")
	// A skip is reported on the next delivered line: keep writing until
	// the fast viewer has accounted for the first 101.
	for deadline := time.Now().Add(5 * time.Second); counted.Load() < 101; {
		if time.Now().After(deadline) {
			t.Fatalf("fast viewer accounted for %d of 101 lines", counted.Load())
		}
		f.push("more")
		time.Sleep(time.Millisecond)
	}
	// The slow viewer kept the newest lines it had room for; the lines
	// it got and the ones it was told it missed add up to all of them.
	f.push("final")
	var got, missed uint64
	var last Line
	for last.Text != "final" {
		last = recv(t, slow)
		got++
		missed += last.Skipped
	}
	if last.Text != "final" || got+missed != last.Seq {
		t.Fatalf("slow viewer ended with %+v after %d lines and %d skipped; want the newest line, and every line accounted for", last, got, missed)
	}
}

func TestHub_streamEndClosesViewers(t *testing.T) {
	f := newFake()
	h := NewHub(f, Options{})
	s := sub(t, h, "c1", 0)
	f.push("x")
	recv(t, s)
	boom := errors.New("container gone")
	f.endWith <- boom
	if _, err := s.next(5 * time.Second); !errors.Is(err, boom) {
		t.Fatalf("after the stream's end Next = %v, want the stream's error", err)
	}
	s.Close() // closing after the end is harmless
	// A new viewer opens a new engine stream.
	s2 := sub(t, h, "c1", 0)
	defer s2.Close()
	eventually(t, "a second engine stream", func() bool { return f.opened.Load() == 2 })
}

func TestHub_linger(t *testing.T) {
	f := newFake()
	h := NewHub(f, Options{Linger: 200 * time.Millisecond})
	first := sub(t, h, "c1", 0)
	eventually(t, "engine stream to open", func() bool { return f.active.Load() == 1 })
	first.Close()
	s := sub(t, h, "c1", 0) // a reload within the linger reuses the stream
	s.Close()
	eventually(t, "stream to close after linger", func() bool { return f.active.Load() == 0 })
	if n := f.opened.Load(); n != 1 {
		t.Fatalf("opened %d engine streams; want 1", n)
	}
}

func TestHub_concurrentViewers(t *testing.T) {
	f := newFake()
	h := NewHub(f, Options{Linger: time.Millisecond})
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case f.lines <- Line{Text: fmt.Sprint(i)}:
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				s, err := h.Subscribe(context.Background(), "c1", 5)
				if err != nil {
					t.Error(err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				s.Next(ctx, nil, 1)
				cancel()
				s.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	eventually(t, "all streams closed", func() bool { return f.active.Load() == 0 && h.OpenStreams() == 0 })
}

func TestHub_historyHonoursTail(t *testing.T) {
	f := newFake()
	base := time.Now().Add(-time.Minute)
	for i := range 5 {
		f.history = append(f.history, Line{Stream: "stdout", Time: base.Add(time.Duration(i) * time.Second), Text: fmt.Sprint("old ", i)})
	}
	h := NewHub(f, Options{})
	none := sub(t, h, "c1", 0)
	two := sub(t, h, "c1", 2)
	defer none.Close()
	defer two.Close()
	if l := recv(t, two); l.Text != "old 3" {
		t.Fatalf("tail 2 starts with %q", l.Text)
	}
	if l := recv(t, two); l.Text != "old 4" {
		t.Fatalf("tail 2 second line %q", l.Text)
	}
	// The follow replays the newest history line (same time): not twice.
	f.lines <- f.history[4]
	f.push("new")
	for _, s := range []*viewer{none, two} {
		if l := recv(t, s); l.Text != "new" || l.Seq != 6 {
			t.Fatalf("live line %+v; want 'new' as line 6", l)
		}
	}
}

func TestHub_tailErrorClosesViewer(t *testing.T) {
	f := newFake()
	f.tailErr = errors.New("no such container")
	h := NewHub(f, Options{})
	s := sub(t, h, "gone", 10)
	if l, err := s.next(5 * time.Second); err == nil || err.Error() != "no such container" {
		t.Fatalf("Next = %+v, %v; want the engine's error", l, err)
	}
	eventually(t, "the failed stream to be forgotten", func() bool { return h.OpenStreams() == 0 })
}

// blockingTail is a source whose history never comes.
type blockingTail struct{ fakeSource }

func (b *blockingTail) Tail(ctx context.Context, container string, n int) ([]Line, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestHub_viewerLeavesDuringHistory(t *testing.T) {
	src := &blockingTail{fakeSource: *newFake()}
	h := NewHub(src, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Subscribe(ctx, "c1", 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe = %v", err)
	}
	eventually(t, "the abandoned stream to close", func() bool { return h.OpenStreams() == 0 })
}

// TestHub_Viewers counts subscriptions as they come and go.
func TestHub_Viewers(t *testing.T) {
	h := NewHub(nil, Options{})
	h.Publish("access/a")
	ctx := context.Background()
	a, err := h.Subscribe(ctx, "access/a", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.Subscribe(ctx, "access/a", 0)
	if n := h.Viewers(); n != 2 {
		t.Fatalf("viewers %d; want 2", n)
	}
	a.Close()
	b.Close()
	b.Close()
	if n := h.Viewers(); n != 0 {
		t.Fatalf("viewers %d after both left; want 0", n)
	}
}

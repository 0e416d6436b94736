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

// fakeSource is a container whose lines the test writes through push.
type fakeSource struct {
	mu      sync.Mutex
	lines   chan Line
	opened  atomic.Int64
	active  atomic.Int64
	endWith chan error
}

func newFake() *fakeSource {
	return &fakeSource{lines: make(chan Line), endWith: make(chan error, 1)}
}

func (f *fakeSource) source(ctx context.Context, container string, tail int, emit func(Line)) error {
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
			emit(l)
		}
	}
}

func (f *fakeSource) push(text string) { f.lines <- Line{Stream: "stdout", Time: time.Now(), Text: text} }

func recv(t *testing.T, s *Subscription) Line {
	t.Helper()
	select {
	case l, ok := <-s.C:
		if !ok {
			t.Fatal("subscription closed")
		}
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no line within 5s")
	}
	return Line{}
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
	h := NewHub(f.source, Options{})
	subs := []*Subscription{h.Subscribe("c1", 0), h.Subscribe("c1", 0), h.Subscribe("c1", 0)}
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
	h := NewHub(f.source, Options{Backlog: 10})
	first := h.Subscribe("c1", 0)
	defer first.Close()
	for i := range 25 {
		f.push(fmt.Sprint(i))
	}
	for range 25 {
		recv(t, first)
	}
	late := h.Subscribe("c1", 3)
	defer late.Close()
	for _, want := range []string{"22", "23", "24"} {
		if l := recv(t, late); l.Text != want {
			t.Fatalf("backlog line %q; want %q", l.Text, want)
		}
	}
	all := h.Subscribe("c1", -1)
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
	h := NewHub(f.source, Options{Buffer: 4})
	slow := h.Subscribe("c1", 0)
	fast := h.Subscribe("c1", 0)
	defer slow.Close()
	defer fast.Close()
	got := make(chan uint64)
	go func() {
		var n uint64
		for l := range fast.C {
			// Every line is either delivered or counted as skipped.
			if n += 1 + l.Skipped; n == 101 {
				got <- n
			}
		}
	}()
	for i := range 100 {
		f.push(fmt.Sprint(i)) // would block here if the slow viewer held the stream back
	}
	f.push("after")
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("fast viewer's lines and skips do not add up to 101")
	}
	// The slow viewer has its 4 buffered lines; the next one reports the gap.
	for i := range 4 {
		if l := recv(t, slow); l.Text != fmt.Sprint(i) {
			t.Fatalf("slow viewer line %d = %q", i, l.Text)
		}
	}
	f.push("final")
	if l := recv(t, slow); l.Text != "final" || l.Skipped != 97 {
		t.Fatalf("slow viewer got %+v; want 'final' with 97 skipped", l)
	}
}

func TestHub_streamEndClosesViewers(t *testing.T) {
	f := newFake()
	h := NewHub(f.source, Options{})
	s := h.Subscribe("c1", 0)
	f.push("x")
	recv(t, s)
	boom := errors.New("container gone")
	f.endWith <- boom
	select {
	case _, ok := <-s.C:
		if ok {
			t.Fatal("unexpected line")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription not closed at stream end")
	}
	if !errors.Is(s.Err(), boom) {
		t.Fatalf("Err = %v", s.Err())
	}
	s.Close() // closing after the end is harmless
	// A new viewer opens a new engine stream.
	s2 := h.Subscribe("c1", 0)
	defer s2.Close()
	eventually(t, "a second engine stream", func() bool { return f.opened.Load() == 2 })
}

func TestHub_linger(t *testing.T) {
	f := newFake()
	h := NewHub(f.source, Options{Linger: 200 * time.Millisecond})
	first := h.Subscribe("c1", 0)
	eventually(t, "engine stream to open", func() bool { return f.active.Load() == 1 })
	first.Close()
	s := h.Subscribe("c1", 0) // a reload within the linger reuses the stream
	s.Close()
	eventually(t, "stream to close after linger", func() bool { return f.active.Load() == 0 })
	if n := f.opened.Load(); n != 1 {
		t.Fatalf("opened %d engine streams; want 1", n)
	}
}

func TestHub_concurrentViewers(t *testing.T) {
	f := newFake()
	h := NewHub(f.source, Options{Linger: time.Millisecond})
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
				s := h.Subscribe("c1", 5)
				select {
				case <-s.C:
				case <-time.After(time.Millisecond):
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	eventually(t, "all streams closed", func() bool { return f.active.Load() == 0 && h.OpenStreams() == 0 })
}

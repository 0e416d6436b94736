package stats

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// tickSource emits a reading every tick until ctx ends, counting streams.
type tickSource struct {
	opened, open atomic.Int64
	tick         time.Duration
}

func (s *tickSource) StreamStats(ctx context.Context, id string, emit func(runtime.Sample) error) error {
	s.opened.Add(1)
	s.open.Add(1)
	defer s.open.Add(-1)
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := emit(runtime.Sample{Time: time.Now(), Memory: uint64(n)}); err != nil {
				return err
			}
		}
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestHub_oneStreamManyViewers(t *testing.T) {
	src := &tickSource{tick: time.Millisecond}
	h := NewHub(src, Options{History: 10})
	var subs []*Subscription
	for i := 0; i < 10; i++ {
		subs = append(subs, h.Subscribe("c1"))
	}
	other := h.Subscribe("c2")
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		go func(s *Subscription) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				<-s.C
			}
		}(s)
	}
	wg.Wait()
	if n := h.OpenStreams(); n != 2 {
		t.Fatalf("%d hub streams for two containers; want 2", n)
	}
	if n := src.opened.Load(); n != 2 {
		t.Fatalf("%d engine streams opened for 11 viewers of two containers; want 2", n)
	}
	if l := h.Latest(); l["c1"].Memory == 0 || l["c2"].Memory == 0 {
		t.Fatalf("latest readings %+v", l)
	}
	// A late viewer starts with the history.
	late := h.Subscribe("c1")
	if len(late.History) < 5 || late.History[0].Memory >= late.History[len(late.History)-1].Memory {
		t.Fatalf("late viewer got %d readings of history, oldest first; want the kept ones", len(late.History))
	}
	late.Close()
	for _, s := range subs {
		s.Close()
	}
	waitFor(t, "c1's stream to close", func() bool { return h.OpenStreams() == 1 })
	other.Close()
	waitFor(t, "every engine stream to close", func() bool { return src.open.Load() == 0 && h.OpenStreams() == 0 })
}

func TestHub_slowViewerDoesNotBlock(t *testing.T) {
	src := &tickSource{tick: 100 * time.Microsecond}
	h := NewHub(src, Options{History: 4, Buffer: 2})
	slow := h.Subscribe("c")
	fast := h.Subscribe("c")
	defer slow.Close()
	defer fast.Close()
	var last uint64
	for i := 0; i < 200; i++ {
		last = (<-fast.C).Memory
	}
	if last < 150 {
		t.Fatalf("fast viewer at reading %d; the slow one held it back", last)
	}
	if len(slow.C) > cap(slow.C) {
		t.Fatal("unreachable")
	}
}

func TestHub_lingerReusesStream(t *testing.T) {
	src := &tickSource{tick: time.Millisecond}
	h := NewHub(src, Options{Linger: time.Hour})
	s := h.Subscribe("c")
	<-s.C
	s.Close()
	s = h.Subscribe("c")
	<-s.C
	s.Close()
	if n := src.opened.Load(); n != 1 {
		t.Fatalf("%d engine streams opened across a reload; want 1", n)
	}
}

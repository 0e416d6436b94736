package jobs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestJob_watchFromStartAndLate(t *testing.T) {
	m := NewManager(10)
	release := make(chan struct{})
	j := m.Start(context.Background(), "deploy", "blog", "admin", func(ctx context.Context, emit Emit) error {
		emit(Event{Type: TypeStep, Step: "pull", Status: StatusRunning})
		for i := int64(1); i <= 10; i++ {
			emit(Event{Type: TypeProgress, Layer: "sha256:a", Current: i * 10, Total: 100})
		}
		<-release
		emit(Event{Type: TypeStep, Step: "pull", Status: StatusSucceeded})
		return nil
	})
	// Wait until the job is parked on release, then watch.
	for {
		past, _, stop := j.Watch()
		stop()
		if len(past) == 2 && past[1].Current == 100 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	past, next, stop := j.Watch()
	defer stop()
	if past[0].Step != "pull" || past[1].Type != TypeProgress {
		t.Fatalf("past = %+v; progress must collapse into one event per layer", past)
	}
	close(release)
	var got []Event
	for e := range next {
		got = append(got, e)
	}
	if len(got) != 2 || got[0].Status != StatusSucceeded || got[1].Type != TypeDone || got[1].Status != StatusSucceeded {
		t.Fatalf("next = %+v", got)
	}
	if st, err := j.Status(); st != StatusSucceeded || err != nil {
		t.Fatalf("status %s %v", st, err)
	}
	// A watcher after the end gets the whole story and a closed channel.
	past, next, _ = j.Watch()
	if _, ok := <-next; ok || past[len(past)-1].Type != TypeDone {
		t.Fatalf("late watch: %+v", past)
	}
}

func TestJob_failAndCancel(t *testing.T) {
	m := NewManager(10)
	boom := errors.New("boom")
	j := m.Start(context.Background(), "push", "x", "admin", func(ctx context.Context, emit Emit) error { return boom })
	<-j.Done()
	if st, err := j.Status(); st != StatusFailed || !errors.Is(err, boom) {
		t.Fatalf("status %s %v", st, err)
	}
	j2 := m.Start(context.Background(), "push", "x", "admin", func(ctx context.Context, emit Emit) error {
		<-ctx.Done()
		return ctx.Err()
	})
	j2.Cancel()
	<-j2.Done()
	if st, _ := j2.Status(); st != StatusCanceled {
		t.Fatalf("status %s", st)
	}
}

func TestManager_keepsRecent(t *testing.T) {
	m := NewManager(3)
	var ids []string
	for i := range 6 {
		j := m.Start(context.Background(), "k", fmt.Sprint(i), "a", func(context.Context, Emit) error { return nil })
		<-j.Done()
		ids = append(ids, j.ID)
		time.Sleep(time.Millisecond)
	}
	m.Start(context.Background(), "k", "last", "a", func(context.Context, Emit) error { return nil })
	if _, ok := m.Get(ids[0]); ok {
		t.Fatal("oldest finished job kept")
	}
	if _, ok := m.Get(ids[5]); !ok {
		t.Fatal("newest finished job forgotten")
	}
}

func TestManager_panicFailsTheJobAndWaitWaits(t *testing.T) {
	m := NewManager(10)
	j := m.Start(context.Background(), "deploy", "x", "a", func(context.Context, Emit) error {
		var p *struct{ n int }
		return fmt.Errorf("%d", p.n) // nil dereference
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := j.Status(); st != StatusFailed || err == nil {
		t.Fatalf("status %s %v; want failed with the panic", st, err)
	}
}

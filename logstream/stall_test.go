package logstream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// stuckSource's first follow delivers two lines and then hangs, as the
// json-file driver's follow can after a rotation, while the log goes on;
// a follow from a later since delivers the rest, from that instant.
type stuckSource struct {
	mu      sync.Mutex
	log     []Line
	follows []time.Time // the since of each follow
}

func (s *stuckSource) Tail(ctx context.Context, container string, n int) ([]Line, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.follows) == 0 {
		return nil, nil // the history, before anything was written
	}
	return s.log[len(s.log)-1:], nil
}

func (s *stuckSource) Follow(ctx context.Context, container string, since time.Time, emit func([]Line)) error {
	s.mu.Lock()
	s.follows = append(s.follows, since)
	first := len(s.follows) == 1
	var out []Line
	for _, l := range s.log {
		if !l.Time.Before(since) {
			out = append(out, l)
		}
	}
	s.mu.Unlock()
	if first {
		out = out[:2]
	}
	emit(out)
	<-ctx.Done()
	return nil
}

func TestHub_resumesAStuckFollow(t *testing.T) {
	base := time.Now().Add(time.Second) // after the follow's first since, now
	src := &stuckSource{}
	for i, text := range []string{"one", "two", "three", "four"} {
		src.log = append(src.log, Line{Stream: "stdout", Time: base.Add(time.Duration(i) * time.Millisecond), Text: text})
	}
	h := NewHub(src, Options{StallCheck: 20 * time.Millisecond})
	v := sub(t, h, "c1", -1) // the backlog too: the first lines may come before the viewer is in
	defer v.Close()
	var got []string
	for len(got) < 4 {
		l := recv(t, v)
		if l.Repeats != 0 || l.Skipped != 0 {
			t.Fatalf("line %+v: a resumed follow's repeat is not news", l)
		}
		got = append(got, l.Text)
	}
	if got[0] != "one" || got[1] != "two" || got[2] != "three" || got[3] != "four" {
		t.Fatalf("got %v", got)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.follows) != 2 || !src.follows[1].Equal(base.Add(time.Millisecond)) {
		t.Fatalf("follows from %v; want a second one from the newest line delivered", src.follows)
	}
}

// lostSource's first follow delivers two lines and ends with the error
// the engine gives when a rotation takes the file it read; a follow from
// a later since delivers the rest.
type lostSource struct{ stuckSource }

func (s *lostSource) Follow(ctx context.Context, container string, since time.Time, emit func([]Line)) error {
	s.mu.Lock()
	s.follows = append(s.follows, since)
	first := len(s.follows) == 1
	var out []Line
	for _, l := range s.log {
		if !l.Time.Before(since) {
			out = append(out, l)
		}
	}
	s.mu.Unlock()
	if first {
		emit(out[:2])
		return errors.New("reading logs of c1: the engine says: Error grabbing logs: open /var/lib/docker/containers/c1/c1-json.log.1: no such file or directory")
	}
	emit(out)
	<-ctx.Done()
	return nil
}

func TestHub_followsAgainAfterTheEngineLostItsFile(t *testing.T) {
	base := time.Now().Add(time.Second)
	src := &lostSource{}
	for i, text := range []string{"one", "two", "three", "four"} {
		src.log = append(src.log, Line{Stream: "stdout", Time: base.Add(time.Duration(i) * time.Millisecond), Text: text})
	}
	h := NewHub(src, Options{StallCheck: -1})
	v := sub(t, h, "c1", -1)
	defer v.Close()
	var got []string
	for len(got) < 4 {
		got = append(got, recv(t, v).Text)
	}
	if got[0] != "one" || got[1] != "two" || got[2] != "three" || got[3] != "four" {
		t.Fatalf("got %v", got)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.follows) != 2 || !src.follows[1].Equal(base.Add(time.Millisecond)) {
		t.Fatalf("follows from %v; want a second one from the newest line delivered", src.follows)
	}
}

// resumingSource is a stuckSource that can resume: the hub must follow
// again through Resume, which reads the whole log after since, not
// through Follow, which may read its end alone.
type resumingSource struct {
	stuckSource
	resumes int
}

func (s *resumingSource) Resume(ctx context.Context, container string, since time.Time, emit func([]Line)) error {
	s.mu.Lock()
	s.resumes++
	s.mu.Unlock()
	return s.stuckSource.Follow(ctx, container, since, emit)
}

func TestHub_resumesThroughResumer(t *testing.T) {
	base := time.Now().Add(time.Second)
	src := &resumingSource{}
	for i, text := range []string{"one", "two", "three", "four"} {
		src.log = append(src.log, Line{Stream: "stdout", Time: base.Add(time.Duration(i) * time.Millisecond), Text: text})
	}
	h := NewHub(src, Options{StallCheck: 20 * time.Millisecond})
	v := sub(t, h, "c1", -1)
	defer v.Close()
	for range 4 {
		recv(t, v)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.resumes != 1 || len(src.follows) != 2 {
		t.Fatalf("%d resumes of %d follows; want the second follow through Resume", src.resumes, len(src.follows))
	}
}

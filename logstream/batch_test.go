package logstream

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"
)

// TestHub_batchSkipsOldestAndTells floods a viewer that does not read
// with one large batch: it keeps the newest lines its byte budget holds,
// and the first line it gets says how many went before it.
func TestHub_batchSkipsOldestAndTells(t *testing.T) {
	f := newFake()
	h := NewHub(f, Options{Buffer: 100 * (lineCost + 200)})
	slow := sub(t, h, "c1", 0)
	defer slow.Close()
	now := time.Now()
	batch := make([]Line, 10000)
	for i := range batch {
		batch[i] = Line{Stream: "stdout", Time: now.Add(time.Duration(i)), Text: fmt.Sprint("flood ", i)}
	}
	f.batches <- batch
	lines, err := nextFlat(context.Background(), slow.Subscription, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) < 50 || len(lines) > 200 {
		t.Fatalf("a viewer with room for ~100 lines got %d", len(lines))
	}
	first, last := lines[0], lines[len(lines)-1]
	if last.Text != "flood 9999" || first.Skipped+uint64(len(lines)) != 10000 || first.Seq != first.Skipped+1 {
		t.Fatalf("got %d lines from seq %d (skipped %d) to %q; want the newest, the rest counted", len(lines), first.Seq, first.Skipped, last.Text)
	}
	for i, l := range lines[1:] {
		if l.Skipped != 0 || l.Seq != first.Seq+uint64(i)+1 {
			t.Fatalf("line %+v after %+v", l, lines[i])
		}
	}
}

// TestHub_nextLimit hands a batch out in parts of at most limit lines.
func TestHub_nextLimit(t *testing.T) {
	f := newFake()
	h := NewHub(f, Options{})
	s := sub(t, h, "c1", 0)
	defer s.Close()
	f.batches <- []Line{{Text: "a"}, {Text: "b"}, {Text: "c"}}
	var got []string
	for len(got) < 3 {
		lines, err := nextFlat(context.Background(), s.Subscription, 2)
		if err != nil || len(lines) > 2 {
			t.Fatalf("Next = %d lines, %v", len(lines), err)
		}
		for _, l := range lines {
			got = append(got, l.Text)
		}
	}
	if fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("got %v", got)
	}
}

// TestHub_repeatsAreDroppedAndTold replays a stretch of the log the way
// json-file's follow can after a rotation: the repeated lines go, and
// the next new line says how many.
func TestHub_repeatsAreDroppedAndTold(t *testing.T) {
	f := newFake()
	h := NewHub(f, Options{})
	s := sub(t, h, "c1", 0)
	defer s.Close()
	base := time.Now()
	at := func(i int, text string) Line {
		return Line{Stream: "stdout", Time: base.Add(time.Duration(i) * time.Millisecond), Text: text}
	}
	f.batches <- []Line{at(1, "one"), at(2, "two"), at(3, "three")}
	f.batches <- []Line{at(1, "one"), at(2, "two"), at(3, "three"), at(4, "four")}
	// stderr keeps its own order.
	f.batches <- []Line{{Stream: "stderr", Time: base.Add(time.Millisecond), Text: "err"}}
	var got []Line
	for len(got) < 5 {
		got = append(got, recv(t, s))
	}
	if got[3].Text != "four" || got[3].Repeats != 3 || got[4].Text != "err" || got[4].Repeats != 0 {
		t.Fatalf("got %+v; want four with 3 repeats, then err", got)
	}
	enc, _ := json.Marshal(got[3])
	if string(got[3].AppendJSON(nil)) != string(enc) {
		t.Fatalf("AppendJSON = %s, want %s", got[3].AppendJSON(nil), enc)
	}
}

// TestHub_publish feeds an in-process source: viewers subscribed before
// and after get the lines and the backlog, no engine stream opens, and
// a slow viewer skips by the same rule.
func TestHub_publish(t *testing.T) {
	f := newFake()
	h := NewHub(f, Options{Backlog: 3, Buffer: 3 * (lineCost + 100)})
	h.Publish("access/blog") // declared before any line
	early := sub(t, h, "access/blog", 0)
	defer early.Close()
	now := time.Now().UTC()
	h.Publish("access/blog", Line{Stream: "stdout", Time: now, Text: `GET / 200 "x"`})
	l := recv(t, early)
	if l.Seq != 1 || l.Text != `GET / 200 "x"` {
		t.Fatalf("got %+v", l)
	}
	enc, _ := json.Marshal(l)
	if string(l.AppendJSON(nil)) != string(enc) {
		t.Fatalf("AppendJSON = %s, want %s", l.AppendJSON(nil), enc)
	}
	for i := range 5 {
		h.Publish("access/blog", Line{Stream: "stdout", Time: now, Text: fmt.Sprint("req ", i)})
	}
	late := sub(t, h, "access/blog", -1)
	defer late.Close()
	for _, want := range []string{"req 2", "req 3", "req 4"} {
		if l := recv(t, late); l.Text != want {
			t.Fatalf("backlog line %q, want %q", l.Text, want)
		}
	}
	// early read nothing since: it skipped all but the newest three.
	lines, _ := nextFlat(context.Background(), early.Subscription, 0)
	if len(lines) != 3 || lines[0].Skipped != 2 || lines[2].Text != "req 4" {
		t.Fatalf("slow viewer got %+v", lines)
	}
	if f.opened.Load() != 0 || h.OpenStreams() != 0 {
		t.Fatalf("a published key opened %d engine streams", f.opened.Load())
	}
	late.Close()
	if _, err := nextFlat(context.Background(), late.Subscription, 0); err != io.EOF {
		t.Fatalf("Next after Close = %v, want io.EOF", err)
	}
	// The published stream outlives its viewers.
	h.Publish("access/blog", Line{Stream: "stdout", Time: now, Text: "later"})
	again := sub(t, h, "access/blog", 1)
	defer again.Close()
	if l := recv(t, again); l.Text != "later" || l.Seq != 7 {
		t.Fatalf("after the viewers left: %+v", l)
	}
}

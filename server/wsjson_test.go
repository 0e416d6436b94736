package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kajhq/kaj/logstream"
)

func TestAppendLines_matchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 26, 20, 1, 2, 345678900, time.UTC)
	lines := []logstream.Line{
		{Seq: 1, Stream: "stdout", Time: at, Text: "plain"},
		{Seq: 2, Stream: "stderr", Time: at, Text: "quotes \" and \\ <b>&amp;</b> tab\t nul\x00 esc\x1b[31mred\x1b[0m", Skipped: 7},
		{Seq: 3, Stream: "stdout", Time: at.In(time.FixedZone("x", 3600)), Text: "ünïcødé ✓ \u2028 line sep, bad \xff byte"},
		{Seq: 4, Stream: "stdout", Time: at, Text: ""},
	}
	want, err := json.Marshal(wsMessage{Type: "lines", Container: "kaj-blog-r1", Lines: func() []logstream.Line {
		out := append([]logstream.Line(nil), lines...)
		for i := range out {
			out[i].Time = out[i].Time.UTC()
		}
		return out
	}()})
	if err != nil {
		t.Fatal(err)
	}
	if got := appendLines(nil, "kaj-blog-r1", lines); string(got) != string(want) {
		t.Fatalf("appendLines:\n got %s\nwant %s", got, want)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("hello \"world\" \x00 \xff ✓")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s; want %s", s, got, want)
		}
	})
}

func BenchmarkAppendLines(b *testing.B) {
	lines := make([]logstream.Line, 512)
	for i := range lines {
		lines[i] = logstream.Line{Seq: uint64(i), Stream: "stdout", Time: time.Now(), Text: "127.0.0.1 - - [26/Nov/2026:20:01:02 +0000] \"GET /index HTTP/1.1\" 200 5120"}
	}
	var buf []byte
	b.ReportAllocs()
	for range b.N {
		buf = appendLines(buf[:0], "kaj-blog-r1", lines)
	}
	b.SetBytes(int64(len(buf)))
}

func TestAppendSegments(t *testing.T) {
	at := time.Date(2026, 11, 26, 20, 1, 2, 0, time.UTC)
	segs := [][]logstream.Line{
		{{Seq: 1, Stream: "stdout", Time: at.Add(-time.Hour), Text: "old"}},
		{{Seq: 2, Stream: "stdout", Time: at, Text: "a"}, {Seq: 3, Stream: "stderr", Time: at, Text: "b", Repeats: 2}},
	}
	got, left := appendSegments(nil, "c", segs, 5, at.Add(-time.Minute))
	want, _ := json.Marshal(wsMessage{Type: "lines", Container: "c", Lines: []logstream.Line{
		{Seq: 2, Stream: "stdout", Time: at, Text: "a", Skipped: 5}, {Seq: 3, Stream: "stderr", Time: at, Text: "b", Repeats: 2}}})
	if string(got) != string(want) || left != 0 {
		t.Fatalf("appendSegments:\n got %s (%d left)\nwant %s", got, left, want)
	}
	// Nothing after since: no message, the skip count kept for the next.
	got, left = appendSegments([]byte("x"), "c", segs[:1], 5, at)
	if string(got) != "x" || left != 5 {
		t.Fatalf("got %q, %d left; want nothing and 5", got, left)
	}
}

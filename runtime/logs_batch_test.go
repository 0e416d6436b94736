package runtime

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/moby/moby/api/pkg/stdcopy"
)

// TestReadMuxed_batches reads the same stream whole, a byte at a time
// and with a frame larger than the read buffer: the lines are the same,
// in order, and a whole read comes as one batch.
func TestReadMuxed_batches(t *testing.T) {
	var in bytes.Buffer
	var want []string
	for i := range 1000 {
		s := stdcopy.Stdout
		if i%7 == 0 {
			s = stdcopy.Stderr
		}
		text := fmt.Sprintf("line %d", i)
		in.Write(frame(s, "2026-01-02T03:04:05.000000001Z "+text+"\n"))
		want = append(want, text)
	}
	big := strings.Repeat("x", readBuffer+100)
	in.Write(frame(stdcopy.Stdout, "2026-01-02T03:04:06Z "+big+"\n"))
	want = append(want, big)
	data := in.Bytes()

	for _, c := range []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(data)},
		{"byte at a time", iotest.OneByteReader(bytes.NewReader(data))},
		{"half reads", iotest.HalfReader(bytes.NewReader(data))},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			batches := 0
			err := readMuxed(c.r, func(b []LogLine) error {
				batches++
				if len(b) == 0 || len(b) > maxBatchLines {
					t.Fatalf("batch of %d lines", len(b))
				}
				for _, l := range b {
					got = append(got, l.Text)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d lines, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("line %d = %.40q, want %.40q", i, got[i], want[i])
				}
			}
			if c.name == "whole" && batches > 3 {
				t.Errorf("a whole read came in %d batches", batches)
			}
		})
	}
}

func TestReadMuxed_truncated(t *testing.T) {
	f := frame(stdcopy.Stdout, "2026-01-02T03:04:05Z one\n")
	err := readMuxed(bytes.NewReader(f[:len(f)-3]), func([]LogLine) error { return nil })
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

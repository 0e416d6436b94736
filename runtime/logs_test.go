package runtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
)

func frame(s stdcopy.StdType, text string) []byte {
	b := []byte{byte(s), 0, 0, 0}
	b = binary.BigEndian.AppendUint32(b, uint32(len(text)))
	return append(b, text...)
}

func TestLogWriter_demux(t *testing.T) {
	var in bytes.Buffer
	in.Write(frame(stdcopy.Stdout, "2026-01-02T03:04:05.000000001Z listening on :8080\n"))
	in.Write(frame(stdcopy.Stderr, "2026-01-02T03:04:05.5Z warning: slow\n"))
	// A line over the engine's 16 KiB message limit comes in parts, each
	// with its own time.
	in.Write(frame(stdcopy.Stdout, "2026-01-02T03:04:06Z long "))
	in.Write(frame(stdcopy.Stderr, "2026-01-02T03:04:06.1Z between\n"))
	in.Write(frame(stdcopy.Stdout, "2026-01-02T03:04:07Z line\n"))
	in.Write(frame(stdcopy.Stdout, "2026-01-02T03:04:08Z \n"))
	in.Write(frame(stdcopy.Stdout, "no time here\n"))

	var got []LogLine
	emit := func(l LogLine) error { got = append(got, l); return nil }
	if _, err := stdcopy.StdCopy(&logWriter{stream: Stdout, emit: emit}, &logWriter{stream: Stderr, emit: emit}, &in); err != nil {
		t.Fatal(err)
	}
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	want := []LogLine{
		{Stdout, ts("2026-01-02T03:04:05.000000001Z"), "listening on :8080"},
		{Stderr, ts("2026-01-02T03:04:05.5Z"), "warning: slow"},
		{Stderr, ts("2026-01-02T03:04:06.1Z"), "between"},
		{Stdout, ts("2026-01-02T03:04:06Z"), "long line"},
		{Stdout, ts("2026-01-02T03:04:08Z"), ""},
		{Stdout, time.Time{}, "no time here"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLogWriter_emitErrorStops(t *testing.T) {
	stop := errors.New("subscriber gone")
	var in bytes.Buffer
	in.Write(frame(stdcopy.Stdout, "2026-01-02T03:04:05Z one\n"))
	in.Write(frame(stdcopy.Stdout, "2026-01-02T03:04:05Z two\n"))
	n := 0
	emit := func(LogLine) error { n++; return stop }
	_, err := stdcopy.StdCopy(&logWriter{stream: Stdout, emit: emit}, &logWriter{stream: Stderr, emit: emit}, &in)
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("StdCopy = %v after %d lines, want the emit error after 1", err, n)
	}
}

func TestReadRaw_tty(t *testing.T) {
	in := strings.NewReader("2026-01-02T03:04:05Z $ hello\r\n2026-01-02T03:04:06Z bye\r\n2026-01-02T03:04:07Z no newline")
	var got []string
	err := readRaw(in, func(l LogLine) error {
		if l.Stream != Stdout || l.Time.IsZero() {
			t.Errorf("line %+v: want stdout with a time", l)
		}
		got = append(got, l.Text)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "$ hello|bye|no newline" {
		t.Fatalf("lines = %q", got)
	}
}

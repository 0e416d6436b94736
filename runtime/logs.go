package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	mclient "github.com/moby/moby/client"
)

// Stream is the output stream a log line was written to.
type Stream string

// The streams of a container's log.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// LogLine is one line of a container's log.
type LogLine struct {
	Stream Stream
	// Time is when the engine received the line.
	Time time.Time
	// Text is the line without its newline.
	Text string
}

// LogOptions select the lines Logs delivers.
type LogOptions struct {
	// Since skips lines older than this; zero means from the start.
	Since time.Time
	// Tail limits the backlog to its last Tail lines; zero means all.
	Tail int
	// Follow keeps delivering new lines until the container stops or the
	// context is cancelled.
	Follow bool
}

// Logs delivers one of kaj's containers' log lines to emit, in the order
// the engine recorded them, stdout and stderr apart, each with the
// engine's timestamp (a TTY container's output is all stdout). It returns
// nil at the end of the log: after the backlog, or, when following, once
// the container stops or ctx is cancelled. An error from emit stops the
// stream and is returned. emit runs on the calling goroutine; a slow emit
// holds up the engine's stream, not other callers.
func (d *Docker) Logs(ctx context.Context, id string, opts LogOptions, emit func(LogLine) error) error {
	if opts.Tail < 0 {
		return invalid("LogOptions.Tail", strconv.Itoa(opts.Tail), "a tail is a number of lines; zero means all")
	}
	c, err := d.inspect(ctx, id)
	if err != nil {
		return err
	}
	name := containerOf(c).Name
	o := mclient.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: opts.Follow}
	if !opts.Since.IsZero() {
		o.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	if opts.Tail > 0 {
		o.Tail = strconv.Itoa(opts.Tail)
	}
	rc, err := d.cli.ContainerLogs(ctx, c.ID, o)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return engineError("reading logs of "+name, err)
	}
	defer rc.Close()
	var emitErr error
	send := func(l LogLine) error {
		if err := emit(l); err != nil {
			emitErr = err
			return err
		}
		return nil
	}
	if c.Config.Tty {
		err = readRaw(rc, send)
	} else {
		_, err = stdcopy.StdCopy(&logWriter{stream: Stdout, emit: send}, &logWriter{stream: Stderr, emit: send}, rc)
	}
	switch {
	case emitErr != nil:
		return emitErr
	case ctx.Err() != nil:
		return nil // the caller stopped reading
	case err != nil:
		return fmt.Errorf("reading logs of %s: %w", name, err)
	}
	return nil
}

// lastLogs is the last n lines of a container's log as text, stderr lines
// marked, for error messages. It is empty when the log cannot be read.
func (d *Docker) lastLogs(ctx context.Context, id string, n int) []string {
	var out []string
	d.Logs(ctx, id, LogOptions{Tail: n}, func(l LogLine) error {
		if l.Stream == Stderr {
			out = append(out, "stderr: "+l.Text)
		} else {
			out = append(out, l.Text)
		}
		return nil
	})
	return out
}

// logWriter turns one stream of the engine's demultiplexed log into lines.
// stdcopy writes each frame, which the engine fills with one log message,
// in one Write: "<RFC 3339 time> <text>\n". A line longer than the engine's
// message limit comes as several messages, all but the last without the
// newline, each with its own time; they are joined under the first time.
type logWriter struct {
	stream  Stream
	emit    func(LogLine) error
	pending []byte    // text of an unfinished line
	since   time.Time // time of its first part
	partial bool
}

func (w *logWriter) Write(msg []byte) (int, error) {
	n := len(msg)
	t, text := splitTimestamp(msg)
	if !w.partial {
		w.since = t
	}
	for {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			break
		}
		line := text[:i]
		if len(w.pending) > 0 {
			line = append(w.pending, line...)
			w.pending = w.pending[:0]
		}
		if err := w.emit(LogLine{Stream: w.stream, Time: w.since, Text: string(line)}); err != nil {
			return 0, err
		}
		text = text[i+1:]
	}
	w.pending = append(w.pending, text...)
	w.partial = len(w.pending) > 0
	return n, nil
}

// readRaw reads a TTY container's log: one stream, lines ending in
// "\r\n", each led by its time.
func readRaw(r io.Reader, emit func(LogLine) error) error {
	br := bufio.NewReader(r)
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			t, text := splitTimestamp(bytes.TrimRight(b, "\r\n"))
			if eerr := emit(LogLine{Stream: Stdout, Time: t, Text: string(bytes.TrimRight(text, "\r"))}); eerr != nil {
				return eerr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// splitTimestamp splits "<RFC 3339 time> <text>" into its parts; text
// without a leading time comes back whole, with a zero time.
func splitTimestamp(b []byte) (time.Time, []byte) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		i = len(b)
	}
	t, err := time.Parse(time.RFC3339Nano, string(b[:i]))
	if err != nil {
		return time.Time{}, b
	}
	if i < len(b) {
		i++
	}
	return t, b[i:]
}

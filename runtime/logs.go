package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

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
	return d.LogBatches(ctx, id, opts, func(batch []LogLine) error {
		for _, l := range batch {
			if err := emit(l); err != nil {
				return err
			}
		}
		return nil
	})
}

// LogBatches is Logs handing over lines in batches: each batch is the
// whole lines one read of the engine's stream held, up to
// maxBatchLines. Under a flood a read brings hundreds of lines; when the
// log is quiet a batch is one line, passed on as soon as it arrives.
// emit may keep the slice.
func (d *Docker) LogBatches(ctx context.Context, id string, opts LogOptions, emit func([]LogLine) error) error {
	if opts.Tail < 0 {
		return invalid("LogOptions.Tail", strconv.Itoa(opts.Tail), "a tail is a number of lines; zero means all")
	}
	c, err := d.inspect(ctx, id)
	if err != nil {
		return err
	}
	name := d.containerOf(c).Name
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
	send := func(b []LogLine) error {
		if err := emit(b); err != nil {
			emitErr = err
			return err
		}
		return nil
	}
	if c.Config.Tty {
		err = readRawBatches(rc, send)
	} else {
		err = readMuxed(rc, send)
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

// Reading the engine's log stream: reads of up to readBuffer bytes (a
// read returns what has arrived, so this is a ceiling, not a wait), and
// at most maxBatchLines lines handed over at once so a viewer far behind
// still gets its first lines early.
const (
	readBuffer    = 256 << 10
	maxBatchLines = 4096
)

// readMuxed reads the engine's multiplexed stream (8-byte frame headers:
// stream, 3 zero bytes, big-endian length) and emits the lines of each
// read as one batch.
func readMuxed(r io.Reader, emit func([]LogLine) error) error {
	var batch []LogLine
	add := func(l LogLine) error {
		batch = append(batch, l)
		if len(batch) == maxBatchLines {
			return flush(&batch, emit)
		}
		return nil
	}
	out := logWriter{stream: Stdout, emit: add}
	errw := logWriter{stream: Stderr, emit: add}
	buf := make([]byte, readBuffer)
	start, end := 0, 0
	for {
		n, rerr := r.Read(buf[end:])
		end += n
		for end-start >= 8 {
			size := int(binary.BigEndian.Uint32(buf[start+4 : start+8]))
			if end-start < 8+size {
				break
			}
			payload := buf[start+8 : start+8+size]
			var err error
			switch buf[start] {
			case 0, 1:
				_, err = out.Write(payload)
			case 2:
				_, err = errw.Write(payload)
			case 3: // the engine's own error about the stream
				return fmt.Errorf("the engine says: %s", bytes.TrimSpace(payload))
			default:
				return fmt.Errorf("unknown stream %d in the engine's log stream", buf[start])
			}
			if err != nil {
				return err
			}
			start += 8 + size
		}
		if err := flush(&batch, emit); err != nil {
			return err
		}
		// Keep the unfinished frame at the buffer's start, in a larger
		// buffer when it would not fit.
		end = copy(buf, buf[start:end])
		start = 0
		if end >= 8 {
			if need := 8 + int(binary.BigEndian.Uint32(buf[4:8])); need > len(buf) {
				buf = append(buf[:end:end], make([]byte, need-end)...)
			}
		}
		if rerr == io.EOF {
			if end > 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// flush hands a non-empty batch over and starts a new one.
func flush(batch *[]LogLine, emit func([]LogLine) error) error {
	if len(*batch) == 0 {
		return nil
	}
	b := *batch
	*batch = nil
	return emit(b)
}

// readRawBatches reads a TTY container's log in batches: one stream,
// lines ending in "\r\n", each led by its time.
func readRawBatches(r io.Reader, emit func([]LogLine) error) error {
	var batch []LogLine
	buf := make([]byte, readBuffer)
	end := 0
	for {
		n, rerr := r.Read(buf[end:])
		end += n
		start := 0
		for {
			i := bytes.IndexByte(buf[start:end], '\n')
			if i < 0 {
				break
			}
			batch = append(batch, rawLine(buf[start:start+i]))
			start += i + 1
			if len(batch) == maxBatchLines {
				if err := flush(&batch, emit); err != nil {
					return err
				}
			}
		}
		end = copy(buf, buf[start:end])
		if end == len(buf) { // a line longer than the buffer: pass it on in parts
			batch = append(batch, rawLine(buf[:end]))
			end = 0
		}
		if rerr != nil && end > 0 {
			batch = append(batch, rawLine(buf[:end]))
			end = 0
		}
		if err := flush(&batch, emit); err != nil {
			return err
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func rawLine(b []byte) LogLine {
	t, text := splitTimestamp(bytes.TrimRight(b, "\r\n"))
	return LogLine{Stream: Stdout, Time: t, Text: string(bytes.TrimRight(text, "\r"))}
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

// readRaw reads a TTY container's log line by line.
func readRaw(r io.Reader, emit func(LogLine) error) error {
	return readRawBatches(r, func(b []LogLine) error {
		for _, l := range b {
			if err := emit(l); err != nil {
				return err
			}
		}
		return nil
	})
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

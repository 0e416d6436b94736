package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	mclient "github.com/moby/moby/client"
)

// ExecOptions describe a command Exec runs in a container.
type ExecOptions struct {
	// Cmd is the program and its arguments; required. It runs without a
	// shell unless it names one.
	Cmd []string
	// Env adds KEY=value pairs to the container's environment for this
	// command only: the way to hand a client its password without putting
	// it on a command line or in a file.
	Env []string
	// User and WorkingDir default to the container's own.
	User       string
	WorkingDir string
	// Stdin, when set, is copied to the command's standard input, which is
	// closed at Stdin's EOF. Nil gives the command no input.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output; nil discards it.
	// With TTY the engine merges both into Stdout.
	Stdout, Stderr io.Writer
	// TTY allocates a terminal. Leave it off for data: a terminal
	// rewrites line endings and merges the streams.
	TTY bool
}

// execExitTimeout bounds the wait for the engine to report an exit code
// once the output streams closed: the process has ended by then, and the
// engine records its code within milliseconds.
const execExitTimeout = 10 * time.Second

// Exec runs opts.Cmd in one of kaj's running containers through the
// engine's exec API, streaming Stdin in and Stdout and Stderr out (the
// engine multiplexes them without a TTY; they are split here), and
// returns the command's exit code. Nothing is written inside the
// container. A non-zero exit code is not an error: the caller reads it
// and Stderr.
//
// A stopped container is ErrConflict and a missing one (or one that is
// not kaj's) ErrNotFound. When ctx ends, when writing Stdout or Stderr
// fails, or when reading Stdin fails, Exec closes the connection and
// returns the error; the engine cannot kill an exec'd process, so the
// command sees its input end and its output break, and stops on its own.
//
// Exec returns when the command's output ends, without waiting for a
// Read of Stdin still in progress (a command that exits without reading
// all its input must not hang on an input that blocks): that Read may
// complete afterwards, its data dropped. Give a Stdin that is safe to
// close while read (a file, a pipe), or guard it.
func (d *Docker) Exec(ctx context.Context, id string, opts ExecOptions) (int, error) {
	if len(opts.Cmd) == 0 || opts.Cmd[0] == "" {
		return -1, invalid("ExecOptions.Cmd", "", "a command is required")
	}
	c, err := d.inspect(ctx, id)
	if err != nil {
		return -1, err
	}
	name := d.containerOf(c).Name
	doing := fmt.Sprintf("running %s in %s", opts.Cmd[0], name)
	if c.State == nil || !c.State.Running {
		return -1, fmt.Errorf("%s: %w: the container is not running; start it and try again", doing, ErrConflict)
	}
	created, err := d.cli.ExecCreate(ctx, c.ID, mclient.ExecCreateOptions{
		User:         opts.User,
		TTY:          opts.TTY,
		AttachStdin:  opts.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
		Env:          opts.Env,
		WorkingDir:   opts.WorkingDir,
		Cmd:          opts.Cmd,
	})
	if err != nil {
		return -1, engineError(doing, err)
	}
	att, err := d.execAttach(ctx, created.ID, mclient.ExecAttachOptions{TTY: opts.TTY})
	if err != nil {
		return -1, engineError(doing, err)
	}
	// The hijacked connection outlives ctx once attached: tie it back.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	defer att.Close()

	// Only a failure to read Stdin is the input's error: a failure to
	// write it means the command stopped reading, and its exit code
	// tells why.
	stdinErr := make(chan error, 1)
	if opts.Stdin != nil {
		go func() {
			in := &readTracker{r: opts.Stdin}
			if _, err := io.Copy(att.Conn, in); err != nil {
				// Reported before the connection drops, so that the
				// output's end finds it. A broken input must not look
				// like its end: drop the connection rather than close
				// stdin cleanly.
				stdinErr <- in.err
				att.Close()
				return
			}
			att.CloseWrite()
		}()
	}

	stdout, stderr := orDiscard(opts.Stdout), orDiscard(opts.Stderr)
	if opts.TTY {
		_, err = io.Copy(stdout, att.Reader)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, att.Reader)
	}
	att.Close() // unblocks a Stdin copy the command no longer reads
	var inErr error
	select {
	case inErr = <-stdinErr:
	default:
	}
	switch {
	case ctx.Err() != nil:
		return -1, fmt.Errorf("%s: %w", doing, ctx.Err())
	case inErr != nil:
		return -1, fmt.Errorf("%s: reading its input: %w", doing, inErr)
	case err != nil:
		return -1, fmt.Errorf("%s: streaming output: %w", doing, err)
	}
	return d.execExitCode(ctx, doing, created.ID)
}

// execExitCode waits for the engine to record the exec's end.
func (d *Docker) execExitCode(ctx context.Context, doing, execID string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, execExitTimeout)
	defer cancel()
	var code int
	err := poll(ctx, Backoff{Initial: 5 * time.Millisecond, Max: 100 * time.Millisecond}, func(ctx context.Context) error {
		res, err := d.cli.ExecInspect(ctx, execID, mclient.ExecInspectOptions{})
		if err != nil {
			return engineError(doing, err)
		}
		if res.Running {
			return retryable{errors.New("the command's output ended but it still runs")}
		}
		code = res.ExitCode
		return nil
	})
	if err != nil {
		return -1, fmt.Errorf("%s: reading the exit code: %w", doing, err)
	}
	return code, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// readTracker remembers the error its reader returned, other than EOF.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

package runtime

import (
	"context"
	"fmt"
	"io"

	mclient "github.com/moby/moby/client"
)

// TerminalSpec is a command to run in a container under a TTY.
type TerminalSpec struct {
	// Cmd is the command; empty means a shell (sh).
	Cmd []string
	// Env is extra environment, KEY=value: how a database client gets
	// its password without it showing on the command line or screen.
	Env []string
	// Rows and Cols size the TTY; zero leaves the engine's default.
	Rows, Cols uint
}

// Terminal is a running exec session with a TTY: Read gets what the
// program writes (raw, with its ANSI sequences), Write types into it.
// Read and Write may be used from different goroutines; Close ends it.
type Terminal struct {
	d    *Docker
	id   string
	resp mclient.HijackedResponse
}

var _ io.ReadWriteCloser = (*Terminal)(nil)

// OpenTerminal starts spec's command in one of kaj's containers, under a
// TTY, and attaches to it. The session lives until Close or ctx ends.
func (d *Docker) OpenTerminal(ctx context.Context, id string, spec TerminalSpec) (*Terminal, error) {
	c, err := d.inspect(ctx, id)
	if err != nil {
		return nil, err
	}
	name := d.containerOf(c).Name
	if !c.State.Running {
		return nil, fmt.Errorf("opening a terminal in %s: %w: the container is not running; start the app first", name, ErrConflict)
	}
	cmd := spec.Cmd
	if len(cmd) == 0 {
		cmd = []string{"sh"}
	}
	size := mclient.ConsoleSize{Height: spec.Rows, Width: spec.Cols}
	ex, err := d.cli.ExecCreate(ctx, c.ID, mclient.ExecCreateOptions{
		TTY: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
		Cmd: cmd, Env: append([]string{"TERM=xterm-256color"}, spec.Env...), ConsoleSize: size,
	})
	if err != nil {
		return nil, engineError("starting "+cmd[0]+" in "+name, err)
	}
	resp, err := d.execAttach(ctx, ex.ID, mclient.ExecAttachOptions{TTY: true, ConsoleSize: size})
	if err != nil {
		return nil, engineError("attaching to "+cmd[0]+" in "+name, err)
	}
	return &Terminal{d: d, id: ex.ID, resp: resp.HijackedResponse}, nil
}

// Read reads the program's output. io.EOF means it exited.
func (t *Terminal) Read(p []byte) (int, error) { return t.resp.Reader.Read(p) }

// Write types p into the program: Ctrl-C is byte 0x03, as on any TTY.
func (t *Terminal) Write(p []byte) (int, error) { return t.resp.Conn.Write(p) }

// Resize sets the TTY's size.
func (t *Terminal) Resize(ctx context.Context, rows, cols uint) error {
	if _, err := t.d.cli.ExecResize(ctx, t.id, mclient.ExecResizeOptions{Height: rows, Width: cols}); err != nil {
		return engineError("resizing a terminal", err)
	}
	return nil
}

// ExitCode is the program's exit status once it has ended; -1 while it
// runs or when the engine cannot say.
func (t *Terminal) ExitCode(ctx context.Context) int {
	r, err := t.d.cli.ExecInspect(ctx, t.id, mclient.ExecInspectOptions{})
	if err != nil || r.Running {
		return -1
	}
	return r.ExitCode
}

// Close ends the session; the program gets a hangup when its TTY goes.
func (t *Terminal) Close() error {
	t.resp.Close()
	return nil
}

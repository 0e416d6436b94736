package runtime_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// TestDocker_Exec runs commands in a real database container through the
// exec API: binary stdin to stdout byte for byte, stdout and stderr kept
// apart, the exit code, env for secrets, a broken input, cancellation,
// and a stopped container.
func TestDocker_Exec(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	spec := runtime.DatabaseSpec{App: env.Name("exec"), Kind: runtime.Postgres, Image: env.PostgresImage(), Password: runtime.GeneratePassword(), Labels: env.Labels()}
	db, err := d.EnsureDatabase(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("binary round trip", func(t *testing.T) {
		in := make([]byte, 3<<20+17) // several stream frames, not a multiple of any
		rand.Read(in)
		var out, errOut bytes.Buffer
		code, err := d.Exec(ctx, db.ID, runtime.ExecOptions{Cmd: []string{"cat"}, Stdin: bytes.NewReader(in), Stdout: &out, Stderr: &errOut})
		if err != nil || code != 0 {
			t.Fatalf("cat: code %d, err %v, stderr %q", code, err, errOut.String())
		}
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("cat returned %d bytes, not the %d sent", out.Len(), len(in))
		}
	})
	t.Run("streams and exit code", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code, err := d.Exec(ctx, db.ID, runtime.ExecOptions{
			Cmd:    []string{"sh", "-c", `printf 'to stdout:%s' "$KAJ_SECRET"; printf 'to stderr' >&2; exit 3`},
			Env:    []string{"KAJ_SECRET=s3cr3t"},
			Stdout: &out, Stderr: &errOut,
		})
		if err != nil {
			t.Fatal(err)
		}
		if code != 3 || out.String() != "to stdout:s3cr3t" || errOut.String() != "to stderr" {
			t.Fatalf("code %d, stdout %q, stderr %q", code, out.String(), errOut.String())
		}
	})
	t.Run("no stdin", func(t *testing.T) {
		var out bytes.Buffer
		code, err := d.Exec(ctx, db.ID, runtime.ExecOptions{Cmd: []string{"sh", "-c", "cat; echo done"}, Stdout: &out})
		if err != nil || code != 0 || out.String() != "done\n" {
			t.Fatalf("code %d, err %v, stdout %q", code, err, out.String())
		}
	})
	t.Run("broken input", func(t *testing.T) {
		broken := io.MultiReader(strings.NewReader("some input"), iotestErrReader{})
		_, err := d.Exec(ctx, db.ID, runtime.ExecOptions{Cmd: []string{"cat"}, Stdin: broken})
		if !errors.Is(err, errBroken) {
			t.Fatalf("err = %v; want the input's error", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := d.Exec(cctx, db.ID, runtime.ExecOptions{Cmd: []string{"sleep", "60"}})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
			t.Fatalf("err = %v after %v; want the deadline, promptly", err, time.Since(start))
		}
	})
	t.Run("not kaj's", func(t *testing.T) {
		if _, err := d.Exec(ctx, "no-such-container-"+env.ID, runtime.ExecOptions{Cmd: []string{"true"}}); !errors.Is(err, runtime.ErrNotFound) {
			t.Fatalf("err = %v; want ErrNotFound", err)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		if err := d.Stop(ctx, db.ID, time.Second); err != nil {
			t.Fatal(err)
		}
		_, err := d.Exec(ctx, db.ID, runtime.ExecOptions{Cmd: []string{"true"}})
		if !errors.Is(err, runtime.ErrConflict) || !strings.Contains(err.Error(), "not running") {
			t.Fatalf("err = %v; want ErrConflict saying it is not running", err)
		}
	})
}

var errBroken = errors.New("upload broke off")

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errBroken }

package build_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/build"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// noEngine fails the test if the engine is asked to build.
type noEngine struct {
	build.Engine
	t *testing.T
}

func (e noEngine) ImageBuild(context.Context, io.Reader, mclient.ImageBuildOptions) (mclient.ImageBuildResult, error) {
	e.t.Fatal("the engine was asked to build")
	return mclient.ImageBuildResult{}, nil
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// upload is dir as the client would send it.
func upload(t *testing.T, dir string) *build.Context {
	t.Helper()
	var buf bytes.Buffer
	if _, _, err := build.WriteContext(&buf, dir, "Dockerfile"); err != nil {
		t.Fatal(err)
	}
	c, err := build.Receive(&buf, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestBuild_lint_stopsBeforeEngine: an error-level finding (DL3000, a
// relative WORKDIR) ends the build at the lint step with the finding in
// the job and the error; the engine never sees the context.
func TestBuild_lint_stopsBeforeEngine(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile_prod": "FROM scratch\nWORKDIR app\nCOPY . .\n"})
	b, err := build.New(build.Options{Engine: noEngine{t: t}})
	if err != nil {
		t.Fatal(err)
	}
	var events []jobs.Event
	out, err := b.Build(context.Background(), build.Request{App: "web", Release: 1, Source: store.Source{Dockerfile: "Dockerfile_prod"}, Upload: upload(t, dir)},
		func(e jobs.Event) { events = append(events, e) })
	var le *build.LintError
	if !errors.As(err, &le) || !errors.Is(err, build.ErrLint) {
		t.Fatalf("err = %v, want a *LintError", err)
	}
	if len(le.Findings) != 1 || le.Findings[0].Code != "DL3000" || !strings.Contains(err.Error(), "DL3000") {
		t.Fatalf("findings %+v", le.Findings)
	}
	if len(out.Findings) != 1 || out.Dockerfile != "Dockerfile_prod" {
		t.Fatalf("build record %+v", out)
	}
	sawFinding := false
	for _, e := range events {
		if e.Step == build.StepBuild {
			t.Fatalf("the build step ran: %+v", e)
		}
		sawFinding = sawFinding || e.Step == build.StepLint && strings.Contains(e.Message, "DL3000")
	}
	if !sawFinding {
		t.Fatalf("no finding in the job: %+v", events)
	}

	// With the threshold at none the same file gets to the engine.
	t.Run("threshold none", func(t *testing.T) {
		called := false
		b, _ := build.New(build.Options{Engine: recordEngine{called: &called}})
		_, err := b.Build(context.Background(), build.Request{App: "web", Release: 2, Source: store.Source{Dockerfile: "Dockerfile_prod", LintThreshold: "none"}, Upload: upload(t, dir)}, nil)
		if !called || !errors.Is(err, build.ErrEngine) {
			t.Fatalf("called %v err %v", called, err)
		}
	})
}

type recordEngine struct {
	build.Engine
	called *bool
}

func (e recordEngine) ImageBuild(_ context.Context, r io.Reader, _ mclient.ImageBuildOptions) (mclient.ImageBuildResult, error) {
	*e.called = true
	io.Copy(io.Discard, r)
	return mclient.ImageBuildResult{}, errors.New("no engine here")
}

// TestWriteContext_dockerignore: what .dockerignore names stays on the
// client, with "!" exceptions, and the Dockerfile always goes.
func TestWriteContext_dockerignore(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "FROM scratch\n", ".dockerignore": "secret.txt\nnode_modules\n*.log\n!keep.log\nDockerfile\n",
		"secret.txt": "x", "app.go": "package main", "node_modules/a/b.js": "x", "debug.log": "x", "keep.log": "x", "sub/secret.txt": "kept: the pattern is anchored",
	})
	var buf bytes.Buffer
	sent, ignored, err := build.WriteContext(&buf, dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, h.Name)
		}
	}
	slices.Sort(names)
	want := []string{".dockerignore", "Dockerfile", "app.go", "keep.log", "sub/secret.txt"}
	if !slices.Equal(names, want) || sent != len(want) || ignored != 3 {
		t.Fatalf("sent %v (%d), ignored %d; want %v", names, sent, ignored, want)
	}
}

// TestReceive_refusesEscapes: an upload cannot write outside its folder,
// by name or through a link.
func TestReceive_refusesEscapes(t *testing.T) {
	for name, entries := range map[string][]tar.Header{
		"dotdot":        {{Name: "../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"absolute":      {{Name: "/etc/evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
		"link out":      {{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "../../etc"}},
		"absolute link": {{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/etc"}},
		"through link":  {{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "."}, {Name: "x/../../evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range entries {
				tw.WriteHeader(&h)
				if h.Size > 0 {
					tw.Write([]byte("x"))
				}
			}
			tw.Close()
			parent := t.TempDir()
			c, err := build.Receive(&buf, parent)
			if !errors.Is(err, build.ErrContext) {
				if c != nil {
					c.Close()
				}
				t.Fatalf("err = %v, want ErrContext", err)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Fatalf("left %v behind", left)
			}
		})
	}
}

// blockEngine holds the build until its context ends, as a long engine
// build would.
type blockEngine struct {
	build.Engine
	started chan struct{}
}

func (e blockEngine) ImageBuild(ctx context.Context, r io.Reader, _ mclient.ImageBuildOptions) (mclient.ImageBuildResult, error) {
	close(e.started)
	go io.Copy(io.Discard, r)
	<-ctx.Done()
	return mclient.ImageBuildResult{}, ctx.Err()
}

// TestBuild_cancel: canceling the job's context ends a running engine
// build with context.Canceled, which the job reports as canceled.
func TestBuild_cancel(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY . /\n"})
	eng := blockEngine{started: make(chan struct{})}
	b, _ := build.New(build.Options{Engine: eng})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := b.Build(ctx, build.Request{App: "web", Release: 1, Upload: upload(t, dir)}, nil)
		errc <- err
	}()
	<-eng.started
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the build did not stop when its context was canceled")
	}
}

package runtime_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/testutil/hangproxy"
	"github.com/kajhq/kaj/runtime"
)

// A hung engine (connections accepted, nothing answered) fails a call
// with ErrEngineTimeout after the timeout, closes the call's connection,
// and the calls after it that would queue behind a version ping fail at
// once.
func TestDocker_deadline_hungEngine(t *testing.T) {
	p := hangproxy.Start(t, "/var/run/docker.sock", true)
	d, err := runtime.NewDocker(p.Host, runtime.WithTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if s := d.State(); s.Known {
		t.Fatalf("state before any call: %+v", s)
	}
	start := time.Now()
	_, err = d.Info(context.Background())
	took := time.Since(start)
	if !errors.Is(err, runtime.ErrEngineTimeout) {
		t.Fatalf("Info on a hung engine: %v, want ErrEngineTimeout", err)
	}
	if took > 2*time.Second {
		t.Fatalf("Info took %s with a 300ms timeout", took)
	}
	t.Logf("Info failed after %s: %v", took.Round(time.Millisecond), err)
	if s := d.State(); s.Condition() != "not answering" || !errors.Is(s.Err, runtime.ErrEngineTimeout) {
		t.Fatalf("state after the timeout: %s %v", s.Condition(), s.Err)
	}
	waitFor(t, "the abandoned connection to close", func() bool { return len(p.Held()) == 0 })

	start = time.Now()
	_, err = d.List(context.Background(), "x")
	// While the engine is known to hang, calls fail at once rather than
	// each waiting (and queuing behind version pings).
	if took := time.Since(start); !errors.Is(err, runtime.ErrEngineTimeout) || !strings.Contains(err.Error(), "not sent") || took > 100*time.Millisecond {
		t.Fatalf("a call while the engine is known hung: %v after %s; want ErrEngineTimeout at once", err, took)
	}

	waitFor(t, "the abandoned connection to close", func() bool { return len(p.Held()) == 0 })

	// The watcher's probe still reaches the engine, and sees it back.
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Skip("no engine socket to forward to")
	}
	if err := p.Forward(); err != nil {
		t.Fatal(err)
	}
	if s := d.Check(context.Background()); !s.Answering || s.Info.Version == "" {
		t.Fatalf("after the engine came back: %+v", s)
	}
	if r := p.Replayed(); len(r) > 0 {
		t.Fatalf("requests kaj abandoned reached the engine later: %q", r)
	}
	if _, err := d.List(context.Background(), "x"); err != nil {
		t.Fatalf("a call once the engine answers: %v", err)
	}
}

// Calls the engine answers slowly on purpose are not cut: a stop waiting
// out its grace period, a stream quiet after it started, an upload that
// keeps moving. A whole answer that stops arriving is.
func TestDocker_deadline_slowButAlive(t *testing.T) {
	const timeout = 300 * time.Millisecond
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.44")
		w.Write([]byte("OK"))
	})
	mux.HandleFunc("/v1.44/version", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"Version":"fake","ApiVersion":"1.44","Os":"linux","Arch":"amd64"}`))
	})
	mux.HandleFunc("/v1.44/containers/c1/json", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"Id":"c1","Name":"/c1","Config":{"Labels":{"kaj.managed":"true","kaj.app":"a","kaj.role":"app"}},"State":{"Running":true}}`))
	})
	mux.HandleFunc("/v1.44/containers/c1/stop", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * timeout) // the grace period, spent by the container
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/v1.44/containers/c1/logs", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		time.Sleep(3 * timeout)
		w.Write([]byte("late line\n"))
	})
	mux.HandleFunc("/v1.44/images/load", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"stream":"loaded ` + strconv.FormatInt(n, 10) + `"}`))
	})
	mux.HandleFunc("/v1.44/containers/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("["))
		w.(http.Flusher).Flush()
		time.Sleep(10 * timeout) // half an answer, then nothing
	})
	mux.HandleFunc("/v1.44/exec/e1/start", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
		buf.Flush()
		time.Sleep(3 * timeout)
		conn.Write([]byte("late output"))
	})
	sock := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	d, err := runtime.NewDocker("unix://"+sock, runtime.WithTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()

	t.Run("stop waits out its grace", func(t *testing.T) {
		if err := d.Stop(ctx, "c1", time.Second); err != nil {
			t.Fatalf("a stop answered after its grace period: %v", err)
		}
	})
	t.Run("a quiet stream stays open", func(t *testing.T) {
		res, err := d.Client().ContainerLogs(ctx, "c1", mclient.ContainerLogsOptions{ShowStdout: true, Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		b, err := io.ReadAll(res)
		if err != nil || !strings.Contains(string(b), "late line") {
			t.Fatalf("stream: %q, %v", b, err)
		}
	})
	t.Run("an upload that moves is not cut", func(t *testing.T) {
		res, err := d.Client().ImageLoad(ctx, &trickle{n: 12, every: timeout / 3})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		b, _ := io.ReadAll(res)
		if !strings.Contains(string(b), "loaded 12") {
			t.Fatalf("load answered %q", b)
		}
	})
	t.Run("an attached exec may stay quiet", func(t *testing.T) {
		res, err := d.Client().ExecAttach(ctx, "e1", mclient.ExecAttachOptions{TTY: true})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		b, err := io.ReadAll(res.Reader)
		if !strings.Contains(string(b), "late output") {
			t.Fatalf("exec output %q, %v", b, err)
		}
		if s := d.State(); !s.Answering {
			t.Fatalf("a quiet exec made the engine %s: %v", s.Condition(), s.Err)
		}
	})
	t.Run("a whole answer that stops arriving is cut", func(t *testing.T) {
		start := time.Now()
		_, err := d.Client().ContainerList(ctx, mclient.ContainerListOptions{})
		if err == nil || time.Since(start) > 5*timeout {
			t.Fatalf("list with a stalled body: %v after %s", err, time.Since(start))
		}
	})
	if s := d.State(); !s.Answering {
		t.Fatalf("a slow but answering engine is %s: %v", s.Condition(), s.Err)
	}
}

// trickle sends n bytes, one every interval.
type trickle struct {
	n     int
	every time.Duration
}

func (r *trickle) Read(b []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.every)
	r.n--
	b[0] = 'x'
	return 1, nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after 5s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

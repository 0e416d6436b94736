package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/microblog/webclient"
	"golang.org/x/crypto/bcrypt"
)

// flakyDB fails its first n migrations, like a database still starting.
type flakyDB struct {
	failures int
	calls    int
}

func (f *flakyDB) Migrate(context.Context) ([]string, error) {
	f.calls++
	if f.calls <= f.failures {
		return nil, fmt.Errorf("dial tcp 172.18.0.2:3306: connect: connection refused (call %d)", f.calls)
	}
	return []string{"1 users, posts and followers"}, nil
}

// sleeps records the pauses asked for and returns at once.
type sleeps struct {
	mu     sync.Mutex
	delays []time.Duration
	// then runs after each recorded pause, with its 1-based count.
	then func(n int)
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	n := len(s.delays)
	s.mu.Unlock()
	if s.then != nil {
		s.then(n)
	}
	return ctx.Err()
}

func (s *sleeps) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.delays)
}

func TestUpgrade_retriesUntilTheDatabaseAnswers(t *testing.T) {
	var log bytes.Buffer
	db := &flakyDB{failures: 3}
	sl := &sleeps{}
	err := upgrade(context.Background(), db, retryPolicy{retries: 5, delay: 5 * time.Second, sleep: sl.sleep}, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if db.calls != 4 {
		t.Errorf("%d attempts, want 4", db.calls)
	}
	if len(sl.delays) != 3 || sl.delays[0] != 5*time.Second {
		t.Errorf("paused %v, want three of 5s", sl.delays)
	}
	if n := strings.Count(log.String(), `msg="upgrade failed, retrying in 5 secs"`); n != 3 {
		t.Errorf("%d retry messages, want 3:\n%s", n, log.String())
	}
	if !strings.Contains(log.String(), "connection refused (call 3)") {
		t.Errorf("retry messages do not give the cause:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "applied migration") {
		t.Errorf("success not logged:\n%s", log.String())
	}
}

func TestUpgrade_givesUp(t *testing.T) {
	db := &flakyDB{failures: 1000}
	sl := &sleeps{}
	err := upgrade(context.Background(), db, retryPolicy{retries: 2, delay: time.Second, sleep: sl.sleep}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("upgrade succeeded against a database that never answers")
	}
	if db.calls != 3 || len(sl.delays) != 2 {
		t.Errorf("%d attempts and %d pauses, want 3 and 2", db.calls, len(sl.delays))
	}
	if !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), "connection refused (call 3)") {
		t.Errorf("error %q should say it gave up and why", err)
	}
	db = &flakyDB{failures: 1}
	if err := upgrade(context.Background(), db, retryPolicy{retries: 0, sleep: sl.sleep}, slog.New(slog.DiscardHandler)); err == nil || db.calls != 1 {
		t.Errorf("no retries: %d attempts, err %v; want 1 attempt and an error", db.calls, err)
	}
}

func TestUpgrade_stopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	db := &flakyDB{failures: 1000}
	sl := &sleeps{then: func(n int) {
		if n == 2 {
			cancel()
		}
	}}
	err := upgrade(ctx, db, retryPolicy{retries: 60, delay: time.Second, sleep: sl.sleep}, slog.New(slog.DiscardHandler))
	if !errors.Is(err, context.Canceled) || db.calls != 2 {
		t.Errorf("err %v after %d attempts, want context.Canceled after 2", err, db.calls)
	}
}

func TestHumanDelay(t *testing.T) {
	for d, want := range map[time.Duration]string{5 * time.Second: "5 secs", time.Second: "1 sec", 1500 * time.Millisecond: "1.5s"} {
		if got := humanDelay(d); got != want {
			t.Errorf("humanDelay(%v) = %q, want %q", d, got, want)
		}
	}
}

// syncBuffer collects a program's output safely across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// started is a program serving on a loopback port of its own.
type started struct {
	url            string
	port           int
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error
}

// start runs the program with env in the background. sl replaces sleep.
func start(t *testing.T, env map[string]string, sl *sleeps) *started {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &started{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	s.port = ln.Addr().(*net.TCPAddr).Port
	s.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	p := program{
		getenv: func(k string) string { return env[k] },
		stdout: s.stdout, stderr: s.stderr,
		sleep:      sl.sleep,
		listen:     func(string, string) (net.Listener, error) { return ln, nil },
		bcryptCost: bcrypt.MinCost,
	}
	go func() { s.done <- p.run(ctx, nil) }()
	t.Cleanup(func() {
		cancel()
		<-s.done
		ln.Close()
	})
	return s
}

// waitHealthy polls /healthz until it answers 200 or the program ends.
func (s *started) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("program ended before it was healthy: %v\nstderr:\n%s", err, s.stderr)
		default:
		}
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not healthy after 30s\nstderr:\n%s", s.stderr)
}

// stop cancels the program's context and returns what Run returned.
func (s *started) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("program did not stop after its context ended")
		return nil
	}
}

func TestRun_waitsForTheDatabase(t *testing.T) {
	// The SQLite file's directory does not exist yet, so opening it fails
	// the way a database that is not up yet does, until the third pause.
	dir := filepath.Join(t.TempDir(), "not-yet")
	sl := &sleeps{then: func(n int) {
		if n == 2 {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Error(err)
			}
		}
	}}
	s := start(t, map[string]string{
		"SECRET_KEY":  "test secret key",
		"SQLITE_PATH": filepath.Join(dir, "app.db"),
	}, sl)
	s.waitHealthy(t)
	if sl.count() != 2 {
		t.Errorf("%d pauses, want 2", sl.count())
	}
	if n := strings.Count(s.stderr.String(), "upgrade failed, retrying in 5 secs"); n != 2 {
		t.Errorf("%d retry messages, want 2; stderr:\n%s", n, s.stderr)
	}

	// It serves the app: register, log in, post.
	ctx := context.Background()
	c, err := webclient.New(s.url)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, "alice", "alice@example.com", "password1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, "alice", "password1"); err != nil {
		t.Fatal(err)
	}
	if err := c.WritePost(ctx, "it works"); err != nil {
		t.Fatal(err)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Run after SIGTERM: %v, want nil", err)
	}
	if !strings.Contains(s.stdout.String(), `POST "/" HTTP/1.1 303`) {
		t.Errorf("access log on stdout lacks the post:\n%s", s.stdout)
	}
	if !strings.Contains(s.stderr.String(), "shutting down") || !strings.Contains(s.stderr.String(), "msg=stopped") {
		t.Errorf("shutdown not logged:\n%s", s.stderr)
	}
}

func TestRun_givesUpOnTheDatabase(t *testing.T) {
	sl := &sleeps{}
	s := start(t, map[string]string{
		"SQLITE_PATH":     filepath.Join(t.TempDir(), "never", "app.db"),
		"MIGRATE_RETRIES": "2",
	}, sl)
	var err error
	select {
	case err = <-s.done:
		s.done <- err
	case <-time.After(30 * time.Second):
		t.Fatal("still running after 30s with 2 retries")
	}
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("Run = %v, want it to give up after 3 attempts", err)
	}
	if sl.count() != 2 {
		t.Errorf("%d pauses, want 2", sl.count())
	}
	if !strings.Contains(s.stderr.String(), "SECRET_KEY is not set") {
		t.Errorf("no warning about the missing SECRET_KEY:\n%s", s.stderr)
	}
}

func TestRun_logToStdout(t *testing.T) {
	s := start(t, map[string]string{
		"SECRET_KEY":    "test secret key",
		"SQLITE_PATH":   filepath.Join(t.TempDir(), "app.db"),
		"LOG_TO_STDOUT": "1",
	}, &sleeps{})
	s.waitHealthy(t)
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	if s.stderr.String() != "" || !strings.Contains(s.stdout.String(), "database is up to date") {
		t.Errorf("LOG_TO_STDOUT=1: stdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
	}
}

func TestRun_refusesBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		says string
	}{
		{"unparseable DATABASE_URL", map[string]string{"DATABASE_URL": "mysql//dbserver/microblog"}, "DATABASE_URL"},
		{"unknown scheme", map[string]string{"DATABASE_URL": "redis://dbserver/0"}, "unsupported scheme"},
		{"bad port", map[string]string{"PORT": "eighty"}, "PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			listened := false
			p := program{
				getenv: func(k string) string { return tc.env[k] },
				stdout: io.Discard, stderr: io.Discard,
				sleep:  (&sleeps{}).sleep,
				listen: func(string, string) (net.Listener, error) { listened = true; return nil, errors.New("no") },
			}
			err := p.run(context.Background(), nil)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Run = %v, want an error about %s", err, tc.says)
			}
			if listened {
				t.Error("listened despite bad settings")
			}
		})
	}
}

func TestRun_commands(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"help"}, func(string) string { return "" }, &out, io.Discard); err != nil || !strings.Contains(out.String(), "healthcheck") {
		t.Errorf("help: %v\n%s", err, out.String())
	}
	if err := Run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %v", err)
	}
}

func TestRun_healthcheck(t *testing.T) {
	s := start(t, map[string]string{
		"SECRET_KEY":  "test secret key",
		"SQLITE_PATH": filepath.Join(t.TempDir(), "app.db"),
	}, &sleeps{})
	s.waitHealthy(t)
	env := func(k string) string {
		if k == "PORT" {
			return strconv.Itoa(s.port)
		}
		return ""
	}
	if err := Run(context.Background(), []string{"healthcheck"}, env, io.Discard, io.Discard); err != nil {
		t.Errorf("healthy server: %v", err)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), []string{"healthcheck"}, env, io.Discard, io.Discard); err == nil {
		t.Error("stopped server passed the health check")
	}

	// A server that answers 503 fails it too, and the error says so.
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"status":"unavailable","db":"unreachable"}`)
	}))
	defer unhealthy.Close()
	port := unhealthy.Listener.Addr().(*net.TCPAddr).Port
	err := Run(context.Background(), []string{"healthcheck"}, func(k string) string {
		if k == "PORT" {
			return strconv.Itoa(port)
		}
		return ""
	}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("503 server: %v", err)
	}
}

func TestServeHTTP_finishesInFlightRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		fmt.Fprint(w, "finished")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ctx, ln, h, slog.New(slog.DiscardHandler)) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-entered
	cancel() // SIGTERM arrives mid-request
	select {
	case err := <-done:
		t.Fatalf("server stopped before the request finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if r := <-got; r.err != nil || r.body != "finished" {
		t.Errorf("in-flight request: %q, %v", r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("serveHTTP = %v, want nil", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

package router

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// reply is what a test upstream answers: who it is and what it got.
type reply struct {
	Name   string      `json:"name"`
	Host   string      `json:"host"`
	Path   string      `json:"path"`
	Header http.Header `json:"header"`
	Body   int         `json:"body"`
}

// testUpstream is a real HTTP server on loopback that a route can point
// at. Endpoints: / (reply as JSON), /slow?d=DURATION, /sse?n=N&gap=D,
// /ws (websocket echo).
type testUpstream struct {
	name string
	srv  *httptest.Server
	addr string

	mu   sync.Mutex
	hits int
}

func startUpstream(t *testing.T, name string) *testUpstream {
	t.Helper()
	u := &testUpstream{name: name}
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "slow from %s", name)
	})
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		gap, _ := time.ParseDuration(r.URL.Query().Get("gap"))
		for i := range 3 {
			fmt.Fprintf(w, "data: event %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-time.After(gap):
			case <-r.Context().Done():
				return
			}
		}
	})
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, append([]byte(name+": "), msg...)); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.hits++
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(reply{Name: name, Host: r.Host, Path: r.URL.Path, Header: r.Header, Body: int(n)})
	})
	u.srv = httptest.NewServer(mux)
	u.addr = u.srv.Listener.Addr().String()
	t.Cleanup(u.srv.Close)
	return u
}

func (u *testUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// testLogger writes the router's log to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// frontDoor is a Router served on loopback for a test.
type frontDoor struct {
	*Router
	url    string // http://127.0.0.1:port
	addr   string
	client *http.Client
}

func newFrontDoor(t *testing.T, opts Options, routes ...Route) *frontDoor {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := r.SetRoutes(routes); err != nil {
		t.Fatalf("SetRoutes: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		r.Close()
	})
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &frontDoor{
		Router: r,
		url:    "http://" + ln.Addr().String(),
		addr:   ln.Addr().String(),
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// get sends a request for host and path and returns the status, body
// and response.
func (f *frontDoor) get(t *testing.T, host, path string) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	return f.do(t, req)
}

func (f *frontDoor) do(t *testing.T, req *http.Request) (int, string, *http.Response) {
	t.Helper()
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", req.Method, req.URL, req.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp.StatusCode, string(b), resp
}

// whoAnswered decodes an upstream's reply.
func whoAnswered(t *testing.T, status int, body string) reply {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200; body: %.300s", status, body)
	}
	var r reply
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("upstream reply %q: %v", body, err)
	}
	return r
}

// reply gets host and path and decodes the upstream's 200 reply.
func (f *frontDoor) reply(t *testing.T, host, path string) reply {
	t.Helper()
	status, body, _ := f.get(t, host, path)
	return whoAnswered(t, status, body)
}

// quietLogger keeps only warnings and errors, for tests that make
// thousands of requests.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

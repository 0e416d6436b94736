// Package kajtest starts a whole kaj in the test process, on 127.0.0.1,
// with its own data directory, the real engine, and every engine object
// it creates labelled for the test's cleanup; and gives tests a logged-in
// API client.
package kajtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajd"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
)

// Kaj is a running kaj.
type Kaj struct {
	*kajd.Kaj
	// URL is where it serves, like http://127.0.0.1:41234.
	URL string
	// Password is the first admin's password.
	Password string
	Config   config.Config
	t        testing.TB
	log      *testWriter
}

// Log is what kaj has logged so far (info and above).
func (k *Kaj) Log() string {
	k.log.mu.Lock()
	defer k.log.mu.Unlock()
	return k.log.buf.String()
}

// Start runs kaj until the test ends. edit may change the configuration
// first. Reconcile on start is off: it would claim every kaj object in
// the engine, including other tests'.
func Start(t testing.TB, env *testutil.Env, edit ...func(*config.Config)) *Kaj {
	t.Helper()
	cfg := Config(t)
	for _, e := range edit {
		e(&cfg)
	}
	return StartConfig(t, env, cfg)
}

// Config is the configuration Start uses: a data directory of the
// test's, free loopback ports, no reconcile, and waits short enough for
// tests.
func Config(t testing.TB) config.Config {
	cfg := config.Default()
	cfg.Data.Dir = t.TempDir()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Deploy.ReconcileOnStart = false
	cfg.Deploy.HealthTimeout = config.Duration(45 * time.Second)
	cfg.Deploy.DatabaseTimeout = config.Duration(2 * time.Minute)
	cfg.Deploy.StopTimeout = config.Duration(5 * time.Second)
	cfg.Server.ShutdownTimeout = config.Duration(2 * time.Second)
	cfg.Router.Listen = "127.0.0.1:0"
	cfg.Router.DrainTimeout = config.Duration(5 * time.Second)
	return cfg
}

// StartConfig runs kaj with exactly cfg (its listen address is replaced
// by a free loopback port when it ends in :0).
func StartConfig(t testing.TB, env *testutil.Env, cfg config.Config) *Kaj {
	t.Helper()
	return StartOptions(t, env, cfg, kajd.Options{})
}

// StartOptions is StartConfig with options for kajd beside the test's
// labels, logger and quick backoff, e.g. a backup clock the test drives.
func StartOptions(t testing.TB, env *testutil.Env, cfg config.Config, opts kajd.Options) *Kaj {
	t.Helper()
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Listen = ln.Addr().String()
	tw := &testWriter{t: t}
	log := slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	opts.Logger, opts.Labels = log, env.Labels()
	opts.Backoff = runtime.Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond}
	k, err := kajd.Open(ctx, cfg, opts)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- k.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("kaj did not shut down within 15s")
		}
		k.Close()
	})
	out := &Kaj{Kaj: k, URL: "http://" + cfg.Server.Listen, Config: cfg, t: t, log: tw}
	if k.AdminPasswordFile != "" {
		b, err := os.ReadFile(k.AdminPasswordFile)
		if err != nil {
			t.Fatal(err)
		}
		out.Password = strings.TrimSpace(string(b))
	}
	return out
}

// Visitor is how a browser on this machine reaches apps: an HTTP client
// that, as browsers and curl do, resolves every *.localhost name to
// loopback (Go's resolver asks DNS, which does not know them). It follows
// no redirects, so tests see them.
var Visitor = &http.Client{
	Timeout:       30 * time.Second,
	Transport:     &http.Transport{DialContext: DialLocal, MaxIdleConnsPerHost: 64},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// DialLocal dials like a net.Dialer, with every *.localhost name on
// loopback, as browsers resolve them.
func DialLocal(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	return d.DialContext(ctx, network, addr)
}

// Tests that import kajtest reach apps at their router addresses with
// any HTTP client (a sample app's own client included), as a browser on
// this machine would.
func init() {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t = t.Clone()
		t.DialContext = DialLocal
		http.DefaultTransport = t
	}
}

// Visit GETs url as a visitor and returns the status and body.
func Visit(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := Visitor.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type testWriter struct {
	t   testing.TB
	mu  sync.Mutex
	buf strings.Builder
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Client is an API client with a session cookie and its CSRF token.
// Like the dashboard, it types its password again when kaj asks for it
// before a sensitive action.
type Client struct {
	HTTP     *http.Client
	Base     string
	CSRF     string
	t        testing.TB
	password string
}

// Login logs in as admin.
func (k *Kaj) Login(t testing.TB) *Client {
	t.Helper()
	return k.LoginAs(t, "admin", k.Password)
}

// LoginAs logs in as user with password.
func (k *Kaj) LoginAs(t testing.TB, user, password string) *Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &Client{HTTP: &http.Client{Jar: jar, Timeout: 2 * time.Minute}, Base: k.URL, t: t}
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	if code := c.JSON("POST", "/api/v1/auth/login", map[string]string{"username": user, "password": password}, &me); code != 200 {
		t.Fatalf("login: status %d", code)
	}
	c.CSRF = me.CSRF
	c.password = password
	return c
}

// Do sends a request with a JSON body (nil for none) and returns the
// status and body.
func (c *Client) Do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	code, out := c.send(method, path, body)
	if code == http.StatusForbidden && c.password != "" && bytes.Contains(out, []byte(`"code":"reauth_required"`)) {
		if cc, _ := c.send("POST", "/api/v1/session/confirm", map[string]string{"password": c.password}); cc == http.StatusOK {
			code, out = c.send(method, path, body)
		}
	}
	return code, out
}

func (c *Client) send(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.CSRF != "" {
		req.Header.Set("X-CSRF-Token", c.CSRF)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// JSON sends a request and decodes the answer into out (when not nil).
func (c *Client) JSON(method, path string, body, out any) int {
	c.t.Helper()
	code, raw := c.Do(method, path, body)
	if out != nil && len(raw) > 0 && code < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decoding %q: %v", method, path, raw, err)
		}
	}
	if code >= 300 {
		c.t.Logf("%s %s: %d %s", method, path, code, raw)
	}
	return code
}

// Dial opens a websocket to path (e.g. /api/v1/apps/x/logs?tail=10) with
// the session cookie and kaj's own Origin, as the dashboard would.
func (c *Client) Dial(path string) *websocket.Conn {
	c.t.Helper()
	conn, status, err := c.TryDial(path)
	if err != nil {
		c.t.Fatalf("websocket %s: %v (status %d)", path, err, status)
	}
	return conn
}

// TryDial is Dial returning the failure and the HTTP status of a refused
// upgrade, for tests of who may open what.
func (c *Client) TryDial(path string) (*websocket.Conn, int, error) {
	c.t.Helper()
	u, _ := url.Parse(c.Base)
	h := http.Header{}
	h.Set("Origin", c.Base)
	var cookies []string
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	h.Set("Cookie", strings.Join(cookies, "; "))
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+u.Host+path, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	c.t.Cleanup(func() { conn.Close() })
	return conn, resp.StatusCode, nil
}

// WaitJob follows a job's stream until it ends and returns its final
// status and the events seen.
func (c *Client) WaitJob(id string, timeout time.Duration) (string, []map[string]any) {
	c.t.Helper()
	conn := c.Dial("/api/v1/jobs/" + id + "/stream")
	conn.SetReadDeadline(time.Now().Add(timeout))
	var events []map[string]any
	status := ""
	for {
		var m struct {
			Type  string         `json:"type"`
			Event map[string]any `json:"event"`
			Error string         `json:"error"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			c.t.Fatalf("job %s: %v (events so far: %v)", id, err, events)
		}
		switch m.Type {
		case "event":
			events = append(events, m.Event)
			if m.Event["type"] == "done" {
				status = fmt.Sprint(m.Event["status"])
			}
		case "end":
			return status, events
		case "error":
			c.t.Fatalf("job %s: %s", id, m.Error)
		}
	}
}

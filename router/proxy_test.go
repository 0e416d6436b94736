package router

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRouter_forwardedHeaders(t *testing.T) {
	up := startUpstream(t, "a")
	f := newFrontDoor(t, Options{}, Route{App: "a", Domains: []Domain{{Host: "a.example.com"}}, Upstreams: []string{up.addr}})
	req, _ := http.NewRequest(http.MethodGet, f.url+"/", nil)
	req.Host = "a.example.com:8000"
	// A client's own claims must not reach the app: the router is the edge.
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("Forwarded", "for=6.6.6.6")
	status, body, _ := f.do(t, req)
	got := whoAnswered(t, status, body)
	want := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "a.example.com:8000",
		"Forwarded":         `for=127.0.0.1;host="a.example.com:8000";proto=http`,
	}
	for k, v := range want {
		if g := got.Header.Values(k); len(g) != 1 || g[0] != v {
			t.Errorf("%s = %q, want [%q]", k, g, v)
		}
	}
}

func TestRouter_bodyLimit(t *testing.T) {
	up := startUpstream(t, "a")
	f := newFrontDoor(t, Options{}, Route{App: "a", Upstreams: []string{up.addr}, MaxBodyBytes: 1000})
	post := func(body io.Reader, length int64) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, f.url+"/", body)
		req.Host = "a.localhost"
		req.ContentLength = length
		status, b, _ := f.do(t, req)
		return status, b
	}
	if status, body := post(bytes.NewReader(make([]byte, 1000)), 1000); status != 200 || whoAnswered(t, status, body).Body != 1000 {
		t.Errorf("body at the limit: status %d %s", status, body)
	}
	if status, _ := post(bytes.NewReader(make([]byte, 1001)), 1001); status != http.StatusRequestEntityTooLarge {
		t.Errorf("declared length over the limit: status %d, want 413", status)
	}
	// Chunked: the length is only known while the body streams through.
	if status, body := post(io.MultiReader(bytes.NewReader(make([]byte, 700))), -1); status != 200 || whoAnswered(t, status, body).Body != 700 {
		t.Errorf("chunked body within the limit: status %d %s", status, body)
	}
	if status, _ := post(io.MultiReader(bytes.NewReader(make([]byte, 5000))), -1); status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the limit: status %d, want 413", status)
	}
}

func TestRouter_loadBalancing(t *testing.T) {
	a, b := startUpstream(t, "a"), startUpstream(t, "b")
	f := newFrontDoor(t, Options{}, Route{App: "app", Upstreams: []string{a.addr, b.addr}})
	for range 20 {
		f.reply(t, "app.localhost", "/")
	}
	if a.count() != 10 || b.count() != 10 {
		t.Errorf("hits a=%d b=%d, want 10 each (round-robin)", a.count(), b.count())
	}
}

func TestRouter_passiveFailure(t *testing.T) {
	a := startUpstream(t, "a")
	var logged []Entry
	var mu sync.Mutex
	f := newFrontDoor(t, Options{AccessLog: func(e Entry) { mu.Lock(); logged = append(logged, e); mu.Unlock() }},
		Route{App: "app", Upstreams: []string{deadAddr(t), a.addr}})
	for i := range 10 {
		if got := f.reply(t, "app.localhost", "/"); got.Name != "a" {
			t.Fatalf("request %d answered by %q", i, got.Name)
		}
	}
	// A POST with a body goes to the live upstream too: nothing of it
	// reached the dead one, so it can be sent again. A fresh dead address
	// (not cooling off) is tried first by one of the two POSTs.
	if err := f.SetRoute(Route{App: "app", Upstreams: []string{deadAddr(t), a.addr}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, f.url+"/", strings.NewReader("hello"))
		req.Host = "app.localhost"
		status, body, _ := f.do(t, req)
		if got := whoAnswered(t, status, body); got.Body != 5 {
			t.Fatalf("body %d bytes at the upstream, want 5", got.Body)
		}
	}
	if a.count() != 12 {
		t.Errorf("live upstream got %d requests, want 12", a.count())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range logged {
		if e.Upstream != a.addr {
			t.Errorf("access log names upstream %q, want the live one", e.Upstream)
		}
	}
}

func TestRouter_allUpstreamsDown502(t *testing.T) {
	for _, n := range []int{1, 2} {
		var ups []string
		for range n {
			ups = append(ups, deadAddr(t))
		}
		f := newFrontDoor(t, Options{}, Route{App: "app", Upstreams: ups})
		status, body, _ := f.get(t, "app.localhost", "/")
		if status != http.StatusBadGateway || !strings.Contains(body, "Bad Gateway") {
			t.Errorf("%d dead upstreams: status %d, want kaj's 502 page; body %.200s", n, status, body)
		}
	}
}

func TestRouter_upstreamTimeout504(t *testing.T) {
	up := startUpstream(t, "a")
	f := newFrontDoor(t, Options{}, Route{App: "a", Upstreams: []string{up.addr}, Timeout: 100 * time.Millisecond})
	status, _, _ := f.get(t, "a.localhost", "/slow?d=2s")
	if status != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", status)
	}
	if status, _, _ := f.get(t, "a.localhost", "/slow?d=10ms"); status != 200 {
		t.Errorf("quick enough request: status %d", status)
	}

	// With a transport of the caller's, a timer bounds the wait.
	f2 := newFrontDoor(t, Options{Transport: &http.Transport{}}, Route{App: "a", Upstreams: []string{up.addr}, Timeout: 100 * time.Millisecond})
	if status, _, _ := f2.get(t, "a.localhost", "/slow?d=2s"); status != http.StatusGatewayTimeout {
		t.Errorf("custom transport: status %d, want 504", status)
	}
	if status, _, _ := f2.get(t, "a.localhost", "/slow?d=10ms"); status != 200 {
		t.Errorf("custom transport, quick enough request: status %d", status)
	}
}

func TestRouter_serverSentEvents(t *testing.T) {
	up := startUpstream(t, "a")
	f := newFrontDoor(t, Options{}, Route{App: "a", Upstreams: []string{up.addr}})
	req, _ := http.NewRequest(http.MethodGet, f.url+"/sse?gap=1s", nil)
	req.Host = "a.localhost"
	start := time.Now()
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	// The stream takes over 2 s; the first event must not wait for it.
	if took := time.Since(start); line != "data: event 0\n" || took > 700*time.Millisecond {
		t.Errorf("first event %q after %v, want it at once", line, took)
	}
}

func TestRouter_websocket(t *testing.T) {
	up := startUpstream(t, "a")
	var entries []Entry
	var mu sync.Mutex
	f := newFrontDoor(t, Options{AccessLog: func(e Entry) { mu.Lock(); entries = append(entries, e); mu.Unlock() }},
		Route{App: "a", Upstreams: []string{up.addr}})
	c := dialWS(t, f, "a.localhost")
	for _, msg := range []string{"one", "two"} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "a: "+msg {
			t.Errorf("echo %q, want %q", got, "a: "+msg)
		}
	}
	c.Close()
	waitFor(t, "access log of the websocket", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(entries) == 1 && entries[0].Status == http.StatusSwitchingProtocols && entries[0].Upstream == up.addr
	})
}

func dialWS(t *testing.T, f *frontDoor, host string) *websocket.Conn {
	t.Helper()
	h := http.Header{"Host": {host}}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws://"+f.addr+"/ws", h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("websocket through the router: %v (status %d)", err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRouter_accessLogAndMetrics(t *testing.T) {
	up := startUpstream(t, "a")
	reg := prometheus.NewRegistry()
	var entries []Entry
	var mu sync.Mutex
	f := newFrontDoor(t, Options{Metrics: reg, AccessLog: func(e Entry) { mu.Lock(); entries = append(entries, e); mu.Unlock() }},
		Route{App: "a", Upstreams: []string{up.addr}}, Route{App: "off"})
	f.reply(t, "a.localhost", "/x?token=secret")
	f.get(t, "off.localhost", "/")
	f.get(t, "nobody.localhost", "/")

	mu.Lock()
	if len(entries) != 3 {
		t.Fatalf("%d access-log entries, want 3: %+v", len(entries), entries)
	}
	e := entries[0]
	if e.App != "a" || e.Host != "a.localhost" || e.Method != "GET" || e.Path != "/x" || e.Status != 200 ||
		e.Bytes == 0 || e.Duration <= 0 || e.Upstream != up.addr || !strings.HasPrefix(e.Remote, "127.0.0.1:") || e.Time.IsZero() {
		t.Errorf("entry %+v", e)
	}
	if entries[1].App != "off" || entries[1].Status != 503 || entries[2].App != "" || entries[2].Status != 404 {
		t.Errorf("entries %+v", entries[1:])
	}
	mu.Unlock()

	for _, c := range []struct {
		app, class string
		want       float64
	}{{"a", "2xx", 1}, {"off", "5xx", 1}, {"", "4xx", 1}, {"a", "5xx", 0}} {
		got := testutil.ToFloat64(f.metrics.requests.WithLabelValues(c.app, c.class))
		if got != c.want {
			t.Errorf("kaj_router_requests_total{app=%q,code_class=%q} = %v, want %v", c.app, c.class, got, c.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "kaj_router_request_duration_seconds"); err != nil || n != 3 {
		t.Errorf("duration histograms: %d, %v; want one per app (3)", n, err)
	}
	if got := testutil.ToFloat64(f.metrics.inflight); got != 0 {
		t.Errorf("in flight after all ended: %v", got)
	}
	if _, err := New(Options{Metrics: reg}); err == nil {
		t.Error("a second router on the same registry: no error")
	}
}

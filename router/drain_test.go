package router

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// inFlightTo reports requests and upgraded connections the router
// counts for addr.
func inFlightTo(r *Router, addr string) int {
	r.mu.Lock()
	u := r.ups[addr]
	r.mu.Unlock()
	if u == nil {
		return 0
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.inflight
}

func TestRouter_Drain_slowRequestFinishes(t *testing.T) {
	old, next := startUpstream(t, "old"), startUpstream(t, "new")
	f := newFrontDoor(t, Options{}, Route{App: "app", Upstreams: []string{old.addr}})

	type result struct {
		status int
		body   string
	}
	slow := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, f.url+"/slow?d=1s", nil)
		req.Host = "app.localhost"
		resp, err := f.client.Do(req)
		if err != nil {
			slow <- result{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		var b [64]byte
		n, _ := resp.Body.Read(b[:])
		slow <- result{resp.StatusCode, string(b[:n])}
	}()
	waitFor(t, "the slow request to reach the old upstream", func() bool { return inFlightTo(f.Router, old.addr) == 1 })

	if err := f.SetRoute(Route{App: "app", Upstreams: []string{next.addr}}); err != nil {
		t.Fatal(err)
	}
	if got := f.reply(t, "app.localhost", "/"); got.Name != "new" {
		t.Fatalf("after the switch answered by %q, want new", got.Name)
	}
	start := time.Now()
	if err := f.Drain(context.Background(), old.addr); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	took := time.Since(start)
	select {
	case r := <-slow:
		if r.status != 200 || r.body != "slow from old" {
			t.Fatalf("slow request: %d %q, want 200 from the old upstream", r.status, r.body)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("slow request still running 2s after Drain returned (after %v)", took)
	}
	if took < 500*time.Millisecond {
		t.Errorf("Drain took %v: it did not wait for the request", took)
	}
	t.Logf("drain waited %v for the slow request", took.Round(time.Millisecond))
}

func TestRouter_Drain_timeout(t *testing.T) {
	old, next := startUpstream(t, "old"), startUpstream(t, "new")
	f := newFrontDoor(t, Options{DrainTimeout: 200 * time.Millisecond}, Route{App: "app", Upstreams: []string{old.addr}})
	go func() {
		req, _ := http.NewRequest(http.MethodGet, f.url+"/slow?d=1s", nil)
		req.Host = "app.localhost"
		if resp, err := f.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, "the slow request", func() bool { return inFlightTo(f.Router, old.addr) == 1 })
	if err := f.Drain(context.Background(), old.addr); !errors.Is(err, ErrStillRouted) {
		t.Fatalf("Drain of a routed upstream = %v, want ErrStillRouted", err)
	}
	f.SetRoute(Route{App: "app", Upstreams: []string{next.addr}})
	start := time.Now()
	err := f.Drain(context.Background(), old.addr)
	if !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("Drain = %v, want ErrDrainTimeout", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > time.Second {
		t.Errorf("Drain took %v, want about the 200ms timeout", took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Drain(ctx, old.addr); !errors.Is(err, context.Canceled) {
		t.Errorf("Drain with an ended context = %v, want context.Canceled", err)
	}
}

func TestRouter_Drain_closesWebsocketAtTimeout(t *testing.T) {
	old, next := startUpstream(t, "old"), startUpstream(t, "new")
	f := newFrontDoor(t, Options{DrainTimeout: 500 * time.Millisecond}, Route{App: "app", Upstreams: []string{old.addr}})
	c := dialWS(t, f, "app.localhost")
	if err := f.SetRoute(Route{App: "app", Upstreams: []string{next.addr}}); err != nil {
		t.Fatal(err)
	}

	drained := make(chan error, 1)
	start := time.Now()
	go func() { drained <- f.Drain(context.Background(), old.addr) }()

	// Until the end of the drain the websocket still works...
	time.Sleep(200 * time.Millisecond)
	if err := c.WriteMessage(websocket.TextMessage, []byte("still there?")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "old: still there?" {
		t.Fatalf("websocket during the drain: %q, %v", msg, err)
	}
	// ...and then the router closes it.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	closedAfter := time.Since(start)
	var ne interface{ Timeout() bool }
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("websocket not closed by the drain: %v", err)
	}
	if closedAfter < 450*time.Millisecond {
		t.Errorf("websocket closed after %v, before the 500ms drain timeout", closedAfter)
	}
	if err := <-drained; err != nil {
		t.Errorf("Drain = %v, want nil: closing websockets at the end is its job", err)
	}
	// New websockets go to the new upstream.
	c2 := dialWS(t, f, "app.localhost")
	c2.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, msg, _ := c2.ReadMessage(); string(msg) != "new: hi" {
		t.Errorf("new websocket answered %q", msg)
	}
}

// TestRouter_zeroDowntime sends a steady 100 requests/s for 5 s while the
// route flips 20 times to a fresh pair of upstream servers; after each
// flip the old pair is drained and then shut down, as the deploy pipeline
// stops old containers. No request may fail.
func TestRouter_zeroDowntime(t *testing.T) {
	if testing.Short() {
		t.Skip("5 s of load")
	}
	const (
		rate     = 100
		duration = 5 * time.Second
		flips    = 20
	)
	startPair := func(gen int) []*testUpstream {
		return []*testUpstream{startUpstream(t, fmt.Sprintf("g%d-a", gen)), startUpstream(t, fmt.Sprintf("g%d-b", gen))}
	}
	addrs := func(p []*testUpstream) []string { return []string{p[0].addr, p[1].addr} }
	cur := startPair(0)
	f := newFrontDoor(t, Options{Logger: quietLogger()}, Route{App: "app", Upstreams: addrs(cur)})

	var sent, ok, failed, drainWaits atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	total := rate * int(duration/time.Second)

	flipDone := make(chan error, 1)
	go func() {
		for gen := 1; gen <= flips; gen++ {
			time.Sleep(duration / (flips + 1))
			next := startPair(gen)
			if err := f.SetRoute(Route{App: "app", Upstreams: addrs(next)}); err != nil {
				flipDone <- err
				return
			}
			for _, u := range cur {
				if inFlightTo(f.Router, u.addr) > 0 {
					drainWaits.Add(1)
				}
				if err := f.Drain(context.Background(), u.addr); err != nil {
					flipDone <- err
					return
				}
				u.srv.CloseClientConnections() // the old container stops, cutting what it still serves
				u.srv.Close()
			}
			cur = next
		}
		flipDone <- nil
	}()

	// Requests go out on a fixed schedule (open loop): a slow answer
	// does not delay the next request, and a busy host makes the
	// generator catch up rather than send fewer.
	start := time.Now()
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
		method, path, body := http.MethodGet, "/", ""
		if i%5 == 0 {
			// Some requests straddle a switch. POST with a body, so that
			// no layer may quietly resend it if the old upstream cut it.
			method, path, body = http.MethodPost, "/slow?d=80ms", "payload"
		}
		wg.Add(1)
		sent.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
			req.Host = "app.localhost"
			resp, err := f.client.Do(req)
			if err == nil {
				_, err = resp.Body.Read(make([]byte, 1))
				resp.Body.Close()
				if err == nil || err.Error() == "EOF" {
					err = nil
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
			}
			if err != nil {
				failed.Add(1)
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
				return
			}
			ok.Add(1)
		}()
	}
	sendTook := time.Since(start)
	wg.Wait()
	if err := <-flipDone; err != nil {
		t.Fatalf("flipping routes: %v", err)
	}
	t.Logf("%d requests sent over %v (%.0f/s), %d ok, %d failed, across %d route switches; %d drains waited for requests in flight",
		sent.Load(), sendTook.Round(time.Millisecond), float64(sent.Load())/sendTook.Seconds(), ok.Load(), failed.Load(), flips, drainWaits.Load())
	if failed.Load() > 0 {
		t.Errorf("%d requests failed, want 0; first: %v", failed.Load(), failures[:min(len(failures), 5)])
	}
}

package api

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// setVersion updates app's VERSION env and returns the new app version.
func setVersion(t *testing.T, c *kajtest.Client, name, image, version string, appVersion uint64, domains []string) uint64 {
	t.Helper()
	var app fullApp
	upd := map[string]any{"image": image, "port": 5000, "version": appVersion, "domains": domains,
		"env": []map[string]any{{"name": "VERSION", "value": version}}}
	if code := c.JSON("PUT", "/api/v1/apps/"+name, upd, &app); code != 200 {
		t.Fatalf("update to %s: %d", version, code)
	}
	return app.Version
}

// visitHost GETs path on the router with the Host header host, as a
// visitor of that domain would.
func visitHost(t *testing.T, routerURL, host, path string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", routerURL+path, nil)
	req.Host = host
	resp, err := kajtest.Visitor.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s as %s: %v", routerURL, path, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestRouter_frontDoor: an app answers at its stable *.localhost address
// and at its domain through kaj's router, keeps answering without a
// single failed request across 10 deploys and 5 rollbacks under load,
// lets a slow request finish on the replaced container, carries
// websockets, and answers 404 for an unknown host and 503 while stopped.
func TestRouter_frontDoor(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	img := env.TestAppImageAs("kaj-e2e-router", "PORT=5000")
	k := kajtest.Start(t, env)
	c := k.Login(t)
	name := env.Name("front")
	domain := name + ".example.test"
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": img, "port": 5000, "domains": []string{domain},
		"env": []map[string]any{{"name": "VERSION", "value": "v0"}}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if st, ev := deployNow(t, c, name); st != "succeeded" {
		t.Fatalf("deploy: %s %s", st, failure(ev))
	}
	var app fullApp
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	u, _ := url.Parse(k.RouterURL)
	want := "http://" + name + ".localhost:" + u.Port()
	if app.URL != want || len(app.URLs) != 2 || app.URLs[1] != "http://"+domain+":"+u.Port() {
		t.Fatalf("URL %q URLs %v; want %s and the domain", app.URL, app.URLs, want)
	}
	if code, body := kajtest.Visit(t, app.URL+"/env"); code != 200 || !strings.Contains(body, `"VERSION":"v0"`) {
		t.Fatalf("GET %s/env: %d %s", app.URL, code, body)
	}
	if code, _, body := visitHost(t, k.RouterURL, domain, "/env"); code != 200 || !strings.Contains(body, `"VERSION":"v0"`) {
		t.Fatalf("GET as %s: %d %s", domain, code, body)
	}
	if code, _, body := visitHost(t, k.RouterURL, "nobody."+name+".test", "/"); code != 404 || !strings.Contains(body, "kaj") {
		t.Fatalf("unknown host: %d %s", code, body)
	}

	// A websocket through the router.
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		var nd net.Dialer
		return nd.DialContext(ctx, network, "127.0.0.1:"+port)
	}}
	ws, _, err := d.Dial("ws://"+name+".localhost:"+u.Port()+"/ws", nil)
	if err != nil {
		t.Fatalf("websocket through the router: %v", err)
	}
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "v0: hello" {
		t.Fatalf("websocket echo %q %v", msg, err)
	}
	ws.Close()

	// The router's access log is the app's third log source: one line
	// per request, through the log hub.
	logs := c.Dial("/api/v1/apps/" + name + "/logs?container=router&tail=all")
	logs.SetReadDeadline(time.Now().Add(15 * time.Second))
	kajtest.Visit(t, app.URL+"/env?seen=1")
	for found := false; !found; {
		var m struct {
			Type  string `json:"type"`
			Lines []struct {
				Text string `json:"text"`
			} `json:"lines"`
		}
		if err := logs.ReadJSON(&m); err != nil {
			t.Fatalf("no access-log line for GET /env: %v", err)
		}
		for _, l := range m.Lines {
			if strings.Contains(l.Text, "GET /env 200") && strings.Contains(l.Text, "upstream=") {
				found = true
			}
		}
	}
	logs.Close()

	// A slow request started before a deploy finishes, with 200, on the
	// container it started on, after the switch.
	slow := make(chan string, 1)
	go func() {
		code, body := kajtest.Visit(t, app.URL+"/slow?d=4s")
		slow <- fmt.Sprint(code, " ", strings.TrimSpace(body))
	}()
	time.Sleep(200 * time.Millisecond)
	ver := setVersion(t, c, name, img, "v1", app.Version, []string{domain})
	if st, ev := deployNow(t, c, name); st != "succeeded" {
		t.Fatalf("deploy v1: %s %s", st, failure(ev))
	}
	if got := <-slow; got != "200 slept 4s on v0" {
		t.Fatalf("the slow request across the switch: %q; want 200 from v0", got)
	}
	if _, body := kajtest.Visit(t, app.URL+"/env"); !strings.Contains(body, `"VERSION":"v1"`) {
		t.Fatalf("after the switch: %s", body)
	}

	// Bounded load (100 requests/s) across 10 deploys and 5 rollbacks.
	var ok, failed atomic.Int64
	var failures sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	began := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var inflight sync.WaitGroup
		defer inflight.Wait()
		for n := 0; n < 30000; n++ { // at most 5 minutes of it
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				resp, err := kajtest.Visitor.Get(app.URL + "/")
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					failures.Store(fmt.Sprint(err, resp != nil && err == nil), true)
					return
				}
				ok.Add(1)
			}()
		}
	}()
	for i := 2; i <= 11; i++ {
		ver = setVersion(t, c, name, img, fmt.Sprintf("v%d", i), ver, []string{domain})
		if st, ev := deployNow(t, c, name); st != "succeeded" {
			t.Fatalf("deploy v%d: %s %s", i, st, failure(ev))
		}
	}
	for i := 0; i < 5; i++ {
		job := startJob(t, c, "POST", "/api/v1/apps/"+name+"/rollback", nil)
		if st, ev := c.WaitJob(job, 3*time.Minute); st != "succeeded" {
			t.Fatalf("rollback %d: %s %s", i, st, failure(ev))
		}
	}
	// A restart replaces the container the same way: no request lost.
	var before fullApp
	c.JSON("GET", "/api/v1/apps/"+name, nil, &before)
	if code := c.JSON("POST", "/api/v1/apps/"+name+"/restart", nil, &app); code != 200 {
		t.Fatalf("restart: %d", code)
	}
	if serving(before) == serving(app) || serving(app) == "" {
		t.Fatalf("restart kept container %q; want a fresh one serving", serving(app))
	}
	close(stop)
	wg.Wait()
	took := time.Since(began)
	t.Logf("router under load across 10 deploys, 5 rollbacks and a restart: %d requests in %s (%.0f/s), %d failed", ok.Load()+failed.Load(), took.Round(time.Millisecond), float64(ok.Load()+failed.Load())/took.Seconds(), failed.Load())
	if failed.Load() != 0 {
		var kinds []string
		failures.Range(func(k, _ any) bool { kinds = append(kinds, fmt.Sprint(k)); return true })
		t.Fatalf("%d of %d requests failed across the deploys: %v", failed.Load(), ok.Load()+failed.Load(), kinds)
	}
	if ok.Load() < 1000 {
		t.Fatalf("only %d requests were made; the load did not run", ok.Load())
	}

	// Metrics: the router's requests and kaj's deploys.
	code, raw := c.Do("GET", "/metrics", nil)
	metrics := string(raw)
	if code != 200 || !strings.Contains(metrics, `kaj_router_requests_total{app="`+name+`",code_class="2xx"}`) || !strings.Contains(metrics, `kaj_deploys_total{result="live"}`) {
		t.Fatalf("/metrics %d lacks the app's requests or the deploys:\n%.2000s", code, metrics)
	}

	// Stopped: 503 with Retry-After. Started again: 200.
	if code := c.JSON("POST", "/api/v1/apps/"+name+"/stop", nil, nil); code != 200 {
		t.Fatalf("stop: %d", code)
	}
	if code, h, _ := visitHost(t, k.RouterURL, domain, "/"); code != 503 || h.Get("Retry-After") == "" {
		t.Fatalf("a stopped app: %d, Retry-After %q; want 503 with one", code, h.Get("Retry-After"))
	}
	if code := c.JSON("POST", "/api/v1/apps/"+name+"/start", nil, nil); code != 200 {
		t.Fatalf("start: %d", code)
	}
	if code, _ := kajtest.Visit(t, app.URL+"/"); code != 200 {
		t.Fatalf("started again: %d", code)
	}
}

// TestRouter_routesSurviveRestart: kaj killed and started again rebuilds
// its routes from the store before the router takes a request; the
// longest gap the front door showed is printed.
func TestRouter_routesSurviveRestart(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	img := env.TestAppImageAs("kaj-e2e-restart", "PORT=5000")
	p := kajtest.StartProcess(t, env, "reconcile_on_start = true")
	c := p.Login(t)
	name := env.Name("survive")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": img, "port": 5000}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if st, ev := deployNow(t, c, name); st != "succeeded" {
		t.Fatalf("deploy: %s %s", st, failure(ev))
	}
	u, _ := url.Parse(p.RouterURL)
	appURL := "http://" + name + ".localhost:" + u.Port()
	if code, _ := kajtest.Visit(t, appURL+"/"); code != 200 {
		t.Fatalf("before the restart: %d", code)
	}
	// Watch the front door through the restart.
	var last200, worst atomic.Int64
	last200.Store(time.Now().UnixNano())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: time.Second, Transport: kajtest.Visitor.Transport}
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			resp, err := client.Get(appURL + "/")
			if err == nil {
				resp.Body.Close()
			}
			now := time.Now().UnixNano()
			if err == nil && resp.StatusCode == 200 {
				if gap := now - last200.Load(); gap > worst.Load() {
					worst.Store(gap)
				}
				last200.Store(now)
			}
		}
	}()
	p.Kill()
	p.Restart()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Since(time.Unix(0, last200.Load())) < 100*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app did not answer through the router within 10s of kaj's restart:\n%s", p.Log())
		}
	}
	close(stop)
	<-done
	t.Logf("front door down across a kaj kill and restart: %s at most", time.Duration(worst.Load()).Round(time.Millisecond))
	c = p.Login(t)
	var app fullApp
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	if app.URL != appURL || app.State != "running" {
		t.Fatalf("after the restart: URL %q state %q", app.URL, app.State)
	}
}

// serving is the ID of the container that serves the app.
func serving(a fullApp) string {
	for _, c := range a.Containers {
		if c.Serving {
			return c.ID
		}
	}
	return ""
}

package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/store"
)

// floodLines is how many lines the app writes per measurement: enough to
// run for seconds at docker's json-file logging rate.
const floodLines = 50000

type fanoutResult struct {
	perViewer []float64 // lines/s
	latencies []time.Duration
}

// BenchmarkLogFanout measures kaj's log fan-out against `docker logs -f`
// of the same container: lines/s per viewer and in total, p50/p99 latency
// from the app's write to a viewer's receipt, the engine streams kaj holds
// open (must be 1), and kaj's resident memory idle and with 100 viewers.
// Run with: go test -run '^$' -bench LogFanout -benchtime 1x ./e2e/api/
func BenchmarkLogFanout(b *testing.B) {
	env := testutil.NewEnv(b)
	img := env.TestAppImageAs("kaj-bench-flood")
	p := kajtest.StartProcess(b, env, "")
	c := p.Login(b)
	name := env.Name("flood")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": img, "port": 8080, "health_path": "/healthz"}, nil); code != 201 {
		b.Fatalf("create: %d", code)
	}
	var job struct {
		Job string `json:"job"`
	}
	c.JSON("POST", "/api/v1/apps/"+name+"/deploy", nil, &job)
	if st, ev := c.WaitJob(job.Job, 2*time.Minute); st != "succeeded" {
		b.Fatalf("deploy %s %v", st, ev)
	}
	var app appView
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	container := appContainers(app, "app")[0]
	time.Sleep(2 * time.Second)
	if rss, err := p.RSS(); err == nil {
		b.ReportMetric(float64(rss)/(1<<20), "MiB-idle-rss")
		b.Logf("kaj resident memory idle: %.1f MiB", float64(rss)/(1<<20))
	}

	// The ceiling, docker logs -f of the same container, and one kaj
	// viewer take turns, three times each: the machine is shared, and the
	// median of alternating runs is fairer than one run of each.
	var dockerRates, oneRates []float64
	var one fanoutResult
	for range 3 {
		dockerRates = append(dockerRates, dockerLogsRate(b, container, app.URL))
		res, _, _ := fanout(b, c, p, name, app.URL, 1)
		if len(res.perViewer) == 0 {
			b.Fatalf("the viewer did not get the flood's last line; kaj's log:\n%s", p.Log())
		}
		oneRates = append(oneRates, res.perViewer[0])
		one.latencies = append(one.latencies, res.latencies...)
	}
	docker := median(dockerRates)
	b.ReportMetric(docker, "docker-lines/s")
	b.Logf("docker logs -f: %.0f lines/s (runs %.0f)", docker, dockerRates)
	report(b, 1, fanoutResult{perViewer: []float64{median(oneRates)}, latencies: one.latencies}, docker, 0, 1)
	ratios := make([]float64, len(oneRates))
	for i := range oneRates {
		ratios[i] = oneRates[i] / dockerRates[i]
	}
	b.ReportMetric(100*median(ratios), "v1-%-of-docker-paired")
	b.Logf("one viewer runs: %.0f lines/s; paired with the docker run before each: %.2f of docker (median %.2f)", oneRates, ratios, median(ratios))
	for _, n := range []int{10, 100} {
		res, rss, streams := fanout(b, c, p, name, app.URL, n)
		report(b, n, res, docker, rss, streams)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func report(b *testing.B, n int, res fanoutResult, docker float64, rss int64, streams int) {
	total := 0.0
	for _, r := range res.perViewer {
		total += r
	}
	slices.Sort(res.latencies)
	p50 := res.latencies[len(res.latencies)/2]
	p99 := res.latencies[len(res.latencies)*99/100]
	per := total / float64(len(res.perViewer))
	if n > 1 {
		total = per * float64(n)
	}
	b.ReportMetric(per, fmt.Sprintf("v%d-lines/s/viewer", n))
	b.ReportMetric(total, fmt.Sprintf("v%d-lines/s-total", n))
	b.ReportMetric(float64(p50.Microseconds())/1000, fmt.Sprintf("v%d-p50-ms", n))
	b.ReportMetric(float64(p99.Microseconds())/1000, fmt.Sprintf("v%d-p99-ms", n))
	b.Logf("%3d viewers: %.0f lines/s per viewer (%.0f%% of docker logs -f), %.0f total; latency p50 %v p99 %v; engine streams %d; kaj RSS %.1f MiB",
		n, per, 100*per/docker, total, p50, p99, streams, float64(rss)/(1<<20))
	if streams > 1 {
		b.Errorf("%d viewers held %d engine streams; want 1", n, streams)
	}
}

func flood(b *testing.B, url string) {
	resp, err := http.Post(url+"/flood?n="+strconv.Itoa(floodLines), "text/plain", nil)
	if err != nil {
		b.Error(err)
		return
	}
	resp.Body.Close()
}

// parseFlood reads "flood i unixnano" and returns i and the write time.
func parseFlood(text string) (int, time.Time, bool) {
	f := strings.Fields(text)
	if len(f) != 3 || f[0] != "flood" {
		return 0, time.Time{}, false
	}
	i, _ := strconv.Atoi(f[1])
	ns, _ := strconv.ParseInt(f[2], 10, 64)
	return i, time.Unix(0, ns), true
}

func dockerLogsRate(b *testing.B, container, url string) float64 {
	cmd := exec.Command("docker", "logs", "-f", "--since", time.Now().Format(time.RFC3339Nano), container)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	go flood(b, url)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if i, _, ok := parseFlood(sc.Text()); ok && i == floodLines {
			break
		}
	}
	return floodLines / time.Since(start).Seconds()
}

// fanout connects n viewers, floods, and measures until every viewer has
// the last line.
func fanout(b *testing.B, c *kajtest.Client, p *kajtest.Process, app, url string, n int) (fanoutResult, int64, int) {
	var res fanoutResult
	var mu sync.Mutex
	var wg sync.WaitGroup
	ready := make(chan struct{}, n)
	starts := make([]chan time.Time, n)
	for i := range n {
		starts[i] = make(chan time.Time, 1)
		conn := c.Dial("/api/v1/apps/" + app + "/logs?tail=0&container=app")
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer conn.Close()
			ready <- struct{}{}
			t0 := <-starts[i]
			var lats []time.Duration
			got := 0
			conn.SetReadDeadline(time.Now().Add(time.Minute))
			for {
				// A light parse, so the client's CPU is not what is
				// measured: count the lines, read the last one's text.
				_, msg, err := conn.ReadMessage()
				if err != nil {
					b.Errorf("viewer %d: %v (after %d lines)", i, err, got)
					return
				}
				if bytes.HasPrefix(msg, []byte(`{"type":"end"`)) || bytes.HasPrefix(msg, []byte(`{"type":"error"`)) {
					b.Errorf("viewer %d: %s", i, msg)
					return
				}
				now := time.Now()
				got += bytes.Count(msg, []byte(`{"seq":`))
				j := bytes.LastIndex(msg, []byte(`"text":"`))
				if j < 0 {
					continue
				}
				text := msg[j+len(`"text":"`):]
				if e := bytes.IndexByte(text, '"'); e >= 0 {
					text = text[:e]
				}
				k, at, ok := parseFlood(string(text))
				if !ok || at.Before(t0) {
					continue // a line from an earlier flood
				}
				lats = append(lats, now.Sub(at))
				if k == floodLines {
					mu.Lock()
					res.perViewer = append(res.perViewer, float64(got)/now.Sub(t0).Seconds())
					res.latencies = append(res.latencies, lats...)
					mu.Unlock()
					return
				}
			}
		}(i)
	}
	for range n {
		<-ready
	}
	time.Sleep(time.Second) // every viewer subscribed, the stream caught up
	t0 := time.Now()
	for _, s := range starts {
		s <- t0
	}
	flood(b, url)
	var rss int64
	var streams int
	// Sample while the viewers read.
	go func() {
		for i := 0; i < 20; i++ {
			if r, err := p.RSS(); err == nil && r > rss {
				rss = r
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	streams = engineStreams(b, p)
	wg.Wait()
	return res, rss, streams
}

// engineStreams is how many log streams kaj holds open against the
// engine, as its /healthz reports it.
func engineStreams(b *testing.B, p *kajtest.Process) int {
	resp, err := http.Get(p.URL + "/healthz")
	if err != nil {
		b.Error(err)
		return -1
	}
	defer resp.Body.Close()
	var h struct {
		LogStreams int `json:"log_streams"`
	}
	json.NewDecoder(resp.Body).Decode(&h)
	return h.LogStreams
}

// BenchmarkAPIListApps measures GET /api/v1/apps with 1,000 apps stored:
// p50 and p99 over the run.
// Run with: go test -run '^$' -bench APIListApps ./e2e/api/
func BenchmarkAPIListApps(b *testing.B) {
	env := testutil.NewEnv(b)
	k := kajtest.Start(b, env)
	err := k.Store.Update(func(tx *store.Tx) error {
		for i := range 1000 {
			a := store.App{Name: fmt.Sprintf("app-%d", i), Image: "microblog:1.0.0-prod", Port: 5000, HealthPath: "/healthz",
				Env: []store.EnvVar{{Name: "LOG_TO_STDOUT", Value: "1"}, {Name: "SECRET_KEY", Value: "k", Secret: true}}}
			if _, err := tx.CreateApp(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	c := k.Login(b)
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		code, body := c.Do("GET", "/api/v1/apps", nil)
		lat = append(lat, time.Since(t0))
		if code != 200 || len(body) < 1000 {
			b.Fatalf("status %d", code)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

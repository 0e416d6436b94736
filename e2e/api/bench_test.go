package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	mclient "github.com/moby/moby/client"
)

// floodLines is how many numbered lines the app writes per measurement:
// enough to run for about a second at docker's json-file logging rate.
const floodLines = 50000

// BenchmarkLogFanout measures kaj's log fan-out against `docker logs -f`
// of the same container, on the lines a reader can trust: every flood
// line is numbered, and every reader's sequence is checked for gaps and
// repeats. It runs on a container whose log cannot rotate during the
// measurement (max-size 1g) and on one whose log rotates several times
// per flood (max-size 1m, 3 files), where the engine's follow can repeat
// or lose lines.
//
// Rates are lines in sequence per second, from the flood's start to the
// reader's receipt of the last line; repeats never count. Each kaj run
// is paired with a docker run just before it, and the ratios' median
// and range are reported. Latency is per line, from the app's write to
// the reader's receipt.
//
// Run with: go test -run '^$' -bench LogFanout -benchtime 1x -timeout 20m ./e2e/api/
func BenchmarkLogFanout(b *testing.B) {
	env := testutil.NewEnv(b)
	img := env.TestAppImageAs("kaj-bench-flood")
	p := kajtest.StartProcess(b, env, "")
	c := p.Login(b)
	name := env.Name("flood")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": img, "port": 8080, "health_path": "/healthz"}, nil); code != 201 {
		b.Fatalf("create: %d", code)
	}
	// The measured containers are the app's, labelled as kaj labels its
	// own, with the log options each case needs; the app network too.
	benchInstance = instanceOf(b, p.URL)
	if _, err := env.Client.NetworkCreate(b.Context(), "kaj-"+name, mclient.NetworkCreateOptions{Labels: env.WithLabels(map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: name, runtime.LabelInstance: benchInstance})}); err != nil {
		b.Fatal(err)
	}
	// A sub-benchmark of its own: a parent's metrics are not printed.
	b.Run("idle", func(b *testing.B) {
		time.Sleep(2 * time.Second)
		rss, err := p.RSS()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rss)/(1<<20), "MiB-rss")
		b.Logf("kaj resident memory idle, one app created: %.1f MiB", float64(rss)/(1<<20))
	})

	steady := sync.OnceValues(func() (string, string) { return floodContainer(b, env, img, name, "1", "1g") })
	b.Run("one", func(b *testing.B) {
		id, url := steady()
		pairs(b, c, p, name, id, url, 5)
	})
	b.Run("many", func(b *testing.B) {
		id, url := steady()
		for _, n := range []int{10, 100} {
			manyPairs(b, c, p, name, id, url, n, 3)
		}
	})
	b.Run("rotating", func(b *testing.B) {
		id, url := floodContainer(b, env, img, name, "2", "1m")
		pairs(b, c, p, name, id, url, 3)
	})
}

// benchInstance is the instance ID of the kaj under measure, which the
// containers made for it carry.
var benchInstance string

// instanceOf reads a kaj's instance ID from its /healthz.
func instanceOf(b *testing.B, url string) string {
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Instance string `json:"instance"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		b.Fatal(err)
	}
	return h.Instance
}

// floodContainer starts an app container of testapp for app with
// json-file's max-size set, and returns its ID and URL.
func floodContainer(b *testing.B, env *testutil.Env, img, app, release, maxSize string) (string, string) {
	ctx := b.Context()
	port, _ := network.PortFrom(8080, network.TCP)
	res, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name: env.Name("flood-" + maxSize),
		Config: &container.Config{Image: img, ExposedPorts: network.PortSet{port: {}},
			Labels: env.WithLabels(map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: app, runtime.LabelRole: "app", runtime.LabelRelease: release, runtime.LabelInstance: benchInstance})},
		HostConfig: &container.HostConfig{
			LogConfig:    container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": maxSize, "max-file": "3"}},
			PortBindings: network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: ""}}},
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"kaj-" + app: {}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := env.Client.ContainerStart(ctx, res.ID, mclient.ContainerStartOptions{}); err != nil {
		b.Fatal(err)
	}
	insp, err := env.Client.ContainerInspect(ctx, res.ID, mclient.ContainerInspectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var url string
	for _, bs := range insp.Container.NetworkSettings.Ports {
		for _, bnd := range bs {
			url = "http://127.0.0.1:" + bnd.HostPort
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("flood container at %s never answered", url)
		}
	}
	return res.ID, url
}

// pairs alternates docker logs -f and one kaj viewer n times.
func pairs(b *testing.B, c *kajtest.Client, p *kajtest.Process, app, id, url string, n int) {
	var ratios []float64
	var dock, kaj []readerRun
	for range n {
		d := dockerLogs(b, id, url)
		runs, _, _ := fanout(b, c, p, app, id, url, 1)
		dock, kaj = append(dock, d), append(kaj, runs[0])
		ratios = append(ratios, runs[0].rate()/d.rate())
		b.Logf("docker %s", &d)
		b.Logf("kaj    %s", &runs[0])
	}
	lo, med, hi := spread(ratios)
	b.ReportMetric(med, "v1/docker-median")
	b.ReportMetric(lo, "v1/docker-min")
	b.ReportMetric(hi, "v1/docker-max")
	dl, kl := latencies(dock), latencies(kaj)
	b.ReportMetric(ms(kl[len(kl)/2])-ms(dl[len(dl)/2]), "v1-p50-ms-over-docker")
	sum := func(runs []readerRun) (t readerRun, stalls int) {
		for _, r := range runs {
			t.skipped += r.skipped
			t.gaps += r.gaps
			t.repeats += r.repeats
			t.told += r.told
			if r.stalled {
				stalls++
			}
		}
		return t, stalls
	}
	k, kstalls := sum(kaj)
	d, dstalls := sum(dock)
	b.ReportMetric(float64(k.skipped), "v1-skipped")
	b.Logf("1 viewer / docker logs -f, %d pairs: median %.2f (range %.2f–%.2f); latency p50 %.0f ms vs docker %.0f ms, p99 %.0f vs %.0f",
		n, med, lo, hi, ms(kl[len(kl)/2]), ms(dl[len(dl)/2]), ms(kl[len(kl)*99/100]), ms(dl[len(dl)*99/100]))
	b.Logf("  kaj:    %d skipped, %d missing, %d repeated, %d repeats dropped and told, %d stalled runs", k.skipped, k.gaps, k.repeats, k.told, kstalls)
	b.Logf("  docker: %d missing, %d repeated, %d stalled runs", d.gaps, d.repeats, dstalls)
}

// manyPairs alternates docker logs -f and n kaj viewers, pairs times:
// each viewer's rate over the docker run's just before.
func manyPairs(b *testing.B, c *kajtest.Client, p *kajtest.Process, app, id, url string, n, pairs int) {
	var ratios, perViewer []float64
	var all []readerRun
	var rss int64
	streams := 0
	skipped, gaps, repeats, stalls := 0, 0, 0, 0
	for range pairs {
		d := dockerLogs(b, id, url)
		runs, r, st := fanout(b, c, p, app, id, url, n)
		rss, streams = max(rss, r), max(streams, st)
		var rates []float64
		for _, r := range runs {
			rates = append(rates, r.rate())
			skipped += r.skipped
			gaps += r.gaps
			repeats += r.repeats
			if r.stalled {
				stalls++
			}
		}
		_, med, _ := spread(rates)
		perViewer = append(perViewer, med)
		for _, r := range rates {
			ratios = append(ratios, r/d.rate())
		}
		all = append(all, runs...)
		b.Logf("%3d viewers: docker %.0f lines/s; kaj per viewer median %.0f (%.2f of docker)", n, d.rate(), med, med/d.rate())
	}
	lo, med, hi := spread(ratios)
	lat := latencies(all)
	b.ReportMetric(med, fmt.Sprintf("v%d/docker-median", n))
	b.ReportMetric(lo, fmt.Sprintf("v%d/docker-min", n))
	b.ReportMetric(float64(streams), fmt.Sprintf("v%d-engine-streams", n))
	b.ReportMetric(float64(rss)/(1<<20), fmt.Sprintf("v%d-MiB-rss", n))
	b.Logf("%3d viewers, %d pairs: each viewer's rate / the paired docker run's: median %.2f (range %.2f–%.2f); latency p50 %.0f ms p99 %.0f ms; %d skipped, %d missing, %d repeated in all, %d stalled; engine streams at most %d; kaj RSS at most %.1f MiB",
		n, pairs, med, lo, hi, ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), skipped, gaps, repeats, stalls, streams, float64(rss)/(1<<20))
	if streams != 1 {
		b.Errorf("%d viewers held %d engine streams; want 1", n, streams)
	}
}

func spread(xs []float64) (lo, med, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[0], s[len(s)/2], s[len(s)-1]
}

func latencies(runs []readerRun) []time.Duration {
	var all []time.Duration
	for _, r := range runs {
		all = append(all, r.lat...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		return []time.Duration{0}
	}
	return all
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// readerRun is what one reader saw of one flood.
type readerRun struct {
	t0, last time.Time
	inOrder  int // lines that came in sequence
	gaps     int // lines missing from the sequence
	skipped  int // lines kaj said this viewer skipped
	repeats  int // lines seen again by the reader
	told     int // repeats kaj dropped and said so
	msgs     int // websocket messages read
	stalled  bool
	lat      []time.Duration
	next     int // the flood line expected next
}

// stallAfter ends a reader that has not seen the flood's last line: the
// engine's json-file follow can hang after a rotation until the log is
// written again.
const stallAfter = 30 * time.Second

// rate is lines in sequence per second; a stalled reader's rate counts
// the time until it gave up.
func (r *readerRun) rate() float64 {
	end := r.last
	if r.stalled || end.IsZero() {
		end = r.t0.Add(stallAfter)
	}
	return float64(r.inOrder) / end.Sub(r.t0).Seconds()
}

func (r *readerRun) String() string {
	s := fmt.Sprintf("%6.0f lines/s in sequence, %d of %d; %d missing, %d skipped (told), %d repeated, %d repeats dropped (told)", r.rate(), r.inOrder, floodLines, r.gaps, r.skipped, r.repeats, r.told)
	if r.msgs > 0 {
		s += fmt.Sprintf("; %d messages", r.msgs)
	}
	if r.stalled {
		s += "; STALLED before the last line"
	}
	return s
}

// line checks one flood line's number against the sequence; it reports
// whether it was the flood's last.
func (r *readerRun) line(k int, at, now time.Time) bool {
	if at.Before(r.t0) {
		return false // an earlier flood's line
	}
	switch {
	case k == r.next:
		r.inOrder++
	case k > r.next:
		r.gaps += k - r.next
		r.inOrder++
	default:
		r.repeats++
		return false
	}
	r.next = k + 1
	r.lat = append(r.lat, now.Sub(at))
	r.last = now
	return k == floodLines
}

// parseFloodText reads "flood i unixnano" at the start of b, without
// allocating: a hundred viewers' parsing shares the machine with kaj.
func parseFloodText(b []byte) (int, time.Time, bool) {
	rest, ok := bytes.CutPrefix(b, []byte("flood "))
	if !ok {
		return 0, time.Time{}, false
	}
	k, rest, ok1 := digits(rest)
	if !ok1 || len(rest) == 0 || rest[0] != ' ' {
		return 0, time.Time{}, false
	}
	ns, _, ok2 := digits(rest[1:])
	if !ok2 {
		return 0, time.Time{}, false
	}
	return k, time.Unix(0, int64(ns)), true
}

// digits reads a decimal number at the start of b.
func digits(b []byte) (int, []byte, bool) {
	n, i := 0, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int(b[i]-'0')
		i++
	}
	return n, b[i:], i > 0
}

func flood(b *testing.B, url string) {
	resp, err := http.Post(url+"/flood?n="+strconv.Itoa(floodLines), "text/plain", nil)
	if err != nil {
		b.Error(err)
		return
	}
	resp.Body.Close()
}

// dockerLogs follows the container with the docker CLI from the log's
// end (--tail 0: --since would scan the whole file first) through one
// flood.
func dockerLogs(b *testing.B, id, url string) readerRun {
	cmd := exec.Command("docker", "logs", "-f", "--tail", "0", id)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(time.Second)
	r := readerRun{t0: time.Now(), next: 1}
	go flood(b, url)
	sc := bufio.NewScanner(out)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sc.Scan() {
			if k, at, ok := parseFloodText(sc.Bytes()); ok && r.line(k, at, time.Now()) {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(stallAfter):
		r.stalled = true
		cmd.Process.Kill()
		<-done
	}
	return r
}

var (
	textKey    = []byte(`"text":"`)
	skippedKey = []byte(`"skipped":`)
	repeatsKey = []byte(`"repeats":`)
)

// fanout connects n viewers to the container's log, floods, and reads
// until every viewer has the flood's last line, checking each viewer's
// sequence. It returns the viewers' runs, kaj's peak resident memory
// meanwhile and the engine streams kaj held.
func fanout(b *testing.B, c *kajtest.Client, p *kajtest.Process, app, id, url string, n int) ([]readerRun, int64, int) {
	runs := make([]readerRun, n)
	conns := make([]*websocket.Conn, n)
	for i := range n {
		conns[i] = c.Dial("/api/v1/apps/" + app + "/logs?tail=0&container=" + id)
	}
	time.Sleep(time.Second) // every viewer subscribed, the stream caught up
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		runs[i] = readerRun{t0: t0, next: 1}
		wg.Add(1)
		go func(r *readerRun, conn *websocket.Conn) {
			defer wg.Done()
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(stallAfter))
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					r.stalled = true // the engine's follow can hang after a rotation
					return
				}
				if bytes.HasPrefix(msg, []byte(`{"type":"end"`)) || bytes.HasPrefix(msg, []byte(`{"type":"error"`)) {
					b.Errorf("viewer: %s", msg)
					return
				}
				now := time.Now()
				r.msgs++
				// One light pass, so that the client's CPU is not what is
				// measured: each line's text, and the rare skip and
				// repeat counts that follow it.
				for rest := msg; ; {
					j := bytes.Index(rest, textKey)
					if j < 0 {
						break
					}
					rest = rest[j+len(textKey):]
					k, at, ok := parseFloodText(rest)
					if q := bytes.IndexByte(rest, '"'); q >= 0 && q+1 < len(rest) && rest[q+1] == ',' {
						end := bytes.IndexByte(rest[q:], '}')
						tail := rest[q : q+end]
						r.skipped += countAfter(tail, skippedKey)
						r.told += countAfter(tail, repeatsKey)
					}
					if ok && r.line(k, at, now) {
						return
					}
				}
			}
		}(&runs[i], conns[i])
	}
	go flood(b, url)
	var rss int64
	var mu sync.Mutex
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if r, err := p.RSS(); err == nil {
				mu.Lock()
				rss = max(rss, r)
				mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	streams := engineStreams(b, p)
	wg.Wait()
	stop()
	mu.Lock()
	defer mu.Unlock()
	return runs, rss, streams
}

// countAfter sums the numbers following each key in msg.
func countAfter(msg, key []byte) int {
	n := 0
	for {
		j := bytes.Index(msg, key)
		if j < 0 {
			return n
		}
		msg = msg[j+len(key):]
		v, _, _ := digits(msg)
		n += v
	}
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

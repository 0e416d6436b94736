package api

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// cpuTicks is a process's user+system CPU time in clock ticks (1/100 s
// on Linux), from /proc.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may hold spaces: ") S ppid ...";
	// utime and stime are fields 14 and 15 of the whole line.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s, nil
}

// BenchmarkStatsFanout deploys 25 apps with a database each (50
// containers: the engine's default address pools hold about 30 bridge
// networks, one per app), opens 10 stats websockets to each container
// (500 viewers, as ten browsers per container), and reports kaj's
// resident memory idle and watched, its CPU over 20 s of watching, and
// the engine stats streams it holds open, which must equal the 50
// containers watched. Run with:
//
//	go test -run '^$' -bench StatsFanout -benchtime 1x -timeout 20m ./e2e/api/
func BenchmarkStatsFanout(b *testing.B) {
	const apps, viewers = 25, 10
	env := testutil.NewEnv(b)
	img := env.TestAppImageAs("kaj-bench-stats")
	dbImg := env.TestAppImageAs("kaj-bench-fakedb", "FAKE_MYSQL_PORT=3306", "PORT=8081")
	p := kajtest.StartProcess(b, env, "")
	c := p.Login(b)
	names := make([]string, apps)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make(chan error, apps)
	start := time.Now()
	for i := range names {
		names[i] = env.Name(fmt.Sprintf("st%02d", i))
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": img, "port": 8080, "health_path": "/healthz",
				"database": map[string]any{"kind": "mysql", "image": dbImg}}, nil); code != 201 {
				errs <- fmt.Errorf("create %s: %d", name, code)
				return
			}
			var job struct {
				Job string `json:"job"`
			}
			c.JSON("POST", "/api/v1/apps/"+name+"/deploy", nil, &job)
			if st, ev := c.WaitJob(job.Job, 5*time.Minute); st != "succeeded" {
				errs <- fmt.Errorf("deploy %s %s: %v", name, st, ev)
			}
		}(names[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.Logf("deployed %d apps in %s", apps, time.Since(start).Round(time.Second))
	time.Sleep(3 * time.Second)
	idle, err := p.RSS()
	if err != nil {
		b.Fatal(err)
	}

	conns := make([]*websocket.Conn, 0, apps*viewers)
	var mu sync.Mutex
	received := 0
	var rwg sync.WaitGroup
	var targets []string
	for _, name := range names {
		targets = append(targets, "/api/v1/apps/"+name+"/stats?container=app", "/api/v1/apps/"+name+"/stats?container=db")
	}
	containers := len(targets)
	for _, path := range targets {
		for v := 0; v < viewers; v++ {
			conn := c.Dial(path)
			conns = append(conns, conn)
			rwg.Add(1)
			go func(conn *websocket.Conn) {
				defer rwg.Done()
				for {
					if _, _, err := conn.ReadMessage(); err != nil {
						return
					}
					mu.Lock()
					received++
					mu.Unlock()
				}
			}(conn)
		}
	}
	// Every viewer gets readings before the measurement starts.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		mu.Lock()
		r := received
		mu.Unlock()
		if r >= containers*viewers*2 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d readings reached %d viewers", r, containers*viewers)
		}
	}
	var host struct {
		Streams int `json:"stats_streams"`
	}
	c.JSON("GET", "/api/v1/host", nil, &host)
	t0, _ := cpuTicks(p.Cmd.Process.Pid)
	mu.Lock()
	r0 := received
	mu.Unlock()
	const window = 20 * time.Second
	time.Sleep(window)
	t1, _ := cpuTicks(p.Cmd.Process.Pid)
	mu.Lock()
	r1 := received
	mu.Unlock()
	watched, _ := p.RSS()
	cpu := float64(t1-t0) / 100 / window.Seconds() * 100
	b.ReportMetric(float64(idle)/(1<<20), "MiB-idle-rss")
	b.ReportMetric(float64(watched)/(1<<20), "MiB-watched-rss")
	b.ReportMetric(cpu, "%cpu-watched")
	b.ReportMetric(float64(host.Streams), "engine-streams")
	b.ReportMetric(float64(r1-r0)/window.Seconds(), "readings/s")
	b.Logf("kaj with %d containers, %d stats viewers each: RSS idle %.1f MiB, watched %.1f MiB; CPU %.1f%% of one core; %d engine stats streams; %.0f readings/s delivered",
		containers, viewers, float64(idle)/(1<<20), float64(watched)/(1<<20), cpu, host.Streams, float64(r1-r0)/window.Seconds())
	if host.Streams != containers {
		b.Fatalf("%d engine stats streams for %d watched containers; want one each", host.Streams, containers)
	}
	for _, conn := range conns {
		conn.Close()
	}
	rwg.Wait()
}

package swarm

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/internal/testutil/swarmtest"
	"github.com/kajhq/kaj/store"
)

func docker(b *testing.B, host string, args ...string) string {
	b.Helper()
	out, err := exec.Command("docker", append([]string{"-H", host}, args...)...).CombinedOutput()
	if err != nil {
		b.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// BenchmarkSwarm_deploy compares a redeploy (a new env value) of a
// 3-replica app through kaj with the same rolling update of an identical
// service by hand, on the same swarm: "docker service update" as the CLI
// runs it (it waits for the update and then 5s more to see the tasks
// stay up), and the update through the API polled until swarm reports it
// completed, which is what kaj waits for.
func BenchmarkSwarm_deploy(b *testing.B) {
	c := swarmtest.Shared(b)
	env := testutil.NewEnv(b)
	img := appImage(b, c, env, "kaj-swarm-bench")
	k := startKaj(b, c, env)
	app := createApp(b, k, map[string]any{
		"name": env.Name("bench"), "image": img, "port": 8080, "health_path": "/healthz", "replicas": 3,
	})
	deploy(b, k, app)
	host := c.Manager()
	manual := env.Name("hand")
	docker(b, host, "service", "create", "--detach=false", "--quiet", "--name", manual,
		"--label", "kaj.test="+env.ID, "--replicas", "3", "--network", k.Engine.AppServiceName(app),
		"--endpoint-mode", "dnsrr", "--publish", "mode=host,target=8080",
		"--update-order", "start-first", "--update-parallelism", "1", "--update-failure-action", "rollback",
		"--update-monitor", "5s", "--rollback-order", "start-first", "--env", "VERSION=0", img)
	b.Cleanup(func() { exec.Command("docker", "-H", host, "service", "rm", manual).Run() })

	var kajT, cliT, apiT time.Duration
	for i := 0; i < b.N; i++ {
		a, err := k.Store.App(app)
		if err != nil {
			b.Fatal(err)
		}
		a.Env = []store.EnvVar{{Name: "VERSION", Value: fmt.Sprint("k", i)}}
		if _, err := k.Store.UpdateApp(a); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		deploy(b, k, app)
		kajT += time.Since(start)

		start = time.Now()
		docker(b, host, "service", "update", "--detach=false", "--quiet", "--env-add", fmt.Sprint("VERSION=c", i), manual)
		cliT += time.Since(start)

		start = time.Now()
		docker(b, host, "service", "update", "--detach=true", "--quiet", "--env-add", fmt.Sprint("VERSION=a", i), manual)
		for docker(b, host, "service", "inspect", "-f", "{{.UpdateStatus.State}}", manual) != "completed" {
			time.Sleep(100 * time.Millisecond)
		}
		apiT += time.Since(start)
	}
	n := time.Duration(b.N)
	b.ReportMetric((kajT / n).Seconds(), "kaj-s/deploy")
	b.ReportMetric((cliT / n).Seconds(), "cli-s/update")
	b.ReportMetric((apiT / n).Seconds(), "api-s/update")
	b.ReportMetric(kajT.Seconds()/apiT.Seconds(), "kaj/api")
	b.ReportMetric(kajT.Seconds()/cliT.Seconds(), "kaj/cli")
}

// BenchmarkSwarm_router measures requests a second through kaj's router
// to an app of 1 and of 3 replicas spread over the nodes, 32 clients at
// once.
func BenchmarkSwarm_router(b *testing.B) {
	c := swarmtest.Shared(b)
	env := testutil.NewEnv(b)
	img := appImage(b, c, env, "kaj-swarm-rps")
	k := startKaj(b, c, env)
	for _, n := range []int{1, 3} {
		app := createApp(b, k, map[string]any{
			"name": env.Name(fmt.Sprint("rps", n)), "image": img, "port": 8080, "health_path": "/healthz", "replicas": n,
		})
		deploy(b, k, app)
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			rps(b, k, app)
		})
	}
}

func rps(b *testing.B, k *kajtest.Kaj, app string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequestWithContext(context.Background(), "GET", k.RouterURL+"/healthz", nil)
				req.Host = app + ".localhost"
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, b.N)
	}
}

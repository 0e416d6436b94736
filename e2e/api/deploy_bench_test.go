package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// fastPoll is the CLI side's probe cadence: a tight loop, as fast as a
// script sensibly polls (a greeting probe costs a connection).
const fastPoll = 10 * time.Millisecond

// BenchmarkDeployMariaDB deploys an app with a real MariaDB the way a
// user does, through kaj's HTTP API: POST /apps/{name}/deploy, then the
// job's event stream until it ends (the store, the release record and
// the events included), against the docker CLI doing the same steps
// (network, volume, run MariaDB, poll its greeting every 10ms, run the
// app, poll /healthz every 10ms). Each pair alternates which goes first;
// every deploy has a fresh app and volume, so MariaDB initialises its
// data directory each time. It reports the median ratio kaj/CLI and its
// range over the pairs, for kaj as configured by default and for a kaj
// with deploy.stable_for = "0s". Both go live at the first passing health
// check, as the CLI does; by default kaj then watches the new container
// for a second after the job has ended (the control shows what that
// costs the deploy: nothing, when the two agree).
// Run with: go test -run '^$' -bench DeployMariaDB -benchtime 1x -timeout 20m ./e2e/api/
func BenchmarkDeployMariaDB(b *testing.B) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		b.Skip("no docker CLI to compare with")
	}
	env := testutil.NewEnv(b)
	dbImg := env.MariaDBImage()
	img := env.TestAppImage()
	p := kajtest.StartProcess(b, env, "")
	c := p.Login(b)
	// The same deploys with the stability window off: the control for
	// what the window costs a deploy now that it runs after going live.
	q := kajtest.StartProcess(b, env, `stable_for = "0s"`)
	cq := q.Login(b)
	const pairs = 5
	var kajT, cliT, fastT, ratios, fastRatios []float64
	for i := range pairs {
		var k, d, f time.Duration
		runKaj := func() { k = deployAPI(b, c, img, dbImg, env.Name("dk")) }
		runFast := func() { f = deployAPI(b, cq, img, dbImg, env.Name("df")) }
		runCLI := func() { d = deployMariaCLI(b, docker, env, img, dbImg, env.Name("dc")) }
		if i%2 == 0 {
			runKaj()
			runFast()
			runCLI()
		} else {
			runCLI()
			runFast()
			runKaj()
		}
		kajT, cliT, fastT = append(kajT, k.Seconds()), append(cliT, d.Seconds()), append(fastT, f.Seconds())
		ratios = append(ratios, k.Seconds()/d.Seconds())
		fastRatios = append(fastRatios, f.Seconds()/d.Seconds())
		b.Logf("pair %d: kaj %.2f s, kaj stable_for=0s %.2f s, CLI %.2f s, ratios %.3f and %.3f", i+1, k.Seconds(), f.Seconds(), d.Seconds(), k.Seconds()/d.Seconds(), f.Seconds()/d.Seconds())
	}
	lo, med, hi := spread(ratios)
	flo, fmed, fhi := spread(fastRatios)
	_, km, _ := spread(kajT)
	_, fm, _ := spread(fastT)
	_, cm, _ := spread(cliT)
	b.ReportMetric(km, "kaj-s")
	b.ReportMetric(fm, "kaj-nowindow-s")
	b.ReportMetric(cm, "cli-s")
	b.ReportMetric(med, "kaj/cli-median")
	b.ReportMetric(lo, "kaj/cli-min")
	b.ReportMetric(hi, "kaj/cli-max")
	b.ReportMetric(fmed, "kaj-nowindow/cli-median")
	b.Logf("deploy with MariaDB, stable_for=0s: kaj median %.2f s; kaj/CLI paired median %.3f (range %.3f–%.3f)", fm, fmed, flo, fhi)
	b.Logf("deploy with MariaDB: kaj median %.2f s, CLI median %.2f s; kaj/CLI paired median %.3f (range %.3f–%.3f)", km, cm, med, lo, hi)
}

// deployAPI creates app (untimed), then times its deploy through the
// API until the job's stream ends, and deletes it with its data.
func deployAPI(b *testing.B, c *kajtest.Client, img, dbImg, app string) time.Duration {
	body := map[string]any{"name": app, "image": img, "port": 8080, "health_path": "/healthz",
		"database": map[string]any{"kind": "mysql", "image": dbImg}}
	if code := c.JSON("POST", "/api/v1/apps", body, nil); code != 201 {
		b.Fatalf("create %s: %d", app, code)
	}
	start := time.Now()
	var job struct {
		Job string `json:"job"`
	}
	if code := c.JSON("POST", "/api/v1/apps/"+app+"/deploy", nil, &job); code != http.StatusAccepted {
		b.Fatalf("deploy %s: %d", app, code)
	}
	st, ev := c.WaitJob(job.Job, 3*time.Minute)
	took := time.Since(start)
	if st != "succeeded" {
		b.Fatalf("deploy %s: %s %v", app, st, ev)
	}
	if code, out := c.Do("DELETE", "/api/v1/apps/"+app+"?data=true", nil); code >= 300 {
		b.Fatalf("delete %s: %d %s", app, code, out)
	}
	return took
}

// deployMariaCLI is an operator's script with the docker CLI, its waits
// tight loops; it cleans up after itself, untimed.
func deployMariaCLI(b *testing.B, docker string, env *testutil.Env, img, dbImg, app string) time.Duration {
	label := testutil.Label + "=" + env.ID
	netName, db, vol, web := "kaj-"+app, "kaj-"+app+"-db", "kaj-"+app+"-data", "kaj-"+app+"-r1"
	defer func() {
		run(b, docker, "rm", "-f", "-v", db, web)
		run(b, docker, "network", "rm", netName)
		run(b, docker, "volume", "rm", vol)
	}()
	start := time.Now()
	run(b, docker, "network", "create", "--label", label, netName)
	run(b, docker, "volume", "create", "--label", label, vol)
	run(b, docker, "run", "-d", "--name", db, "--network", netName, "--network-alias", "dbserver",
		"--restart", "unless-stopped", "--label", label, "-v", vol+":/var/lib/mysql",
		"-e", "MYSQL_DATABASE=bench", "-e", "MYSQL_USER=bench", "-e", "MYSQL_PASSWORD=benchpw", "-e", "MYSQL_RANDOM_ROOT_PASSWORD=yes", dbImg)
	ip := run(b, docker, "inspect", "-f", `{{(index .NetworkSettings.Networks "`+netName+`").IPAddress}}`, db)
	poll(b, func() bool {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "3306"), time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		hdr := make([]byte, 5)
		_, err = io.ReadFull(c, hdr)
		return err == nil && hdr[4] == 10 // MySQL protocol 10 handshake
	})
	run(b, docker, "run", "-d", "--name", web, "--network", netName, "-p", "127.0.0.1::8080",
		"--restart", "unless-stopped", "--label", label,
		"-e", "DATABASE_URL=mysql://bench:benchpw@dbserver/bench", img)
	addr := run(b, docker, "port", web, "8080/tcp")
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	poll(b, func() bool {
		resp, err := client.Get("http://" + strings.Fields(addr)[0] + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return time.Since(start)
}

func run(b *testing.B, docker string, args ...string) string {
	out, err := exec.Command(docker, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func poll(b *testing.B, ok func() bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			b.Fatal("timed out")
		case <-time.After(fastPoll):
		}
	}
}

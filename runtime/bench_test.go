package runtime_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
)

// benchPoll is the probe cadence of both sides: kaj's default backoff, so
// the comparison measures driving the engine, not a difference of waits.
var benchPoll = runtime.Backoff{}

// BenchmarkDeployVsCLI deploys an app and its database (testapp serving
// the MySQL greeting, both images local) until the app answers healthy,
// once through kaj and once with the docker CLI doing the same steps
// (network create, volume create, run db, wait for its greeting, run app,
// wait for HTTP 200), alternating which goes first. It reports the median
// time of a deploy each way and their ratio; ns/op is the pair plus the
// clean-up.
func BenchmarkDeployVsCLI(b *testing.B) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		b.Skip("no docker CLI to compare with")
	}
	d, env := engine(b)
	img := env.TestAppImage("FAKE_MYSQL_PORT=3306")
	ctx := b.Context()
	var kajTimes, cliTimes []time.Duration
	n := 0
	for b.Loop() {
		runs := []func(){
			func() {
				app := env.Name("bk")
				start := time.Now()
				deployKaj(b, ctx, d, env, img, app)
				kajTimes = append(kajTimes, time.Since(start))
				if err := d.RemoveApp(ctx, app, true); err != nil {
					b.Fatal(err)
				}
			},
			func() {
				app := env.Name("bc")
				start := time.Now()
				deployCLI(b, ctx, docker, env, img, app)
				cliTimes = append(cliTimes, time.Since(start))
				cli(b, docker, "rm", "-f", "-v", "kaj-"+app+"-db", "kaj-"+app+"-r1")
				cli(b, docker, "network", "rm", "kaj-"+app)
				cli(b, docker, "volume", "rm", "kaj-"+app+"-data")
			},
		}
		if n%2 == 1 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		for _, r := range runs {
			r()
		}
		n++
	}
	// Medians: other work on a shared machine makes single deploys slow
	// at random, and a mean would follow them.
	kaj, cli := median(kajTimes), median(cliTimes)
	b.ReportMetric(float64(kaj)/1e6, "kaj-ms/deploy")
	b.ReportMetric(float64(cli)/1e6, "cli-ms/deploy")
	b.ReportMetric(float64(kaj)/float64(cli), "kaj/cli")
}

func deployKaj(b *testing.B, ctx context.Context, d *runtime.Docker, env *testutil.Env, img, app string) {
	spec := runtime.DatabaseSpec{App: app, Kind: runtime.MySQL, Image: img, Password: "benchpw", Labels: env.Labels()}
	db, err := d.EnsureDatabase(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	if err := d.WaitDatabase(ctx, db, runtime.WaitOptions{Backoff: benchPoll}); err != nil {
		b.Fatal(err)
	}
	vars, err := runtime.DatabaseEnv(spec, "mysql+pymysql")
	if err != nil {
		b.Fatal(err)
	}
	web, err := d.StartApp(ctx, runtime.AppSpec{App: app, Release: "1", Image: img, Env: vars, Port: 8080, Labels: env.Labels()})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.WaitHealthy(ctx, web, runtime.HealthOptions{Path: "/healthz", Backoff: benchPoll}); err != nil {
		b.Fatal(err)
	}
}

// deployCLI is what an operator's script does with the docker CLI; the
// waits are plain loops at kaj's cadence.
func deployCLI(b *testing.B, ctx context.Context, docker string, env *testutil.Env, img, app string) {
	label := testutil.Label + "=" + env.ID
	netName, db, vol := "kaj-"+app, "kaj-"+app+"-db", "kaj-"+app+"-data"
	cli(b, docker, "network", "create", "--label", label, netName)
	cli(b, docker, "volume", "create", "--label", label, vol)
	cli(b, docker, "run", "-d", "--name", db, "--network", netName, "--network-alias", "dbserver",
		"--restart", "unless-stopped", "--label", label, "-v", vol+":/var/lib/mysql",
		"-e", "MYSQL_DATABASE=bench", "-e", "MYSQL_USER=bench", "-e", "MYSQL_PASSWORD=benchpw", "-e", "MYSQL_RANDOM_ROOT_PASSWORD=yes", img)
	ip := cli(b, docker, "inspect", "-f", `{{(index .NetworkSettings.Networks "`+netName+`").IPAddress}}`, db)
	until(b, ctx, func() bool {
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
	web := "kaj-" + app + "-r1"
	cli(b, docker, "run", "-d", "--name", web, "--network", netName, "-p", "127.0.0.1::8080",
		"--restart", "unless-stopped", "--label", label,
		"-e", "DATABASE_URL=mysql+pymysql://bench:benchpw@dbserver/bench", img)
	addr := cli(b, docker, "port", web, "8080/tcp")
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	until(b, ctx, func() bool {
		resp, err := client.Get("http://" + strings.Fields(addr)[0] + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

func cli(b *testing.B, docker string, args ...string) string {
	out, err := exec.Command(docker, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func until(b *testing.B, ctx context.Context, ok func() bool) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for n := 0; !ok(); n++ {
		select {
		case <-ctx.Done():
			b.Fatal("timed out")
		case <-time.After(benchPoll.Delay(n)):
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

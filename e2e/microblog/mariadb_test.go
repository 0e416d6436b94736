package microblog

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/testutil"
)

// The packages whose tests take their database from testDatabaseEnv.
var dbPackages = []string{
	"github.com/kajhq/kaj/microblog/store",
	"github.com/kajhq/kaj/microblog/web",
}

// testDatabaseEnv is Microblog's switch from SQLite to a database server
// in its tests (microblog/internal/testdb).
const testDatabaseEnv = "MICROBLOG_TEST_DATABASE_URL"

// testEvent is one line of go test -json.
type testEvent struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// TestMicroblogTests_mariadb runs Microblog's store and web tests against a
// real MariaDB server, the way "go test ./..." runs them: packages at the
// same time, each test in a database of its own, created and dropped
// there.
func TestMicroblogTests_mariadb(t *testing.T) {
	env := testutil.NewEnv(t)
	db := startMariaDB(t, env, mariaDBOptions{Database: "microblog_test"})

	args := []string{"test", "-count=1", "-json", "-p", "2"}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(env.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, dbPackages...)...)
	cmd.Env = append(os.Environ(), testDatabaseEnv+"=mysql://root:"+db.RootPassword+"@"+db.Addr.String()+"/microblog_test")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()

	passed := map[string]int{}
	var failed, skipped []string
	outputs := map[string]*strings.Builder{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var e testEvent
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go test -json: %v\n%s%s", err, out, stderr.String())
		}
		key := e.Package + " " + e.Test
		if outputs[key] == nil {
			outputs[key] = &strings.Builder{}
		}
		outputs[key].WriteString(e.Output)
		if e.Test == "" {
			continue
		}
		switch e.Action {
		case "pass":
			passed[e.Package]++
		case "fail":
			failed = append(failed, key)
		case "skip":
			skipped = append(skipped, key)
		}
	}
	for _, k := range failed {
		t.Errorf("FAIL %s\n%s", k, outputs[k])
	}
	if runErr != nil {
		t.Fatalf("go test against MariaDB: %v\n%s", runErr, stderr.String())
	}
	for _, pkg := range dbPackages {
		if passed[pkg] == 0 {
			t.Errorf("no test of %s passed:\n%s", pkg, outputs[pkg+" "])
		}
	}
	for _, k := range skipped {
		t.Errorf("skipped against MariaDB: %s\n%s", k, outputs[k])
	}
	t.Logf("passed against MariaDB: %v", passed)

	// The tests did run on this server, each in its own database, and
	// left none behind.
	conn, err := sql.Open("mysql", db.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	status := func(name string) int {
		var n string
		var v int
		if err := conn.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&n, &v); err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		return v
	}
	created, dropped := status("Com_create_db"), status("Com_drop_db")
	if created < len(dbPackages) || dropped != created {
		t.Errorf("the server saw %d CREATE DATABASE and %d DROP DATABASE; want one pair per test, at least %d", created, dropped, len(dbPackages))
	}
	var left []string
	rows, err := conn.QueryContext(ctx, `SHOW DATABASES LIKE 'microblog\_test\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		left = append(left, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("test databases left behind: %v", left)
	}
	t.Logf("%d test databases created and dropped", created)
}

// BenchmarkColdStart_mariadb measures a fresh Microblog container's start
// to its first /healthz 200 with MariaDB ready and the schema in place, as
// a redeploy finds them. ms/healthy counts from the start request (the
// engine's network and port set-up included); ms/healthy-after-exec from
// the moment the engine recorded the process started. /healthz is asked
// every 5ms.
func BenchmarkColdStart_mariadb(b *testing.B) {
	env := testutil.NewEnv(b)
	tag := buildMicroblog(b, env)
	nw, err := env.Client.NetworkCreate(env.Context(), env.Name("net"), mclient.NetworkCreateOptions{Driver: "bridge", Labels: env.Labels()})
	if err != nil {
		b.Fatal(err)
	}
	password := secret()
	startMariaDB(b, env, mariaDBOptions{Database: "microblog", User: "microblog", Password: password, Network: nw.ID})
	vars := []string{
		"SECRET_KEY=" + secret(),
		"DATABASE_URL=mysql+pymysql://microblog:" + password + "@dbserver/microblog",
		"LOG_TO_STDOUT=1",
	}
	// The first start creates the schema; the timed ones find it.
	coldStart(b, env, tag, nw.ID, vars)
	var total, afterExec time.Duration
	b.ResetTimer()
	for range b.N {
		fromRequest, fromExec := coldStart(b, env, tag, nw.ID, vars)
		total += fromRequest
		afterExec += fromExec
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/healthy")
	b.ReportMetric(float64(afterExec.Microseconds())/1000/float64(b.N), "ms/healthy-after-exec")
}

// coldStart starts one Microblog container and returns the time to its
// first /healthz 200 from the start request and from the process start
// the engine recorded. The container is removed after; only the start is
// timed.
func coldStart(b *testing.B, env *testutil.Env, tag, networkID string, vars []string) (fromRequest, fromExec time.Duration) {
	b.StopTimer()
	ctx := env.Context()
	port := network.MustParsePort("5000/tcp")
	res, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name:   env.Name("microblog"),
		Config: &container.Config{Image: tag, Env: vars, Labels: env.Labels()},
		HostConfig: &container.HostConfig{
			NetworkMode:  container.NetworkMode(networkID),
			PortBindings: network.PortMap{port: {{HostIP: loopback}}},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer()
		if _, err := env.Client.ContainerRemove(context.Background(), res.ID, mclient.ContainerRemoveOptions{Force: true}); err != nil {
			b.Errorf("removing %s: %v", res.ID[:12], err)
		}
		b.StartTimer()
	}()
	b.StartTimer()
	start := time.Now()
	if _, err := env.Client.ContainerStart(ctx, res.ID, mclient.ContainerStartOptions{}); err != nil {
		b.Fatal(err)
	}
	base := fmt.Sprintf("http://%s", publishedPort(b, env, res.ID, port))
	healthy := waitHealthz(b, base, 200, 5*time.Millisecond, time.Minute)
	b.StopTimer()
	insp, err := env.Client.ContainerInspect(ctx, res.ID, mclient.ContainerInspectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	started, err := time.Parse(time.RFC3339Nano, insp.Container.State.StartedAt)
	if err != nil {
		b.Fatalf("container start time: %v", err)
	}
	return healthy.Sub(start), healthy.Sub(started)
}

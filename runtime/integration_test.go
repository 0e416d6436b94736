package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
	"github.com/moby/moby/api/types/container"
	mclient "github.com/moby/moby/client"
)

// engine connects a runtime to the test engine. The test's objects are
// removed at its end by env's cleanup, found by env.Labels.
func engine(t testing.TB) (*runtime.Docker, *testutil.Env) {
	t.Helper()
	env := testutil.NewEnv(t)
	d, err := runtime.NewDocker("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, env
}

// get asks a running testapp container and returns status and body.
func get(t *testing.T, c runtime.Container, path string) (int, string) {
	t.Helper()
	u := "http://" + c.HostPort.String() + path
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, c runtime.Container, path string) {
	t.Helper()
	resp, err := http.Post("http://"+c.HostPort.String()+path, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %s", path, resp.Status)
	}
}

var quick = runtime.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}

// TestDocker_appWithDatabase runs the lesson's pair the way kaj does: a
// database container (testapp's fake MySQL, quick to start) and an app on
// their own network, the app reaching the database as dbserver.
func TestDocker_appWithDatabase(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	img := env.TestAppImage("FAKE_MYSQL_PORT=3306")
	app := env.Name("pair")

	dbSpec := runtime.DatabaseSpec{App: app, Kind: runtime.MySQL, Image: img, Password: runtime.GeneratePassword() + "@:/ x", Labels: env.Labels()}
	db, err := d.EnsureDatabase(ctx, dbSpec)
	if err != nil {
		t.Fatal(err)
	}
	if db.Name != "kaj-"+app+"-db" || db.Role != runtime.RoleDB || db.Kind != runtime.MySQL || !db.IP.IsValid() {
		t.Fatalf("database container = %+v", db)
	}
	if err := d.WaitDatabase(ctx, db, runtime.WaitOptions{Timeout: 30 * time.Second, Backoff: quick}); err != nil {
		t.Fatal(err)
	}
	// Ensuring again finds the same container, and starts it when it
	// was stopped.
	if err := d.Stop(ctx, db.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	again, err := d.EnsureDatabase(ctx, dbSpec)
	if err != nil || again.ID != db.ID {
		t.Fatalf("second EnsureDatabase = %s, %v; want the same container %s", again.ID, err, db.ID)
	}
	if st, err := d.Inspect(ctx, db.ID); err != nil || st.State != "running" {
		t.Fatalf("after EnsureDatabase of a stopped database: %v, %v", st, err)
	}
	db = again
	if err := d.WaitDatabase(ctx, db, runtime.WaitOptions{Timeout: 30 * time.Second, Backoff: quick}); err != nil {
		t.Fatal(err)
	}

	dbEnv, err := runtime.DatabaseEnv(dbSpec, "mysql+pymysql")
	if err != nil {
		t.Fatal(err)
	}
	userEnv := map[string]string{
		"SECRET_KEY": "s3cr3t with spaces",
		"TRICKY":     `a=b "quoted" 'single' $HOME \n ü`,
		"EMPTY":      "",
	}
	appEnv := map[string]string{}
	for _, m := range []map[string]string{userEnv, dbEnv} {
		for k, v := range m {
			appEnv[k] = v
		}
	}
	web, err := d.StartApp(ctx, runtime.AppSpec{App: app, Release: "1", Image: img, Env: appEnv, Port: 8080, Memory: 64 << 20, CPUs: 0.5, Labels: env.Labels()})
	if err != nil {
		t.Fatal(err)
	}
	if !web.HostPort.IsValid() || web.HostPort.Addr().String() != "127.0.0.1" || web.HostPort.Port() == 0 {
		t.Fatalf("app published on %v, want an engine-chosen port on 127.0.0.1", web.HostPort)
	}
	if err := d.WaitHealthy(ctx, web, runtime.HealthOptions{Path: "/healthz", Timeout: 30 * time.Second, Backoff: quick}); err != nil {
		t.Fatal(err)
	}

	t.Run("env arrives as given", func(t *testing.T) {
		_, body := get(t, web, "/env")
		var got map[string]string
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		for k, v := range appEnv {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s = %q (present %v), want %q", k, g, ok, v)
			}
		}
		u, err := url.Parse(got["DATABASE_URL"])
		if err != nil {
			t.Fatal(err)
		}
		if pw, _ := u.User.Password(); pw != dbSpec.Password || u.Host != "dbserver" {
			t.Errorf("DATABASE_URL %q does not carry the password and host", got["DATABASE_URL"])
		}
	})
	t.Run("app resolves and reaches dbserver", func(t *testing.T) {
		code, body := get(t, web, "/resolve?host=dbserver")
		if code != 200 || !strings.Contains(body, `"`+db.IP.String()+`"`) {
			t.Fatalf("resolve dbserver: %d %s; want %s", code, body, db.IP)
		}
		code, body = get(t, web, "/dial?addr=dbserver:3306")
		if code != 200 || !strings.Contains(body, `"ok":true`) {
			t.Fatalf("dial dbserver:3306: %d %s", code, body)
		}
	})
	t.Run("labels and limits", func(t *testing.T) {
		insp, err := env.Client.ContainerInspect(ctx, web.ID, mclient.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l := insp.Container.Config.Labels
		if l["kaj.managed"] != "true" || l["kaj.app"] != app || l["kaj.role"] != "app" || l["kaj.release"] != "1" || l[testutil.Label] != env.ID {
			t.Errorf("app labels = %v", l)
		}
		hc := insp.Container.HostConfig
		if hc.Memory != 64<<20 || hc.NanoCPUs != 5e8 || hc.RestartPolicy.Name != container.RestartPolicyUnlessStopped {
			t.Errorf("memory %d, nano CPUs %d, restart %q", hc.Memory, hc.NanoCPUs, hc.RestartPolicy.Name)
		}
		dbi, err := env.Client.ContainerInspect(ctx, db.ID, mclient.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if dbi.Container.HostConfig.RestartPolicy.Name != container.RestartPolicyUnlessStopped {
			t.Errorf("database restart policy %q", dbi.Container.HostConfig.RestartPolicy.Name)
		}
		if !slices.Contains(dbi.Container.Config.Env, "MYSQL_RANDOM_ROOT_PASSWORD=yes") || !slices.Contains(dbi.Container.Config.Env, "MYSQL_PASSWORD="+dbSpec.Password) {
			t.Errorf("database env = %v", dbi.Container.Config.Env)
		}
		if m := dbi.Container.Mounts; len(m) != 1 || m[0].Name != "kaj-"+app+"-data" || m[0].Destination != "/var/lib/mysql" {
			t.Errorf("database mounts = %+v", m)
		}
		if aliases := dbi.Container.NetworkSettings.Networks["kaj-"+app].Aliases; !slices.Contains(aliases, "dbserver") {
			t.Errorf("database aliases = %v", aliases)
		}
		v, err := env.Client.VolumeInspect(ctx, "kaj-"+app+"-data", mclient.VolumeInspectOptions{})
		if err != nil || v.Volume.Labels["kaj.app"] != app || v.Volume.Labels["kaj.managed"] != "true" {
			t.Errorf("volume labels = %v, %v", v.Volume.Labels, err)
		}
	})
	t.Run("list, inspect, stats", func(t *testing.T) {
		st, err := d.List(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 2 || st[0].ID != web.ID || st[1].ID != db.ID || st[0].String() != "running" || st[1].State != "running" {
			t.Fatalf("List = %+v", st)
		}
		s, err := d.Stats(ctx, web.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.Memory == 0 || s.MemoryLimit != 64<<20 || s.CPUPercent < 0 {
			t.Errorf("Stats = %+v", s)
		}
	})
	t.Run("stop, start, restart", func(t *testing.T) {
		if err := d.Stop(ctx, web.ID, time.Second); err != nil {
			t.Fatal(err)
		}
		st, err := d.Inspect(ctx, web.ID)
		if err != nil || st.State != "exited" {
			t.Fatalf("after Stop: %v, %v", st, err)
		}
		if err := d.Start(ctx, web.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.Restart(ctx, web.ID, time.Second); err != nil {
			t.Fatal(err)
		}
		// A new start may publish another port: read it again.
		st, err = d.Inspect(ctx, web.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.WaitHealthy(ctx, st.Container, runtime.HealthOptions{Path: "/healthz", Timeout: 30 * time.Second, Backoff: quick}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("remove app keeps data unless told", func(t *testing.T) {
		if err := d.RemoveApp(ctx, app, false); err != nil {
			t.Fatal(err)
		}
		if st, err := d.List(ctx, app); err != nil || len(st) != 0 {
			t.Fatalf("after RemoveApp: %v, %v", st, err)
		}
		if _, err := env.Client.NetworkInspect(ctx, "kaj-"+app, mclient.NetworkInspectOptions{}); err == nil {
			t.Error("network survived RemoveApp")
		}
		if _, err := env.Client.VolumeInspect(ctx, "kaj-"+app+"-data", mclient.VolumeInspectOptions{}); err != nil {
			t.Fatalf("volume gone without deleteData: %v", err)
		}
		if err := d.RemoveApp(ctx, app, true); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Client.VolumeInspect(ctx, "kaj-"+app+"-data", mclient.VolumeInspectOptions{}); err == nil {
			t.Error("volume survived RemoveApp with deleteData")
		}
	})
}

// TestDocker_postgresReadiness runs the Postgres shape against testapp's
// Postgres responder.
func TestDocker_postgresReadiness(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	img := env.TestAppImage("FAKE_POSTGRES_PORT=5432")
	spec := runtime.DatabaseSpec{App: env.Name("pg"), Kind: runtime.Postgres, Image: img, Password: "pw", Labels: env.Labels()}
	db, err := d.EnsureDatabase(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitDatabase(ctx, db, runtime.WaitOptions{Timeout: 30 * time.Second, Backoff: quick}); err != nil {
		t.Fatal(err)
	}
	insp, err := env.Client.ContainerInspect(ctx, db.ID, mclient.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []string{"POSTGRES_DB=" + strings.ReplaceAll(spec.App, "-", "_"), "POSTGRES_PASSWORD=pw"} {
		if !slices.Contains(insp.Container.Config.Env, kv) {
			t.Errorf("env %v lacks %s", insp.Container.Config.Env, kv)
		}
	}
	if m := insp.Container.Mounts; len(m) != 1 || m[0].Destination != "/var/lib/postgresql/data" {
		t.Errorf("mounts = %+v", m)
	}
}

// TestDocker_WaitDatabase_failures: a database that never greets times out
// with its logs; one that stopped fails at once with its exit code.
func TestDocker_WaitDatabase_failures(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	img := env.TestAppImage("FAKE_MYSQL_PORT=3306")
	db, err := d.EnsureDatabase(ctx, runtime.DatabaseSpec{App: env.Name("dbfail"), Kind: runtime.MySQL, Image: img, Password: "pw", Labels: env.Labels()})
	if err != nil {
		t.Fatal(err)
	}
	silent := func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no route to the test's database")
	}
	start := time.Now()
	err = d.WaitDatabase(ctx, db, runtime.WaitOptions{Timeout: 2 * time.Second, Backoff: quick, Dial: silent})
	var we *runtime.WaitError
	if !errors.As(err, &we) || we.Exited || !strings.Contains(we.Reason, "timed out after 2s") {
		t.Fatalf("err = %v, want a timeout WaitError", err)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("a 2s wait took %v", time.Since(start))
	}
	if !strings.Contains(err.Error(), "no route to the test's database") || !strings.Contains(err.Error(), "fake mysql listening on :3306") {
		t.Errorf("error lacks the last failure or the log lines: %v", err)
	}

	if err := d.Stop(ctx, db.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	err = d.WaitDatabase(ctx, db, runtime.WaitOptions{Timeout: time.Minute, Backoff: quick})
	if !errors.As(err, &we) || !we.Exited || we.ExitCode != 0 {
		t.Fatalf("err = %v, want an exited WaitError with code 0 (stopped by SIGTERM, testapp exits cleanly)", err)
	}
	if !slices.Contains(we.Logs, "shutting down") {
		t.Errorf("logs = %q, want the shutdown line", we.Logs)
	}
}

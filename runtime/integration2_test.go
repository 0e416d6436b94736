package runtime_test

import (
	"database/sql"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/kajhq/kaj/runtime"
	"github.com/moby/moby/api/types/container"
	mclient "github.com/moby/moby/client"
)

// TestDocker_MariaDB_dataSurvivesContainer writes a row into a real
// MariaDB, removes and recreates the database container on the same
// volume, and reads the row back.
func TestDocker_MariaDB_dataSurvivesContainer(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	spec := runtime.DatabaseSpec{
		App:      env.Name("maria"),
		Kind:     runtime.MariaDB,
		Image:    env.MariaDBImage(),
		Password: runtime.GeneratePassword() + `'"\ @:/`, // quotes reach the server's SQL intact
		Labels:   env.Labels(),
	}
	open := func(db runtime.Container) *sql.DB {
		t.Helper()
		if err := d.WaitDatabase(ctx, db, runtime.WaitOptions{Timeout: 2 * time.Minute, Backoff: quick}); err != nil {
			t.Fatal(err)
		}
		cfg := mysql.NewConfig()
		cfg.User = strings.ReplaceAll(spec.App, "-", "_")
		cfg.Passwd = spec.Password
		cfg.Net = "tcp"
		cfg.Addr = net.JoinHostPort(db.IP.String(), "3306")
		cfg.DBName = cfg.User
		conn, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}

	db1, err := d.EnsureDatabase(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	c1 := open(db1)
	if _, err := c1.ExecContext(ctx, "CREATE TABLE post (id INT PRIMARY KEY, body TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.ExecContext(ctx, "INSERT INTO post VALUES (1, 'hello from the first container')"); err != nil {
		t.Fatal(err)
	}
	c1.Close()

	if err := d.Remove(ctx, db1.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.ContainerInspect(ctx, db1.ID, mclient.ContainerInspectOptions{}); err == nil {
		t.Fatal("the first database container survived Remove")
	}
	db2, err := d.EnsureDatabase(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if db2.ID == db1.ID {
		t.Fatal("EnsureDatabase returned the removed container")
	}
	var body string
	if err := open(db2).QueryRowContext(ctx, "SELECT body FROM post WHERE id = 1").Scan(&body); err != nil {
		t.Fatalf("reading the row back from the new container: %v", err)
	}
	if body != "hello from the first container" {
		t.Fatalf("row = %q", body)
	}

	if err := d.Remove(ctx, db2.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.VolumeInspect(ctx, "kaj-"+spec.App+"-data", mclient.VolumeInspectOptions{}); err == nil {
		t.Fatal("the volume survived Remove with deleteData")
	}
}

// TestDocker_Replace: a broken new version leaves the old one serving; a
// good one takes over and the old one goes.
func TestDocker_Replace(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	img := env.TestAppImage()
	app := env.Name("repl")
	health := runtime.HealthOptions{Path: "/healthz", Timeout: 30 * time.Second, Backoff: quick}
	// No restart policy, so a crash stays a crash the test can read.
	base := func(release string, vars map[string]string) runtime.AppSpec {
		return runtime.AppSpec{App: app, Release: release, Image: img, Port: 8080, Env: vars, Restart: runtime.RestartNo, Labels: env.Labels()}
	}

	v1, err := d.Replace(ctx, runtime.Container{}, base("1", map[string]string{"VERSION": "one"}), health)
	if err != nil {
		t.Fatal(err)
	}
	serves := func(c runtime.Container, version string) {
		t.Helper()
		code, body := get(t, c, "/env")
		if code != 200 || !strings.Contains(body, `"VERSION":"`+version+`"`) {
			t.Fatalf("%s: %d %s; want version %s serving", c.Name, code, body, version)
		}
	}
	serves(v1, "one")
	only := func(want ...string) {
		t.Helper()
		st, err := d.List(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range st {
			got = append(got, s.ID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("containers of the app: %v, want %v", got, want)
		}
	}

	t.Run("failing health check", func(t *testing.T) {
		h := health
		h.Timeout = 2 * time.Second
		_, err := d.Replace(ctx, v1, base("2", map[string]string{"VERSION": "two", "HEALTH_STATUS": "500"}), h)
		var we *runtime.WaitError
		if !errors.As(err, &we) || we.Exited || !strings.Contains(err.Error(), "500") {
			t.Fatalf("err = %v, want a timed-out WaitError naming the 500", err)
		}
		serves(v1, "one")
		only(v1.ID)
	})
	t.Run("crashing", func(t *testing.T) {
		_, err := d.Replace(ctx, v1, base("3", map[string]string{"VERSION": "three", "HEALTH_STATUS": "503", "EXIT_AFTER": "300ms", "EXIT_CODE": "7"}), health)
		var we *runtime.WaitError
		if !errors.As(err, &we) || !we.Exited || we.ExitCode != 7 {
			t.Fatalf("err = %v, want an exit with code 7", err)
		}
		if !strings.Contains(strings.Join(we.Logs, "\n"), "stderr: exiting on purpose with code 7") {
			t.Errorf("logs = %q, want the app's last words", we.Logs)
		}
		serves(v1, "one")
		only(v1.ID)
	})
	t.Run("fixed host port held by the old one", func(t *testing.T) {
		s := base("4", nil)
		s.HostPort = int(v1.HostPort.Port())
		if _, err := d.Replace(ctx, v1, s, health); !errors.Is(err, runtime.ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		serves(v1, "one")
	})
	t.Run("healthy", func(t *testing.T) {
		v5, err := d.Replace(ctx, v1, base("5", map[string]string{"VERSION": "five"}), health)
		if err != nil {
			t.Fatal(err)
		}
		serves(v5, "five")
		only(v5.ID)
	})
}

// TestDocker_WaitHealthy_imageHealthcheck: without a health path, the
// image's own HEALTHCHECK decides.
func TestDocker_WaitHealthy_imageHealthcheck(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	ref := healthcheckImage(t, env)
	app := env.Name("hc")
	for _, c := range []struct {
		status  string
		healthy bool
	}{{"200", true}, {"500", false}} {
		t.Run(c.status, func(t *testing.T) {
			web, err := d.StartApp(ctx, runtime.AppSpec{App: app, Release: "1", Image: ref, Env: map[string]string{"HEALTH_STATUS": c.status}, Labels: env.Labels()})
			if err != nil {
				t.Fatal(err)
			}
			err = d.WaitHealthy(ctx, web, runtime.HealthOptions{Timeout: 30 * time.Second, Backoff: quick})
			st, ierr := d.Inspect(ctx, web.ID)
			if ierr != nil {
				t.Fatal(ierr)
			}
			if c.healthy {
				if err != nil || st.Health != "healthy" || st.String() != "running (healthy)" {
					t.Fatalf("WaitHealthy = %v, status %q", err, st)
				}
				return
			}
			var we *runtime.WaitError
			if !errors.As(err, &we) || !strings.HasPrefix(we.Reason, "unhealthy") || !strings.Contains(we.Reason, "500") {
				t.Fatalf("err = %v, want an unhealthy WaitError with the check's output", err)
			}
			if st.Health != "unhealthy" {
				t.Errorf("health = %q", st.Health)
			}
		})
	}
}

// TestDocker_errorsTranslated: the engine's errors arrive as the
// package's sentinels, saying what was being done.
func TestDocker_errorsTranslated(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()

	_, err := d.StartApp(ctx, runtime.AppSpec{App: env.Name("noimg"), Release: "1", Image: "kaj-test-absent:" + env.ID, Labels: env.Labels()})
	if !errors.Is(err, runtime.ErrImageMissing) || !strings.Contains(err.Error(), "kaj-test-absent:"+env.ID) {
		t.Errorf("missing image: %v", err)
	}

	if _, err := d.Inspect(ctx, "kaj-no-such-container-"+env.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("missing container: %v", err)
	}

	// A network of kaj's name that kaj did not make is not reused.
	squatted := env.Name("squat")
	if _, err := env.Client.NetworkCreate(ctx, "kaj-"+squatted, mclient.NetworkCreateOptions{Labels: env.Labels()}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.EnsureNetwork(ctx, squatted, env.Labels()); !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("foreign network: %v", err)
	}

	off, err := runtime.NewDocker("unix:///nonexistent/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if _, err := off.Info(ctx); !errors.Is(err, runtime.ErrEngineUnreachable) {
		t.Errorf("no engine: %v", err)
	}
	if _, err := off.List(ctx, ""); !errors.Is(err, runtime.ErrEngineUnreachable) || !strings.Contains(err.Error(), "listing containers") {
		t.Errorf("no engine: %v", err)
	}
}

// TestDocker_Reconcile finds a planted orphan and never reports or
// touches a container kaj did not label.
func TestDocker_Reconcile(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	img := env.TestAppImage()
	live, orphan := env.Name("live"), env.Name("orphan")

	keep, err := d.StartApp(ctx, runtime.AppSpec{App: live, Release: "2", Image: img, Labels: env.Labels()})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := d.StartApp(ctx, runtime.AppSpec{App: live, Release: "1", Image: img, Labels: env.Labels()})
	if err != nil {
		t.Fatal(err)
	}
	planted, err := d.StartApp(ctx, runtime.AppSpec{App: orphan, Release: "1", Image: img, Labels: env.Labels()})
	if err != nil {
		t.Fatal(err)
	}
	// Looks like kaj's but lacks kaj.managed: a user's own container.
	foreign, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name:   env.Name("foreign"),
		Config: &container.Config{Image: img, Labels: env.WithLabels(map[string]string{"kaj.app": orphan, "kaj.role": "app", "kaj.release": "1"})},
	})
	if err != nil {
		t.Fatal(err)
	}

	known := func(app, release string) bool { return app == live && (release == "" || release == "2") }
	objs, err := d.Reconcile(ctx, known)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]runtime.Object{}
	for _, o := range objs {
		found[o.ID] = o
	}
	if o, ok := found[planted.ID]; !ok || o.Kind != runtime.KindContainer || o.App != orphan || o.Release != "1" || o.Name != planted.Name {
		t.Errorf("planted orphan: %+v, found %v", o, ok)
	}
	if _, ok := found[stale.ID]; !ok {
		t.Error("an unknown release of a known app was not reported")
	}
	for _, o := range objs {
		if o.Kind == runtime.KindNetwork && o.App == live {
			t.Errorf("the live app's network was reported: %+v", o)
		}
		if o.Kind == runtime.KindNetwork && o.Name == "kaj-"+orphan {
			found["network"] = o
		}
	}
	if _, ok := found["network"]; !ok {
		t.Error("the orphan's network was not reported")
	}
	if _, ok := found[keep.ID]; ok {
		t.Error("the live release was reported")
	}
	if _, ok := found[foreign.ID]; ok {
		t.Error("a container without kaj.managed was reported")
	}

	if err := d.RemoveObject(ctx, found[planted.ID]); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveObject(ctx, found["network"]); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveObject(ctx, runtime.Object{Kind: runtime.KindContainer, ID: foreign.ID}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("RemoveObject of a foreign container: %v, want ErrNotFound", err)
	}
	if err := d.Remove(ctx, foreign.ID, true); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Remove of a foreign container: %v, want ErrNotFound", err)
	}
	if err := d.RemoveApp(ctx, orphan, true); err != nil {
		t.Errorf("RemoveApp of the orphan: %v", err)
	}
	if _, err := env.Client.ContainerInspect(ctx, foreign.ID, mclient.ContainerInspectOptions{}); err != nil {
		t.Errorf("the foreign container was touched: %v", err)
	}
	if _, err := env.Client.ContainerInspect(ctx, planted.ID, mclient.ContainerInspectOptions{}); err == nil {
		t.Error("the orphan survived RemoveObject")
	}
}

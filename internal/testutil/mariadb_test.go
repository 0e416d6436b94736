package testutil

import (
	"context"
	"database/sql"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	mclient "github.com/moby/moby/client"
)

// TestEnv_MariaDBImage checks that the image's entrypoint honours the
// MYSQL_* variables as the official image does: on a fresh volume it
// creates the database, the user and a random root password it prints;
// on a used volume it keeps what is there; with no root password option it
// refuses to start.
func TestEnv_MariaDBImage(t *testing.T) {
	e := NewEnv(t)
	ref := e.MariaDBImage()
	ctx := e.Context()
	vol := e.Name("mariadb-data")
	if _, err := e.Client.VolumeCreate(ctx, mclient.VolumeCreateOptions{Name: vol, Labels: e.Labels()}); err != nil {
		t.Fatal(err)
	}
	const password = `pa'ss"wo\rd @ x`
	run := func(env ...string) (id string, ip string) {
		t.Helper()
		res, err := e.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
			Name:       e.Name("mariadb"),
			Config:     &container.Config{Image: ref, Env: env, Labels: e.Labels()},
			HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: vol, Target: "/var/lib/mysql"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Client.ContainerStart(ctx, res.ID, mclient.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		insp, err := e.Client.ContainerInspect(ctx, res.ID, mclient.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res.ID, insp.Container.NetworkSettings.Networks["bridge"].IPAddress.String()
	}
	connect := func(ip, user, pass, db string) *sql.DB {
		t.Helper()
		cfg := mysql.NewConfig()
		cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, pass, "tcp", net.JoinHostPort(ip, "3306"), db
		conn, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		deadline := time.Now().Add(2 * time.Minute)
		for {
			err := conn.PingContext(ctx)
			if err == nil {
				return conn
			}
			if time.Now().After(deadline) {
				t.Fatalf("connecting as %s: %v", user, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	logs := func(id string) string {
		rc, err := e.Client.ContainerLogs(ctx, id, mclient.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := rc.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				return b.String()
			}
		}
	}
	remove := func(id string) {
		if _, err := e.Client.ContainerRemove(ctx, id, mclient.ContainerRemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}

	id, ip := run("MYSQL_DATABASE=micro_blog", "MYSQL_USER=microblog", "MYSQL_PASSWORD="+password, "MYSQL_RANDOM_ROOT_PASSWORD=yes")
	app := connect(ip, "microblog", password, "micro_blog")
	if _, err := app.ExecContext(ctx, "CREATE TABLE kept (v TEXT)"); err != nil {
		t.Fatalf("the user cannot create tables in its database: %v", err)
	}
	if _, err := app.ExecContext(ctx, "INSERT INTO kept VALUES ('first start')"); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`GENERATED ROOT PASSWORD: (\S+)`).FindStringSubmatch(logs(id))
	if m == nil {
		t.Fatal("no generated root password in the log")
	}
	var version string
	if err := connect(ip, "root", m[1], "").QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(version, "10.11") {
		t.Errorf("version %q, want MariaDB 10.11", version)
	}
	if _, err := app.ExecContext(ctx, "CREATE DATABASE other"); err == nil {
		t.Error("the app user may create databases; it should own only its own")
	}
	remove(id)

	// A used volume is not initialised again: other settings are ignored
	// and the data stays.
	id, ip = run("MYSQL_DATABASE=ignored", "MYSQL_USER=ignored", "MYSQL_PASSWORD=ignored", "MYSQL_RANDOM_ROOT_PASSWORD=yes")
	var v string
	if err := connect(ip, "microblog", password, "micro_blog").QueryRowContext(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "first start" {
		t.Fatalf("data after a second start: %q, %v", v, err)
	}
	if strings.Contains(logs(id), "GENERATED ROOT PASSWORD") {
		t.Error("a used volume was initialised again")
	}
	remove(id)

	// Like the official image, refuse to initialise without a root
	// password option.
	fresh := e.Name("mariadb-fresh")
	res, err := e.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name:       fresh,
		Config:     &container.Config{Image: ref, Env: []string{"MYSQL_DATABASE=x"}, Labels: e.Labels()},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: fresh, Target: "/var/lib/mysql", VolumeOptions: &mount.VolumeOptions{Labels: e.Labels()}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ContainerStart(ctx, res.ID, mclient.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	w := e.Client.ContainerWait(wctx, res.ID, mclient.ContainerWaitOptions{})
	select {
	case r := <-w.Result:
		if r.StatusCode == 0 {
			t.Error("started without a root password option")
		}
	case err := <-w.Error:
		t.Fatal(err)
	}
	if !strings.Contains(logs(res.ID), "MYSQL_ROOT_PASSWORD") {
		t.Errorf("the refusal does not name the variables to set: %s", logs(res.ID))
	}
}

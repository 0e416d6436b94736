package runtime_test

import (
	"database/sql"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/kajhq/kaj/runtime"
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

package runtime_test

import (
	"database/sql"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/kajhq/kaj/runtime"
)

// startPostgres starts a real PostgreSQL (scripts/build-postgres-image) as
// app's database and waits until it answers its protocol.
func startPostgres(t *testing.T, d *runtime.Docker, spec runtime.DatabaseSpec) runtime.Container {
	t.Helper()
	ctx := t.Context()
	db, err := d.EnsureDatabase(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitDatabase(ctx, db, runtime.WaitOptions{Timeout: 2 * time.Minute, Backoff: quick}); err != nil {
		t.Fatal(err)
	}
	return db
}

func pgOpen(t *testing.T, db runtime.Container, user, password, name string) *sql.DB {
	t.Helper()
	dsn := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&connect_timeout=5", user, password, net.JoinHostPort(db.IP.String(), "5432"), name)
	conn, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestDocker_Postgres_realServer starts a real PostgreSQL with
// EnsureDatabase, checks that WaitDatabase's protocol probe says ready
// only when it is (the first query succeeds at once), that the server
// takes the official image's POSTGRES_* settings (user, database,
// password auth from another address), and that data survives a new
// container on the same volume.
func TestDocker_Postgres_realServer(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	spec := runtime.DatabaseSpec{
		App:      env.Name("pg"),
		Kind:     runtime.Postgres,
		Image:    env.PostgresImage(),
		Password: runtime.GeneratePassword() + `'"\ @:/`,
		Labels:   env.Labels(),
	}
	user := strings.ReplaceAll(spec.App, "-", "_")
	db1 := startPostgres(t, d, spec)

	c := pgOpen(t, db1, user, urlEscape(spec.Password), user)
	// No retry: WaitDatabase said the server accepts connections.
	if _, err := c.ExecContext(ctx, "CREATE TABLE post (id int PRIMARY KEY, body text)"); err != nil {
		t.Fatalf("first statement after WaitDatabase: %v", err)
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO post VALUES (1, 'hello from postgres')"); err != nil {
		t.Fatal(err)
	}
	var current string
	if err := c.QueryRowContext(ctx, "SELECT current_database()").Scan(&current); err != nil || current != user {
		t.Fatalf("current_database() = %q, %v; want %q (POSTGRES_DB)", current, err, user)
	}
	c.Close()

	bad := pgOpen(t, db1, user, "wrong-password", user)
	if err := bad.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("a wrong password was not refused by password auth: %v", err)
	}

	if err := d.Remove(ctx, db1.ID, false); err != nil {
		t.Fatal(err)
	}
	db2 := startPostgres(t, d, spec)
	var body string
	if err := pgOpen(t, db2, user, urlEscape(spec.Password), user).QueryRowContext(ctx, "SELECT body FROM post WHERE id = 1").Scan(&body); err != nil || body != "hello from postgres" {
		t.Fatalf("row after a new container on the same volume = %q, %v", body, err)
	}
}

func urlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

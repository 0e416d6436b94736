// Package testdb gives tests a migrated, empty store.
//
// By default it is an SQLite file in the test's temporary directory. Set
// MICROBLOG_TEST_DATABASE_URL (a DATABASE_URL) to run the same tests
// against MySQL, MariaDB or PostgreSQL instead. Each test then gets a
// database of its own on that server, created empty and dropped when the
// test ends, so packages tested at the same time never share tables and
// "go test ./..." needs no -p 1.
//
// The URL names an existing database and an account that may create and
// drop databases (root, a MySQL user with CREATE and DROP on *.*, or a
// PostgreSQL role with CREATEDB). The account connects to that database
// to create the others, which are named after it: microblog_test gives
// microblog_test_1f2e3d4c.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/kajhq/kaj/microblog/dburl"
	"github.com/kajhq/kaj/microblog/store"
)

// EnvURL names the variable that selects an external test database.
const EnvURL = "MICROBLOG_TEST_DATABASE_URL"

// Target returns the database the test should use: a fresh SQLite file,
// or a fresh database on the server EnvURL names.
func Target(t testing.TB) dburl.Target {
	t.Helper()
	raw := os.Getenv(EnvURL)
	if raw == "" {
		return dburl.SQLitePath(filepath.Join(t.TempDir(), "app.db"))
	}
	server, err := dburl.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	if server.Dialect == dburl.SQLite {
		t.Fatalf("%s: name a MySQL, MariaDB or PostgreSQL server; SQLite is what the tests use without it", EnvURL)
	}
	return fresh(t, server)
}

// Open returns a migrated store with no rows, closed when the test ends.
func Open(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(Target(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	return st
}

// plainName is what a database name may be made of here: no quoting
// rules differ between the dialects for these characters.
var plainName = regexp.MustCompile(`^[A-Za-z0-9_]{1,40}$`)

// fresh creates an empty database for t on server's host and drops it
// when t ends (after the store, registered later, is closed).
func fresh(t testing.TB, server dburl.Target) dburl.Target {
	t.Helper()
	base, err := databaseOf(server)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	if !plainName.MatchString(base) {
		base = "microblog_test"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.ToLower(base) + "_" + hex.EncodeToString(b)
	target, err := withDatabase(server, name)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	if err := admin(server, "CREATE DATABASE "+quote(server.Dialect, name)); err != nil {
		t.Fatalf("creating the test database %s on %s (the account needs the right to create databases): %v", name, server.Display, err)
	}
	t.Cleanup(func() {
		if err := admin(server, "DROP DATABASE IF EXISTS "+quote(server.Dialect, name)); err != nil {
			t.Errorf("dropping the test database %s: %v", name, err)
		}
	})
	return target
}

// admin runs one statement on the server's own database.
func admin(server dburl.Target, stmt string) error {
	db, err := sql.Open(server.Driver, server.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// databaseOf returns the database server's DSN names.
func databaseOf(server dburl.Target) (string, error) {
	switch server.Dialect {
	case dburl.MySQL:
		cfg, err := mysql.ParseDSN(server.DSN)
		if err != nil {
			return "", err
		}
		return cfg.DBName, nil
	case dburl.Postgres:
		u, err := url.Parse(server.DSN)
		if err != nil {
			return "", fmt.Errorf("reading the postgres URL: %w", err)
		}
		return strings.TrimPrefix(u.Path, "/"), nil
	}
	return "", fmt.Errorf("unsupported dialect %q", server.Dialect)
}

// withDatabase returns server's target with another database name.
func withDatabase(server dburl.Target, name string) (dburl.Target, error) {
	out := server
	out.Display = server.Display + " (test database " + name + ")"
	switch server.Dialect {
	case dburl.MySQL:
		cfg, err := mysql.ParseDSN(server.DSN)
		if err != nil {
			return dburl.Target{}, err
		}
		cfg.DBName = name
		out.DSN = cfg.FormatDSN()
	case dburl.Postgres:
		u, err := url.Parse(server.DSN)
		if err != nil {
			return dburl.Target{}, fmt.Errorf("reading the postgres URL: %w", err)
		}
		u.Path = "/" + name
		out.DSN = u.String()
	default:
		return dburl.Target{}, fmt.Errorf("unsupported dialect %q", server.Dialect)
	}
	return out, nil
}

func quote(dialect, name string) string {
	if dialect == dburl.MySQL {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

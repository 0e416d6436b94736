// Package testdb gives tests a migrated, empty store.
//
// By default it is an SQLite file in the test's temporary directory. Set
// MICROBLOG_TEST_DATABASE_URL (a DATABASE_URL) to run the same tests
// against MySQL, MariaDB or PostgreSQL; the tables are emptied before
// each test, so point it at a database used for nothing else, and run
// one package at a time (go test -p 1): packages share the tables.
package testdb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/kajhq/kaj/microblog/dburl"
	"github.com/kajhq/kaj/microblog/store"
)

// EnvURL names the variable that selects an external test database.
const EnvURL = "MICROBLOG_TEST_DATABASE_URL"

// Target returns the database the tests should use.
func Target(t testing.TB) dburl.Target {
	t.Helper()
	if raw := os.Getenv(EnvURL); raw != "" {
		target, err := dburl.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", EnvURL, err)
		}
		return target
	}
	return dburl.SQLitePath(filepath.Join(t.TempDir(), "app.db"))
}

// Open returns a migrated store with no rows, closed when the test ends.
func Open(t testing.TB) *store.Store {
	t.Helper()
	target := Target(t)
	st, err := store.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	if target.Dialect != dburl.SQLite {
		empty(t, target)
	}
	return st
}

// empty deletes every row a previous test left in an external database.
func empty(t testing.TB, target dburl.Target) {
	t.Helper()
	db, err := sql.Open(target.Driver, target.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range []string{"followers", "posts", "users"} {
		if _, err := db.Exec("DELETE FROM " + table); err != nil {
			t.Fatalf("emptying %s: %v", table, err)
		}
	}
}

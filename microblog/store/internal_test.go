package store

import (
	"testing"

	"github.com/kajhq/kaj/microblog/dburl"
)

func TestStore_rebind(t *testing.T) {
	q := `SELECT a FROM t WHERE b = ? AND c IN (SELECT d FROM e WHERE f = ?) LIMIT ? OFFSET ?`
	pg := (&Store{dialect: dburl.Postgres}).rebind(q)
	if want := `SELECT a FROM t WHERE b = $1 AND c IN (SELECT d FROM e WHERE f = $2) LIMIT $3 OFFSET $4`; pg != want {
		t.Errorf("postgres:\n got %s\nwant %s", pg, want)
	}
	for _, d := range []string{dburl.MySQL, dburl.SQLite} {
		if got := (&Store{dialect: d}).rebind(q); got != q {
			t.Errorf("%s changed the query: %s", d, got)
		}
	}
}

func TestMigrations_everyDialect(t *testing.T) {
	for i, m := range migrations {
		if m.version != i+1 {
			t.Errorf("migration %d has version %d; versions must run 1, 2, 3...", i, m.version)
		}
		for _, d := range []string{dburl.SQLite, dburl.MySQL, dburl.Postgres} {
			if len(m.stmts[d]) == 0 {
				t.Errorf("migration %d has no statements for %s", m.version, d)
			}
		}
	}
}

// Package store keeps Microblog's users, posts and follower links in an
// SQL database: SQLite, MySQL/MariaDB or PostgreSQL.
//
// Queries are written once with "?" placeholders and rebound for
// PostgreSQL; only the schema migrations and a few idempotent inserts differ
// per dialect. Times are stored as Unix microseconds in BIGINT columns, which
// every dialect and driver reads back the same way and which sort correctly.
//
// A Store is safe for concurrent use.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kajhq/kaj/microblog/dburl"

	// The drivers behind the dialects dburl can name.
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// Errors returned by the store. Match them with errors.Is.
var (
	// ErrNotFound: no user by that name or id.
	ErrNotFound = errors.New("not found")
	// ErrUsernameTaken: another user already has this username.
	ErrUsernameTaken = errors.New("username already taken")
	// ErrEmailTaken: another user already registered this email address.
	ErrEmailTaken = errors.New("email address already registered")
	// ErrFollowSelf: a user tried to follow themselves.
	ErrFollowSelf = errors.New("a user cannot follow themselves")
)

// Store is an open database.
type Store struct {
	db      *sql.DB
	dialect string
}

// Open prepares a connection pool to the database t names. It does not
// connect: the first query does, so a caller can retry while the database
// is still starting (see Migrate).
func Open(t dburl.Target) (*Store, error) {
	switch t.Dialect {
	case dburl.SQLite, dburl.MySQL, dburl.Postgres:
	default:
		return nil, fmt.Errorf("opening database: unknown dialect %q", t.Dialect)
	}
	db, err := sql.Open(t.Driver, t.DSN)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", t.Display, err)
	}
	// MySQL closes idle connections after wait_timeout (8 h by default) and
	// proxies often sooner; recycle them before that happens.
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetMaxOpenConns(16)
	return &Store{db: db, dialect: t.Dialect}, nil
}

// Close closes the connection pool. Calls after Close fail.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging database: %w", err)
	}
	return nil
}

// Dialect reports which SQL dialect the store speaks (a dburl constant).
func (s *Store) Dialect() string { return s.dialect }

// rebind rewrites "?" placeholders as "$1", "$2", ... for PostgreSQL. The
// store's queries have no "?" inside string literals.
func (s *Store) rebind(q string) string {
	if s.dialect != dburl.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.rebind(q), args...)
}

func toMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

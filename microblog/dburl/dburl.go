// Package dburl turns the DATABASE_URL a user sets into a database/sql
// driver name and data source name.
//
// It accepts the URL forms that twelve-factor apps are usually given,
// including the SQLAlchemy spellings of the original Microblog lesson:
//
//	mysql+pymysql://user:pass@host/db     MySQL or MariaDB, port 3306
//	mysql://user:pass@host:3306/db?tls=true
//	postgres://user:pass@host:5432/db?sslmode=disable  (also postgresql://)
//	sqlite:///relative/path.db, sqlite:////absolute/path.db
//
// A "+driver" suffix on the scheme names a Python driver and is ignored.
package dburl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Dialects a Target can speak. The store writes its SQL for each.
const (
	SQLite   = "sqlite"
	MySQL    = "mysql"
	Postgres = "postgres"
)

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid database URL")

// dialTimeout bounds one connection attempt, so that a boot that waits for
// the database retries at its own pace instead of hanging on a dead host.
const dialTimeout = 5 * time.Second

// Target says how to reach one database.
type Target struct {
	// Dialect is SQLite, MySQL or Postgres.
	Dialect string
	// Driver is the database/sql driver name: "sqlite", "mysql" or "pgx".
	// The caller imports the driver package.
	Driver string
	// DSN is the driver's data source name. It may hold a password.
	DSN string
	// Display names the database without its password, for logs.
	Display string
}

// Parse reads a DATABASE_URL. The error wraps ErrInvalid and says what is
// wrong with the URL; it never repeats the password.
func Parse(raw string) (Target, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Target{}, fmt.Errorf("%w: it is empty", ErrInvalid)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's own message quotes the whole URL, password included.
		return Target{}, fmt.Errorf("%w: it is not a URL of the form scheme://user:password@host/database (percent-encode special characters in the password, e.g. / as %%2F, ? as %%3F, # as %%23)", ErrInvalid)
	}
	scheme, _, _ := strings.Cut(strings.ToLower(u.Scheme), "+")
	switch scheme {
	case "mysql", "mariadb":
		return parseMySQL(u)
	case "postgres", "postgresql":
		return parsePostgres(u)
	case "sqlite", "sqlite3":
		return parseSQLite(u)
	case "":
		return Target{}, fmt.Errorf("%w: no scheme; start it with mysql://, postgres:// or sqlite:///", ErrInvalid)
	default:
		return Target{}, fmt.Errorf("%w: unsupported scheme %q; use mysql://, mysql+pymysql://, postgres:// or sqlite:///", ErrInvalid, u.Scheme)
	}
}

// SQLitePath returns the Target of an SQLite file at path, created on first use.
func SQLitePath(path string) Target {
	q := url.Values{}
	// Foreign keys are off by default in SQLite. WAL lets the health check
	// read while a request writes; the busy timeout makes writers queue
	// instead of failing with "database is locked".
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Set("_txlock", "immediate")
	return Target{
		Dialect: SQLite,
		Driver:  "sqlite",
		DSN:     "file:" + path + "?" + q.Encode(),
		Display: "sqlite:" + path,
	}
}

func parseMySQL(u *url.URL) (Target, error) {
	if u.Opaque != "" || u.Host == "" {
		return Target{}, fmt.Errorf("%w: no host; write mysql://user:password@host/database", ErrInvalid)
	}
	host := u.Hostname()
	port := u.Port()
	if host == "" {
		return Target{}, fmt.Errorf("%w: no host; write mysql://user:password@host/database", ErrInvalid)
	}
	if port == "" {
		port = "3306"
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return Target{}, fmt.Errorf("%w: no database name; write mysql://user:password@host/database", ErrInvalid)
	}
	if u.User == nil || u.User.Username() == "" {
		return Target{}, fmt.Errorf("%w: no user; write mysql://user:password@host/database", ErrInvalid)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(host, port)
	cfg.DBName = db
	cfg.Timeout = dialTimeout
	dsn := cfg.FormatDSN()
	if q := u.Query(); len(q) > 0 {
		// The driver knows its own parameters (tls, charset, ...) best:
		// hand them over and let its parser judge them.
		sep := "?"
		if strings.Contains(dsn[strings.LastIndexByte(dsn, '/'):], "?") {
			sep = "&"
		}
		dsn += sep + q.Encode()
	}
	parsed, err := mysql.ParseDSN(dsn)
	if err != nil {
		return Target{}, fmt.Errorf("%w: mysql parameters: %v", ErrInvalid, redactErr(err, cfg.Passwd))
	}
	return Target{Dialect: MySQL, Driver: "mysql", DSN: parsed.FormatDSN(), Display: u.Redacted()}, nil
}

func parsePostgres(u *url.URL) (Target, error) {
	if u.Opaque != "" || u.Host == "" {
		return Target{}, fmt.Errorf("%w: no host; write postgres://user:password@host/database", ErrInvalid)
	}
	if strings.TrimPrefix(u.Path, "/") == "" {
		return Target{}, fmt.Errorf("%w: no database name; write postgres://user:password@host/database", ErrInvalid)
	}
	// pgx reads only postgres:// and postgresql://; drop any "+driver".
	c := *u
	c.Scheme = "postgres"
	q := c.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", fmt.Sprint(int(dialTimeout/time.Second)))
		c.RawQuery = q.Encode()
	}
	dsn := c.String()
	if _, err := pgx.ParseConfig(dsn); err != nil {
		pass, _ := u.User.Password()
		return Target{}, fmt.Errorf("%w: postgres parameters: %v", ErrInvalid, redactErr(err, pass))
	}
	return Target{Dialect: Postgres, Driver: "pgx", DSN: dsn, Display: u.Redacted()}, nil
}

func parseSQLite(u *url.URL) (Target, error) {
	// SQLAlchemy: sqlite:///relative.db and sqlite:////abs/path.db; the
	// first slash after the empty host separates it from the path.
	if u.Host != "" {
		return Target{}, fmt.Errorf("%w: an sqlite URL has no host; write sqlite:///relative/path.db or sqlite:////absolute/path.db", ErrInvalid)
	}
	path := strings.TrimPrefix(u.Path, "/")
	if path == "" || path == ":memory:" {
		return Target{}, fmt.Errorf("%w: an sqlite URL needs a file path, e.g. sqlite:///app.db", ErrInvalid)
	}
	return SQLitePath(path), nil
}

// redactErr returns err's text without the password, which some parsers
// quote back.
func redactErr(err error, password string) string {
	msg := err.Error()
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "xxxxx")
	}
	return msg
}

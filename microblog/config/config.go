// Package config reads Microblog's settings from the environment, the only
// place they come from: one image serves every installation, and secrets
// are passed at run time (docker run -e), never baked in.
//
//	SECRET_KEY           signs session cookies; random per start if unset
//	DATABASE_URL         mysql+pymysql://, mysql://, postgres:// or sqlite:/// URL
//	SQLITE_PATH          SQLite file when DATABASE_URL is unset (default app.db)
//	LOG_TO_STDOUT        application log to stdout instead of stderr
//	PORT                 HTTP port (default 5000)
//	MIGRATE_RETRIES      retries of the schema upgrade at boot (default 60)
//	MIGRATE_RETRY_DELAY  pause between them, "5s" or seconds (default 5s)
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kajhq/kaj/microblog/dburl"
	"github.com/kajhq/kaj/microblog/session"
)

// Defaults. Sixty retries five seconds apart give a database five minutes
// to come up, which covers a first MySQL start initialising its data dir.
const (
	DefaultPort              = 5000
	DefaultSQLitePath        = "app.db"
	DefaultMigrateRetries    = 60
	DefaultMigrateRetryDelay = 5 * time.Second
	// MinSecretKeyLen matches what the session codec accepts.
	MinSecretKeyLen = 8
)

// Config is the program's settings.
type Config struct {
	// SecretKey signs session cookies.
	SecretKey string
	// SecretKeyGenerated says SECRET_KEY was unset and SecretKey is random:
	// sessions will not survive a restart nor be shared between instances.
	SecretKeyGenerated bool
	Database           dburl.Target
	// LogToStdout sends the application log to stdout, next to the access
	// log, instead of stderr.
	LogToStdout bool
	Port        int
	// MigrateRetries is how many times a failed schema upgrade is retried
	// at boot; 0 gives up at the first failure.
	MigrateRetries    int
	MigrateRetryDelay time.Duration
}

// FromEnv reads the settings through getenv (os.Getenv in production). Its
// error names the variable that is wrong and how to fix it.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{SecretKey: getenv("SECRET_KEY")}
	switch {
	case c.SecretKey == "":
		c.SecretKey, c.SecretKeyGenerated = session.Token(), true
	case len(c.SecretKey) < MinSecretKeyLen:
		return Config{}, fmt.Errorf("SECRET_KEY is %d characters; use at least %d, e.g. the output of: openssl rand -hex 32",
			len(c.SecretKey), MinSecretKeyLen)
	}

	if raw := getenv("DATABASE_URL"); strings.TrimSpace(raw) != "" {
		t, err := dburl.Parse(raw)
		if err != nil {
			return Config{}, fmt.Errorf("DATABASE_URL: %w", err)
		}
		c.Database = t
	} else {
		path := getenv("SQLITE_PATH")
		if path == "" {
			path = DefaultSQLitePath
		}
		c.Database = dburl.SQLitePath(path)
	}

	c.LogToStdout = parseBool(getenv("LOG_TO_STDOUT"))
	var err error
	if c.Port, err = PortFromEnv(getenv); err != nil {
		return Config{}, err
	}
	c.MigrateRetries = DefaultMigrateRetries
	if v := getenv("MIGRATE_RETRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Config{}, fmt.Errorf("MIGRATE_RETRIES is %q; use a whole number, 0 or more", v)
		}
		c.MigrateRetries = n
	}
	c.MigrateRetryDelay = DefaultMigrateRetryDelay
	if v := getenv("MIGRATE_RETRY_DELAY"); v != "" {
		d, err := parseDelay(v)
		if err != nil {
			return Config{}, fmt.Errorf("MIGRATE_RETRY_DELAY is %q; use seconds (5) or a duration (5s, 500ms)", v)
		}
		c.MigrateRetryDelay = d
	}
	return c, nil
}

// PortFromEnv reads PORT, DefaultPort if unset.
func PortFromEnv(getenv func(string) string) (int, error) {
	v := getenv("PORT")
	if v == "" {
		return DefaultPort, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("PORT is %q; use a port number from 1 to 65535", v)
	}
	return n, nil
}

// parseBool reads a flag the way the lesson's Python does, where any
// non-empty value is true, except that the usual spellings of false are
// false.
func parseBool(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "no", "off":
		return false
	}
	return true
}

func parseDelay(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("not a duration")
	}
	return d, nil
}

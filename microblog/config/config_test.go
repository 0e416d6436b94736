package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/microblog/config"
	"github.com/kajhq/kaj/microblog/dburl"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnv_defaults(t *testing.T) {
	c, err := config.FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.SecretKeyGenerated || len(c.SecretKey) < config.MinSecretKeyLen {
		t.Errorf("no SECRET_KEY: generated %v, key length %d", c.SecretKeyGenerated, len(c.SecretKey))
	}
	if c2, _ := config.FromEnv(env(nil)); c2.SecretKey == c.SecretKey {
		t.Error("two starts generated the same key")
	}
	if c.Database.Dialect != dburl.SQLite || c.Database.Display != "sqlite:app.db" {
		t.Errorf("database %+v, want SQLite at app.db", c.Database)
	}
	if c.Port != 5000 || c.LogToStdout || c.MigrateRetries != 60 || c.MigrateRetryDelay != 5*time.Second {
		t.Errorf("defaults: %+v", c)
	}
}

func TestFromEnv_set(t *testing.T) {
	c, err := config.FromEnv(env(map[string]string{
		"SECRET_KEY":          "correct horse battery staple",
		"DATABASE_URL":        "mysql+pymysql://microblog:pw@dbserver/microblog",
		"SQLITE_PATH":         "/ignored.db",
		"LOG_TO_STDOUT":       "1",
		"PORT":                "8080",
		"MIGRATE_RETRIES":     "0",
		"MIGRATE_RETRY_DELAY": "250ms",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretKey != "correct horse battery staple" || c.SecretKeyGenerated {
		t.Errorf("secret key %q generated %v", c.SecretKey, c.SecretKeyGenerated)
	}
	if c.Database.Dialect != dburl.MySQL || !strings.Contains(c.Database.DSN, "tcp(dbserver:3306)/microblog") {
		t.Errorf("database %+v", c.Database)
	}
	if !c.LogToStdout || c.Port != 8080 || c.MigrateRetries != 0 || c.MigrateRetryDelay != 250*time.Millisecond {
		t.Errorf("settings: %+v", c)
	}

	c, err = config.FromEnv(env(map[string]string{"SQLITE_PATH": "/data/app.db", "MIGRATE_RETRY_DELAY": "2", "LOG_TO_STDOUT": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.Display != "sqlite:/data/app.db" || c.MigrateRetryDelay != 2*time.Second || c.LogToStdout {
		t.Errorf("settings: %+v", c)
	}
}

func TestFromEnv_refuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		says string
	}{
		{"short secret", map[string]string{"SECRET_KEY": "abc"}, "SECRET_KEY"},
		{"unparseable database URL", map[string]string{"DATABASE_URL": "mysql:/dbserver"}, "DATABASE_URL"},
		{"unknown database", map[string]string{"DATABASE_URL": "mongodb://db/app"}, "unsupported scheme"},
		{"port not a number", map[string]string{"PORT": "http"}, "PORT"},
		{"port out of range", map[string]string{"PORT": "70000"}, "PORT"},
		{"negative retries", map[string]string{"MIGRATE_RETRIES": "-1"}, "MIGRATE_RETRIES"},
		{"bad delay", map[string]string{"MIGRATE_RETRY_DELAY": "soon"}, "MIGRATE_RETRY_DELAY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.FromEnv(env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %v, want one naming %s", err, tc.says)
			}
		})
	}
}

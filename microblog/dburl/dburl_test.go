package dburl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/kajhq/kaj/microblog/dburl"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, url       string
		dialect, driver string
		dsn             string // exact DSN, or "" to skip
		display         string
	}{
		{
			name: "lesson's pymysql URL", url: "mysql+pymysql://microblog:s3cret@dbserver/microblog",
			dialect: dburl.MySQL, driver: "mysql",
			dsn:     "microblog:s3cret@tcp(dbserver:3306)/microblog?timeout=5s",
			display: "mysql+pymysql://microblog:xxxxx@dbserver/microblog",
		},
		{
			name: "mysql with port", url: "mysql://u:p@10.0.0.5:3307/app",
			dialect: dburl.MySQL, driver: "mysql",
			dsn:     "u:p@tcp(10.0.0.5:3307)/app?timeout=5s",
			display: "mysql://u:xxxxx@10.0.0.5:3307/app",
		},
		{
			name: "mysql driver parameters pass through", url: "mysql://u:p@db/app?charset=utf8mb4&tls=skip-verify",
			dialect: dburl.MySQL, driver: "mysql",
			display: "mysql://u:xxxxx@db/app?charset=utf8mb4&tls=skip-verify",
		},
		{
			name: "mariadb scheme", url: "mariadb://u:p@db/app",
			dialect: dburl.MySQL, driver: "mysql",
			dsn: "u:p@tcp(db:3306)/app?timeout=5s",
		},
		{
			name: "mysql IPv6 host", url: "mysql://u:p@[::1]:3306/app",
			dialect: dburl.MySQL, driver: "mysql",
			dsn: "u:p@tcp([::1]:3306)/app?timeout=5s",
		},
		{
			name: "postgres", url: "postgres://u:p@db:5432/app?sslmode=disable",
			dialect: dburl.Postgres, driver: "pgx",
			dsn:     "postgres://u:p@db:5432/app?connect_timeout=5&sslmode=disable",
			display: "postgres://u:xxxxx@db:5432/app?sslmode=disable",
		},
		{
			name: "postgresql+psycopg2", url: "postgresql+psycopg2://u:p@db/app",
			dialect: dburl.Postgres, driver: "pgx",
			dsn: "postgres://u:p@db/app?connect_timeout=5",
		},
		{
			name: "postgres keeps its own timeout", url: "postgres://u:p@db/app?connect_timeout=20",
			dialect: dburl.Postgres, driver: "pgx",
			dsn: "postgres://u:p@db/app?connect_timeout=20",
		},
		{
			name: "sqlite relative", url: "sqlite:///app.db",
			dialect: dburl.SQLite, driver: "sqlite", display: "sqlite:app.db",
		},
		{
			name: "sqlite absolute", url: "sqlite:////data/app.db",
			dialect: dburl.SQLite, driver: "sqlite", display: "sqlite:/data/app.db",
		},
		{
			name: "scheme in capitals", url: "MYSQL://u:p@db/app",
			dialect: dburl.MySQL, driver: "mysql",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dburl.Parse(tc.url)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.url, err)
			}
			if got.Dialect != tc.dialect || got.Driver != tc.driver {
				t.Errorf("dialect %q driver %q, want %q %q", got.Dialect, got.Driver, tc.dialect, tc.driver)
			}
			if tc.dsn != "" && got.DSN != tc.dsn {
				t.Errorf("DSN\n got %s\nwant %s", got.DSN, tc.dsn)
			}
			if tc.display != "" && got.Display != tc.display {
				t.Errorf("Display = %s, want %s", got.Display, tc.display)
			}
			if strings.Contains(got.Display, ":p@") || strings.Contains(got.Display, "s3cret") {
				t.Errorf("Display shows the password: %s", got.Display)
			}
		})
	}
}

func TestParse_mysqlPasswordSurvives(t *testing.T) {
	// A password with every character the DSN format uses as a delimiter.
	got, err := dburl.Parse("mysql://u:p%40s%3As%2Fw%3Fo%28r%29d@db/app")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(got.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Passwd != "p@s:s/w?o(r)d" || cfg.User != "u" || cfg.Addr != "db:3306" || cfg.DBName != "app" {
		t.Errorf("driver reads user %q password %q addr %q db %q", cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName)
	}
	if params, _ := dburl.Parse("mysql://u:pw@db/app?charset=utf8mb4"); !strings.Contains(params.DSN, "charset=utf8mb4") {
		t.Errorf("charset dropped: %s", params.DSN)
	}
}

func TestParse_refuses(t *testing.T) {
	for _, tc := range []struct{ name, url, says string }{
		{"empty", "  ", "empty"},
		{"no scheme", "dbserver/microblog", "no scheme"},
		{"unknown scheme", "oracle://u:p@db/app", `unsupported scheme "oracle"`},
		{"mysql without host", "mysql:///app", "no host"},
		{"mysql without database", "mysql://u:p@db", "no database name"},
		{"mysql without user", "mysql://db/app", "no user"},
		{"mysql bad parameter", "mysql://u:p@db/app?timeout=forever", "mysql parameters"},
		{"unencoded slash in password", "mysql://u:pa/ss@db/app", "percent-encode"},
		{"postgres without database", "postgres://u:p@db", "no database name"},
		{"postgres bad parameter", "postgres://u:p@db/app?sslmode=sometimes", "postgres parameters"},
		{"sqlite with host", "sqlite://host/app.db", "no host"},
		{"sqlite in memory", "sqlite:///:memory:", "file path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dburl.Parse(tc.url)
			if !errors.Is(err, dburl.ErrInvalid) {
				t.Fatalf("Parse(%q) = %v, want ErrInvalid", tc.url, err)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			if strings.Contains(err.Error(), "pa/ss") {
				t.Errorf("error repeats the password: %q", err)
			}
		})
	}
}

func TestSQLitePath(t *testing.T) {
	got := dburl.SQLitePath("/data/app.db")
	if got.Dialect != dburl.SQLite || got.Driver != "sqlite" || !strings.HasPrefix(got.DSN, "file:/data/app.db?") {
		t.Errorf("SQLitePath = %+v", got)
	}
	for _, pragma := range []string{"foreign_keys", "journal_mode", "busy_timeout"} {
		if !strings.Contains(got.DSN, pragma) {
			t.Errorf("DSN %s lacks %s", got.DSN, pragma)
		}
	}
}

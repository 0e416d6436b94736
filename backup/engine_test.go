package backup

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
	mclient "github.com/moby/moby/client"
)

var quick = runtime.Backoff{Initial: 20 * time.Millisecond, Max: 250 * time.Millisecond}

// testDB is a real database server started for one test, as an app's
// database, and kaj's handles on it.
type testDB struct {
	env    *testutil.Env
	rt     *runtime.Docker
	db     Database
	spec   runtime.DatabaseSpec
	sql    *sql.DB
	engine *Engine
}

// kinds are the servers the engine tests run against: a real MariaDB and
// a real PostgreSQL, built from Debian's packages by scripts/.
var kinds = []runtime.DatabaseKind{runtime.MariaDB, runtime.Postgres}

// startDB starts a kind server as the database of a new app and connects
// to it. Everything it creates carries the test's label and is removed
// at the test's end.
func startDB(t testing.TB, kind runtime.DatabaseKind, opts Options) *testDB {
	t.Helper()
	env := testutil.NewEnv(t)
	rt, err := runtime.NewDocker("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	image := env.PostgresImage()
	if kind != runtime.Postgres {
		image = env.MariaDBImage()
	}
	ctx := context.Background()
	spec := runtime.DatabaseSpec{
		App: env.Name("bk-" + string(kind)), Kind: kind, Image: image,
		Password: runtime.GeneratePassword() + `'"\ $@:/`, Labels: env.Labels(),
	}
	c, err := rt.EnsureDatabase(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.WaitDatabase(ctx, c, runtime.WaitOptions{Timeout: 3 * time.Minute, Backoff: quick}); err != nil {
		t.Fatal(err)
	}
	name := strings.ReplaceAll(spec.App, "-", "_")
	db := Database{App: spec.App, Container: c.ID, Kind: kind, Image: image, Name: name, User: name, Password: spec.Password}

	var conn *sql.DB
	if kind == runtime.Postgres {
		conn, err = sql.Open("pgx", fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", name, pctEncode(spec.Password), net.JoinHostPort(c.IP.String(), "5432"), name))
	} else {
		cfg := mysql.NewConfig()
		cfg.User, cfg.Passwd, cfg.Net, cfg.DBName = name, spec.Password, "tcp", name
		cfg.Addr = net.JoinHostPort(c.IP.String(), "3306")
		cfg.MultiStatements = true
		conn, err = sql.Open("mysql", cfg.FormatDSN())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	opts.Labels = env.Labels()
	opts.Wait = runtime.WaitOptions{Timeout: 3 * time.Minute, Backoff: quick}
	eng, err := New(rt, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return &testDB{env: env, rt: rt, db: db, spec: spec, sql: conn, engine: eng}
}

// table is how a table's name reads in the records of kind.
func table(kind runtime.DatabaseKind, name string) string {
	if kind == runtime.Postgres {
		return "public." + name
	}
	return name
}

// seed creates the tables post (rows rows, with bodies that need quoting)
// and tag (empty).
func (tdb *testDB) seed(t testing.TB, rows int) {
	t.Helper()
	ctx := context.Background()
	blob := "bytea"
	if tdb.db.Kind != runtime.Postgres {
		blob = "longblob"
	}
	tdb.exec(t, "CREATE TABLE post (id int PRIMARY KEY, body text NOT NULL, raw "+blob+")")
	tdb.exec(t, "CREATE TABLE tag (id int PRIMARY KEY, name varchar(40))")
	tx, err := tdb.sql.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ins := "INSERT INTO post VALUES (?, ?, ?)"
	if tdb.db.Kind == runtime.Postgres {
		ins = "INSERT INTO post VALUES ($1, $2, $3)"
	}
	for i := 1; i <= rows; i++ {
		body := fmt.Sprintf("post %d: it's a \"quoted\" (paren; \\ back\\slash\nnew line ünïcode ✓ %s", i, strings.Repeat("x", i%50))
		if _, err := tx.ExecContext(ctx, ins, i, body, []byte{0, byte(i), '\'', '\\', '\n', 0xff}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// A view, a routine and a trigger: the dump must carry them (and
	// the app's own account must be allowed to dump them), and a view is
	// not a table to count.
	tdb.exec(t, "CREATE VIEW recent AS SELECT id, body FROM post WHERE id > 10")
	if tdb.db.Kind == runtime.Postgres {
		tdb.exec(t, "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := lower(NEW.name); RETURN NEW; END $$")
		tdb.exec(t, "CREATE TRIGGER tag_lower BEFORE INSERT ON tag FOR EACH ROW EXECUTE FUNCTION touch()")
	} else {
		tdb.exec(t, "CREATE PROCEDURE post_count(OUT n INT) SELECT COUNT(*) INTO n FROM post")
		tdb.exec(t, "CREATE TRIGGER tag_lower BEFORE INSERT ON tag FOR EACH ROW SET NEW.name = LOWER(NEW.name)")
	}
}

func (tdb *testDB) exec(t testing.TB, q string) {
	t.Helper()
	if _, err := tdb.sql.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// fingerprint is a checksum of post's rows, in id order.
func (tdb *testDB) fingerprint(t testing.TB) (string, int) {
	t.Helper()
	rows, err := tdb.sql.QueryContext(context.Background(), "SELECT id, body, raw FROM post ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	h := sha256.New()
	n := 0
	for rows.Next() {
		var id int
		var body string
		var raw []byte
		if err := rows.Scan(&id, &body, &raw); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%d|%q|%x\n", id, body, raw)
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// files lists the files under dir, relative to it.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// assertNoThrowaways fails when a verification left a container, network
// or volume behind.
func assertNoThrowaways(t testing.TB, env *testutil.Env) {
	t.Helper()
	ctx := context.Background()
	f := mclient.Filters{}.Add("label", testutil.Label+"="+env.ID).Add("label", LabelBackup+"=verify")
	cs, err := env.Client.ContainerList(ctx, mclient.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := env.Client.NetworkList(ctx, mclient.NetworkListOptions{Filters: f})
	vs, _ := env.Client.VolumeList(ctx, mclient.VolumeListOptions{Filters: f})
	if len(cs.Items)+len(ns.Items)+len(vs.Items) > 0 {
		t.Fatalf("a verification left %d containers, %d networks, %d volumes", len(cs.Items), len(ns.Items), len(vs.Items))
	}
}

func pctEncode(s string) string {
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

func sha256File(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

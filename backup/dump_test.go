package backup

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// TestEngine_backupVerifyRestore is a backup's whole life on a real
// MariaDB and a real PostgreSQL: rows written, a backup taken (file,
// size, checksum, tables and counts recorded), verified in a throwaway
// database that is gone afterwards, a damaged copy and a truncated copy
// failing verification with their reasons, rows deleted and changed,
// the backup restored and the rows back as they were; then the database
// stopped, and a backup of it failing clearly without leaving a file.
func TestEngine_backupVerifyRestore(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			tdb := startDB(t, kind, Options{})
			ctx := t.Context()
			e := tdb.engine
			tdb.seed(t, 500)
			want, n := tdb.fingerprint(t)
			if n != 500 {
				t.Fatalf("seeded %d rows", n)
			}

			rec, err := e.Dump(ctx, tdb.db)
			if err != nil {
				t.Fatal(err)
			}
			path := e.Path(rec)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatalf("the backup file: %v", err)
			}
			switch {
			case st.Size() != rec.Size || rec.Size == 0:
				t.Fatalf("recorded size %d, file size %d", rec.Size, st.Size())
			case sha256File(t, path) != rec.SHA256:
				t.Fatal("recorded checksum is not the file's")
			case !strings.HasPrefix(rec.File, tdb.db.App+"/") || rec.Compression != "zstd" || rec.Duration <= 0:
				t.Fatalf("record %+v", rec)
			}
			wantTables := []Table{{Name: table(kind, "post"), Rows: 500}, {Name: table(kind, "tag"), Rows: 0}}
			if !slices.Equal(rec.Tables, wantTables) {
				t.Fatalf("recorded tables %v; want %v", rec.Tables, wantTables)
			}
			if got := files(t, e.Dir()); !slices.Equal(got, []string{rec.File}) {
				t.Fatalf("backups directory holds %v; want only %s", got, rec.File)
			}

			verified, err := e.Verify(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			if !verified.Verified || verified.VerifyError != "" || verified.VerifiedAt.IsZero() {
				t.Fatalf("verification of a good backup: %+v", verified)
			}
			assertNoThrowaways(t, tdb.env)

			t.Run("damaged copy", func(t *testing.T) {
				b, _ := os.ReadFile(path)
				b[len(b)/2] ^= 0xff
				bad := rec
				bad.ID, bad.File = rec.ID+"-damaged", rec.File+".damaged"
				if err := os.WriteFile(e.Path(bad), b, 0o600); err != nil {
					t.Fatal(err)
				}
				got, err := e.Verify(ctx, bad)
				if err != nil {
					t.Fatal(err)
				}
				if got.Verified || !strings.Contains(got.VerifyError, "checksum") {
					t.Fatalf("damaged copy: verified %v, reason %q; want a checksum failure", got.Verified, got.VerifyError)
				}
				if err := e.Restore(ctx, tdb.db, bad, nil); !errors.Is(err, ErrDamaged) {
					t.Fatalf("restoring a damaged copy: %v; want ErrDamaged", err)
				}
			})
			t.Run("truncated copy", func(t *testing.T) {
				// A copy cut short with a checksum to match: only loading
				// it can tell.
				b, _ := os.ReadFile(path)
				bad := rec
				bad.ID, bad.File = rec.ID+"-truncated", rec.File+".truncated"
				if err := os.WriteFile(e.Path(bad), b[:len(b)*2/3], 0o600); err != nil {
					t.Fatal(err)
				}
				bad.SHA256 = sha256File(t, e.Path(bad))
				got, err := e.Verify(ctx, bad)
				if err != nil {
					t.Fatal(err)
				}
				if got.Verified || got.VerifyError == "" {
					t.Fatalf("truncated copy verified: %+v", got)
				}
				t.Logf("truncated copy: %s", got.VerifyError)
				assertNoThrowaways(t, tdb.env)
			})

			tdb.exec(t, "DELETE FROM post WHERE id > 100")
			tdb.exec(t, "UPDATE post SET body = 'changed' WHERE id = 1")
			tdb.exec(t, "INSERT INTO tag VALUES (1, 'after the backup')")
			if got, n := tdb.fingerprint(t); got == want || n != 100 {
				t.Fatalf("rows did not change: %d", n)
			}
			var reports []Progress
			if err := e.Restore(ctx, tdb.db, rec, func(p Progress) { reports = append(reports, p) }); err != nil {
				t.Fatal(err)
			}
			if got, n := tdb.fingerprint(t); got != want || n != 500 {
				t.Fatalf("after the restore post has %d rows, content changed: %v", n, got != want)
			}
			var tags int
			if err := tdb.sql.QueryRowContext(ctx, "SELECT COUNT(*) FROM tag").Scan(&tags); err != nil || tags != 0 {
				t.Fatalf("tag has %d rows after the restore (%v); want 0, as backed up", tags, err)
			}
			if kind != runtime.Postgres {
				// @n lives in one connection's session.
				conn, err := tdb.sql.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var n int
				if _, err := conn.ExecContext(ctx, "CALL post_count(@n)"); err != nil {
					t.Fatalf("the procedure did not come back: %v", err)
				}
				if err := conn.QueryRowContext(ctx, "SELECT @n").Scan(&n); err != nil || n != 500 {
					t.Fatalf("post_count = %d, %v", n, err)
				}
				conn.Close()
			}
			// The view, routine and trigger came back with the data.
			tdb.exec(t, "INSERT INTO tag VALUES (2, 'UPPER')")
			var name string
			var recent int
			if err := tdb.sql.QueryRowContext(ctx, "SELECT name FROM tag WHERE id = 2").Scan(&name); err != nil || name != "upper" {
				t.Fatalf("the trigger did not come back: %q %v", name, err)
			}
			if err := tdb.sql.QueryRowContext(ctx, "SELECT COUNT(*) FROM recent").Scan(&recent); err != nil || recent != 490 {
				t.Fatalf("the view did not come back: %d %v", recent, err)
			}
			if len(reports) == 0 || reports[len(reports)-1] != (Progress{Done: rec.Size, Total: rec.Size}) {
				t.Fatalf("progress reports %v; want the last at %d of %d", reports, rec.Size, rec.Size)
			}

			// A stopped database: a clear error, and no file.
			before := files(t, e.Dir())
			if err := tdb.rt.Stop(ctx, tdb.db.Container, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			_, err = e.Dump(ctx, tdb.db)
			if !errors.Is(err, ErrDatabaseDown) || !strings.Contains(err.Error(), "start the app's database") {
				t.Fatalf("backup of a stopped database: %v; want ErrDatabaseDown saying what to do", err)
			}
			if after := files(t, e.Dir()); !slices.Equal(after, before) {
				t.Fatalf("a failed backup left files: %v, before %v", after, before)
			}
			missing := tdb.db
			missing.Container = "kaj-no-such-db-" + tdb.env.ID
			if _, err := e.Dump(ctx, missing); !errors.Is(err, ErrDatabaseDown) {
				t.Fatalf("backup of a missing database: %v; want ErrDatabaseDown", err)
			}
		})
	}
}

// TestEngine_RestoreUpload restores dumps made by hand with the servers'
// own tools (plain SQL from mariadb-dump; pg_dump's custom format and
// plain SQL), uploaded gzipped or not, and refuses an upload cut short
// before touching the database.
func TestEngine_RestoreUpload(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			tdb := startDB(t, kind, Options{})
			ctx := t.Context()
			e := tdb.engine
			tdb.seed(t, 200)
			want, _ := tdb.fingerprint(t)

			dumps := map[string][]string{}
			if kind == runtime.Postgres {
				dumps["custom"] = []string{"pg_dump", "-h", "127.0.0.1", "-U", tdb.db.User, "-d", tdb.db.Name, "-Fc"}
				dumps["plain"] = []string{"pg_dump", "-h", "127.0.0.1", "-U", tdb.db.User, "-d", tdb.db.Name, "--clean", "--if-exists"}
			} else {
				dumps["plain"] = []string{"mariadb-dump", "-h", "127.0.0.1", "-u", tdb.db.User, tdb.db.Name}
			}
			for name, cmd := range dumps {
				t.Run(name, func(t *testing.T) {
					var out, errOut strings.Builder
					code, err := tdb.rt.Exec(ctx, tdb.db.Container, runtime.ExecOptions{
						Cmd: cmd, Env: []string{"PGPASSWORD=" + tdb.db.Password, "MYSQL_PWD=" + tdb.db.Password},
						Stdout: &out, Stderr: &errOut,
					})
					if err != nil || code != 0 {
						t.Fatalf("dump by hand: %d %v %s", code, err, errOut.String())
					}
					dump := gzipped(t, []byte(out.String()))

					cut := dump[:len(dump)/2]
					if err := e.RestoreUpload(ctx, tdb.db, strings.NewReader(string(cut)), -1, nil); !errors.Is(err, ErrDamaged) {
						t.Fatalf("upload cut short: %v; want ErrDamaged", err)
					}
					tdb.exec(t, "DELETE FROM post WHERE id > 10")
					if err := e.RestoreUpload(ctx, tdb.db, strings.NewReader(string(dump)), int64(len(dump)), nil); err != nil {
						t.Fatal(err)
					}
					if got, n := tdb.fingerprint(t); got != want || n != 200 {
						t.Fatalf("after restoring the upload post has %d rows, content changed: %v", n, got != want)
					}
				})
			}
			if got := files(t, e.Dir()); len(got) != 0 {
				t.Fatalf("uploads left files: %v", got)
			}
		})
	}
}

// TestEngine_Dump_sameInstant takes two backups at one instant of a
// clock that stands still: both are kept, under different names.
func TestEngine_Dump_sameInstant(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	tdb := startDB(t, runtime.Postgres, Options{Now: func() time.Time { return at }})
	tdb.seed(t, 3)
	a, err := tdb.engine.Dump(t.Context(), tdb.db)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tdb.engine.Dump(t.Context(), tdb.db)
	if err != nil {
		t.Fatal(err)
	}
	if a.File == b.File || !slices.Equal(files(t, tdb.engine.Dir()), []string{a.File, b.File}) {
		t.Fatalf("two backups at one instant: %s and %s; files %v", a.File, b.File, files(t, tdb.engine.Dir()))
	}
}

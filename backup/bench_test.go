package backup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// benchRows of about 1 KiB each make a database of about 100 MB.
const (
	benchRows  = 100_000
	benchWords = 200 // about 5 bytes each
)

// BenchmarkBackup_100MB measures, on a real MariaDB and a real
// PostgreSQL holding about 100 MB, kaj's backup (dump streamed through
// exec, checksum, counts, atomic write; zstd, and uncompressed) against
// the same dump run by hand through the docker CLI (plain to a file, and
// piped through the zstd CLI for the same kind of file kaj writes), in
// turns within one run; then kaj's restore of that backup against a restore by hand with
// the server's client, and kaj's verification (throwaway database start,
// load, counts). Run it with -benchtime=3x; figures are reported as
// metrics (seconds, MB, ratios). It needs the docker and zstd CLIs.
func BenchmarkBackup_100MB(b *testing.B) {
	for _, tool := range []string{"docker", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("the %s CLI is needed to compare with a dump by hand", tool)
		}
	}
	for _, kind := range kinds {
		b.Run(string(kind), func(b *testing.B) {
			tdb := startDB(b, kind, Options{})
			fill(b, tdb)
			e, db := tdb.engine, tdb.db
			ctx := context.Background()
			dir := b.TempDir()
			plainFile, zstdFile := filepath.Join(dir, "hand.dump"), filepath.Join(dir, "hand.dump.zst")
			hand := handDumpCmd(db)

			plainEngine, err := New(tdb.rt, b.TempDir(), Options{Compression: None})
			if err != nil {
				b.Fatal(err)
			}
			var kajT, kajPlainT, plainT, zstdT time.Duration
			var rec Record
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Alternate the order: the server's caches favour whoever
				// runs second.
				runs := []func(){
					func() { plainT += timeShell(b, hand+" > "+plainFile) },
					func() { zstdT += timeShell(b, hand+" | zstd -q -f -3 -o "+zstdFile) },
					func() {
						start := time.Now()
						var err error
						if rec, err = e.Dump(ctx, db); err != nil {
							b.Fatal(err)
						}
						kajT += time.Since(start)
						if i < b.N-1 {
							e.Remove(rec)
						}
					},
					func() {
						start := time.Now()
						r, err := plainEngine.Dump(ctx, db)
						if err != nil {
							b.Fatal(err)
						}
						kajPlainT += time.Since(start)
						plainEngine.Remove(r)
					},
				}
				if i%2 == 1 {
					slices.Reverse(runs)
				}
				for _, run := range runs {
					run()
				}
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(kajT.Seconds()/n, "kaj-backup-s")
			b.ReportMetric(kajPlainT.Seconds()/n, "kaj-backup-uncompressed-s")
			b.ReportMetric(kajPlainT.Seconds()/plainT.Seconds(), "ratio-uncompressed-vs-hand")
			b.ReportMetric(plainT.Seconds()/n, "hand-dump-s")
			b.ReportMetric(zstdT.Seconds()/n, "hand-dump+zstd-s")
			b.ReportMetric(kajT.Seconds()/plainT.Seconds(), "ratio-zstd-vs-hand")
			b.ReportMetric(kajT.Seconds()/zstdT.Seconds(), "ratio-vs-hand+zstd")
			b.ReportMetric(float64(rec.Size)/1e6, "kaj-file-MB")
			b.ReportMetric(fileMB(b, plainFile), "hand-file-MB")
			b.ReportMetric(fileMB(b, zstdFile), "hand-zstd-file-MB")

			var kajRestore, handRestore time.Duration
			for i := 0; i < b.N; i++ {
				runs := []func(){
					func() { handRestore += timeShell(b, handRestoreCmd(db)+" < "+plainFile) },
					func() {
						start := time.Now()
						if err := e.Restore(ctx, db, rec, nil); err != nil {
							b.Fatal(err)
						}
						kajRestore += time.Since(start)
					},
				}
				if i%2 == 1 {
					runs[0], runs[1] = runs[1], runs[0]
				}
				for _, run := range runs {
					run()
				}
			}
			b.ReportMetric(kajRestore.Seconds()/n, "kaj-restore-s")
			b.ReportMetric(handRestore.Seconds()/n, "hand-restore-s")
			b.ReportMetric(kajRestore.Seconds()/handRestore.Seconds(), "restore-ratio")

			start := time.Now()
			v, err := e.Verify(ctx, rec)
			if err != nil || !v.Verified {
				b.Fatalf("verify: %v %s", err, v.VerifyError)
			}
			b.ReportMetric(time.Since(start).Seconds(), "kaj-verify-s")
		})
	}
}

// fill loads benchRows rows of about 1 KiB into big, server-side: words
// drawn from a vocabulary of a thousand, which compress about as real
// text does (2-3x), not as repeated bytes (100x) nor random hex (none at
// the fastest levels).
func fill(b *testing.B, tdb *testDB) {
	b.Helper()
	tdb.exec(b, "CREATE TABLE big (id int PRIMARY KEY, body text NOT NULL)")
	if tdb.db.Kind == runtime.Postgres {
		tdb.exec(b, fmt.Sprintf(`INSERT INTO big SELECT g, (SELECT string_agg('w' || (abs(hashint4(g * %[1]d + k)) %% 1000), ' ') FROM generate_series(1, %[1]d) k)
			FROM generate_series(1, %[2]d) g`, benchWords, benchRows))
		tdb.exec(b, "VACUUM ANALYZE big")
	} else {
		words := make([]string, benchWords)
		for k := range words {
			words[k] = fmt.Sprintf("CONCAT('w', CRC32(n * %d + %d) %% 1000)", benchWords, k+1)
		}
		// One statement string: the setting must reach the INSERT's
		// connection.
		tdb.exec(b, fmt.Sprintf(`SET SESSION max_recursive_iterations = %d; INSERT INTO big
			WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d)
			SELECT n, CONCAT_WS(' ', %s) FROM s`, benchRows+1, benchRows, strings.Join(words, ", ")))
		tdb.exec(b, "ANALYZE TABLE big")
	}
	var size float64
	q := "SELECT pg_database_size(current_database())"
	if tdb.db.Kind != runtime.Postgres {
		q = "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
	}
	if err := tdb.sql.QueryRow(q).Scan(&size); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s database: %.1f MB", tdb.db.Kind, size/1e6)
}

// handDumpCmd is the dump a user runs by hand through the docker CLI.
func handDumpCmd(db Database) string {
	if db.Kind == runtime.Postgres {
		return fmt.Sprintf("docker exec -e PGPASSWORD=%s %s pg_dump -h 127.0.0.1 -U %s -d %s -Fc -Z0",
			shellQuote(db.Password), db.Container, db.User, db.Name)
	}
	return fmt.Sprintf("docker exec -e MYSQL_PWD=%s %s mariadb-dump --protocol=tcp -h 127.0.0.1 -u %s --single-transaction --quick --routines %s",
		shellQuote(db.Password), db.Container, db.User, db.Name)
}

func handRestoreCmd(db Database) string {
	if db.Kind == runtime.Postgres {
		return fmt.Sprintf("docker exec -i -e PGPASSWORD=%s %s pg_restore -h 127.0.0.1 -U %s -d %s --clean --if-exists --single-transaction --no-owner",
			shellQuote(db.Password), db.Container, db.User, db.Name)
	}
	return fmt.Sprintf("docker exec -i -e MYSQL_PWD=%s %s mariadb --protocol=tcp -h 127.0.0.1 -u %s %s",
		shellQuote(db.Password), db.Container, db.User, db.Name)
}

func timeShell(b *testing.B, script string) time.Duration {
	b.Helper()
	start := time.Now()
	out, err := exec.Command("bash", "-o", "pipefail", "-c", script).CombinedOutput()
	if err != nil {
		b.Fatalf("%s: %v\n%s", script, err, out)
	}
	return time.Since(start)
}

func fileMB(b *testing.B, path string) float64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(st.Size()) / 1e6
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

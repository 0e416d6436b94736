package microblog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/kajd"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/microblog/webclient"
	"github.com/kajhq/kaj/runtime"
)

// backupView is what these tests read of a backup record.
type backupView struct {
	ID     string `json:"id"`
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Tables []struct {
		Name string `json:"name"`
		Rows int64  `json:"rows"`
	} `json:"tables"`
	Verified    bool      `json:"verified"`
	VerifyError string    `json:"verify_error"`
	VerifiedAt  time.Time `json:"verified_at"`
}

// rows is the row count the record gives table (its name without a
// schema).
func (b backupView) rows(table string) int64 {
	for _, t := range b.Tables {
		if t.Name == table || strings.HasSuffix(t.Name, "."+table) {
			return t.Rows
		}
	}
	return -1
}

func listBackups(t *testing.T, c *kajtest.Client, app string) []backupView {
	t.Helper()
	var out []backupView
	if code := c.JSON("GET", "/api/v1/apps/"+app+"/backups", nil, &out); code != http.StatusOK {
		t.Fatalf("GET backups of %s: %d", app, code)
	}
	return out
}

// startJob starts a job and follows it to its end, whatever the end.
func startJob(t *testing.T, c *kajtest.Client, method, path string, body any, raw []byte) (string, []map[string]any) {
	t.Helper()
	var code int
	var out []byte
	if raw != nil {
		req, err := http.NewRequest(method, c.Base+path, bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("X-CSRF-Token", c.CSRF)
		resp, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		code = resp.StatusCode
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		out = buf.Bytes()
	} else {
		code, out = c.Do(method, path, body)
	}
	if code != http.StatusAccepted {
		t.Fatalf("%s %s: status %d %s", method, path, code, out)
	}
	var job struct {
		Job string `json:"job"`
	}
	if err := json.Unmarshal(out, &job); err != nil {
		t.Fatal(err)
	}
	return c.WaitJob(job.Job, 5*time.Minute)
}

// mustJob runs a job that must succeed.
func mustJob(t *testing.T, c *kajtest.Client, method, path string, body any, raw []byte) []map[string]any {
	t.Helper()
	status, events := startJob(t, c, method, path, body, raw)
	if status != "succeeded" {
		t.Fatalf("%s %s: job ended %q: %v", method, path, status, events)
	}
	return events
}

// failure is the message of a job's failure.
func failure(events []map[string]any) string {
	for _, e := range slices.Backward(events) {
		if e["type"] == "done" {
			return fmt.Sprint(e["message"])
		}
	}
	return ""
}

func stepOK(t *testing.T, events []map[string]any, step string) string {
	t.Helper()
	for _, e := range events {
		if e["type"] == "step" && e["step"] == step && e["status"] == "succeeded" {
			return fmt.Sprint(e["message"])
		}
	}
	t.Fatalf("no succeeded %q step in %v", step, events)
	return ""
}

// sqlIn runs one statement in the app's database container with the
// app's own account, through the engine, and returns its output.
func sqlIn(t *testing.T, k *kajtest.Kaj, c *kajtest.Client, app, kind, stmt string) string {
	t.Helper()
	out, err := sqlTry(t, k, c, app, kind, stmt)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sqlTry(t *testing.T, k *kajtest.Kaj, c *kajtest.Client, app, kind, stmt string) (string, error) {
	t.Helper()
	var pw struct {
		Password string `json:"password"`
	}
	if code := c.JSON("GET", "/api/v1/apps/"+app+"/database/password", nil, &pw); code != http.StatusOK {
		t.Fatalf("database password: %d", code)
	}
	db := strings.ReplaceAll("microblog", "-", "_")
	opts := runtime.ExecOptions{Env: []string{"MYSQL_PWD=" + pw.Password}, Cmd: []string{"mariadb", "-h", "127.0.0.1", "-u", db, db, "-N", "-e", stmt}}
	if kind == "postgres" {
		opts = runtime.ExecOptions{Env: []string{"PGPASSWORD=" + pw.Password}, Cmd: []string{"psql", "-h", "127.0.0.1", "-U", db, "-d", db, "-tAc", stmt}}
	}
	var out, errb bytes.Buffer
	opts.Stdout, opts.Stderr = &out, &errb
	code, err := k.Engine.Exec(context.Background(), k.Engine.Names(app).Database, opts)
	if err != nil || code != 0 {
		return "", fmt.Errorf("%s in %s: exit %d, %v: %s", stmt, app, code, err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

// putBackupSettings sets an app's backup settings through PUT, with the
// rest of its definition as read.
func putBackupSettings(t *testing.T, c *kajtest.Client, app string, settings map[string]any) {
	t.Helper()
	var v map[string]any
	if code := c.JSON("GET", "/api/v1/apps/"+app, nil, &v); code != http.StatusOK {
		t.Fatalf("GET %s: %d", app, code)
	}
	in := map[string]any{"backup": settings}
	for _, k := range []string{"name", "image", "env", "port", "host_port", "health_path", "health", "domains", "proxy", "database", "restart", "command", "entrypoint", "memory_bytes", "cpus", "version"} {
		if val, ok := v[k]; ok {
			in[k] = val
		}
	}
	if code, body := c.Do("PUT", "/api/v1/apps/"+app, in); code != http.StatusOK {
		t.Fatalf("PUT %s backup settings: %d %s", app, code, body)
	}
}

// TestMicroblogBackups is issue 14 end to end through kaj's API, on the
// real engine, with Microblog on a real MariaDB and on a real PostgreSQL
// (the one-click templates): a backup is taken, verified, downloaded
// byte for byte, proven damaged once a byte changes, restored after the
// rows are deleted, restored from an upload; a snapshot before deploy
// and "roll back app and data" return both; a stopped database gives a
// clear error and no file; scheduled backups run on a clock the test
// drives, and retention removes the oldest.
func TestMicroblogBackups(t *testing.T) {
	env := testutil.NewEnv(t)
	ctx := env.Context()
	tag := buildMicroblog(t, env)
	clock := testutil.NewFakeClock(time.Now())
	k := kajtest.StartOptions(t, env, kajtest.Config(t), kajd.Options{BackupClock: clock})
	c := k.Login(t)

	mariadbApp := "" // the first case's app, for a restore of the wrong kind
	for _, tc := range []struct{ kind, template, image string }{
		{"mariadb", "microblog-mysql", env.MariaDBImage()},
		{"postgres", "microblog-postgres", env.PostgresImage()},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			name := env.Name("bk-" + tc.kind[:2])
			if tc.kind == "mariadb" {
				mariadbApp = name
			}
			mustJob(t, c, "POST", "/api/v1/templates/"+tc.template, map[string]any{"name": name, "image": tag, "database_image": tc.image}, nil)
			app := getApp(t, c, name)
			count := func() string { return sqlIn(t, k, c, name, tc.kind, "SELECT COUNT(*) FROM posts") }

			// Rows written through the app.
			alice := browser(t, app.URL)
			first := "Kept by a verified backup " + secret()
			if err := alice.Register(ctx, "alice", "alice@example.com", "correct horse battery"); err != nil {
				t.Fatal(err)
			}
			if err := alice.Login(ctx, "alice", "correct horse battery"); err != nil {
				t.Fatal(err)
			}
			if err := alice.WritePost(ctx, first); err != nil {
				t.Fatal(err)
			}

			// A backup on demand: dumped, verified in a throwaway database.
			events := mustJob(t, c, "POST", "/api/v1/apps/"+name+"/backups", nil, nil)
			t.Logf("%s backup: %s; %s", tc.kind, stepOK(t, events, "dump"), stepOK(t, events, "verify"))
			list := listBackups(t, c, name)
			if len(list) != 1 || !list[0].Verified || list[0].Size == 0 || list[0].rows("posts") != 1 || list[0].rows("users") != 1 {
				t.Fatalf("backups after one: %+v; want one verified, with 1 post and 1 user", list)
			}
			b1 := list[0]
			if v := getApp(t, c, name); v.LastBackup == nil || v.LastBackup.State != "verified" || v.LastBackup.ID != b1.ID {
				t.Errorf("the app's view shows last backup %+v; want %s verified", v.LastBackup, b1.ID)
			}

			// The download is the very file kept.
			code, dl := c.Do("GET", "/api/v1/apps/"+name+"/backups/"+b1.ID+"/download", nil)
			stored, err := os.ReadFile(filepath.Join(k.Backups.Dir(), b1.File))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(dl)
			if code != http.StatusOK || !bytes.Equal(dl, stored) || hex.EncodeToString(sum[:]) != b1.SHA256 {
				t.Fatalf("download: %d, %d bytes, sha256 %x; want the stored %d bytes, sha256 %s", code, len(dl), sum, len(stored), b1.SHA256)
			}

			// Rows deleted, the backup restored with the app stopped: back.
			sqlIn(t, k, c, name, tc.kind, "DELETE FROM posts")
			events = mustJob(t, c, "POST", "/api/v1/apps/"+name+"/backups/"+b1.ID+"/restore", map[string]any{"keep_serving": false}, nil)
			stepOK(t, events, "safety backup")
			if n := count(); n != "1" {
				t.Fatalf("after the restore: %s posts; want 1", n)
			}
			app = getApp(t, c, name)
			if posts := explore(t, login(t, app.URL)); !slices.Contains(posts, first) {
				t.Fatalf("after the restore the app shows %q; want %q", posts, first)
			}

			// Rows deleted again, the downloaded file uploaded: back.
			sqlIn(t, k, c, name, tc.kind, "DELETE FROM posts")
			mustJob(t, c, "POST", "/api/v1/apps/"+name+"/restore?keep_serving=true", nil, dl)
			if n := count(); n != "1" {
				t.Fatalf("after restoring the upload: %s posts; want 1", n)
			}

			// A PostgreSQL archive uploaded to the MariaDB app: refused by
			// kind, the data untouched.
			if tc.kind == "postgres" && mariadbApp != "" {
				status, events := startJob(t, c, "POST", "/api/v1/apps/"+mariadbApp+"/restore?keep_serving=true", nil, dl)
				if status != "failed" || !strings.Contains(failure(events), "another database kind") {
					t.Fatalf("restoring a PostgreSQL dump into MariaDB: %s %q; want failed, naming the kind", status, failure(events))
				}
				t.Logf("a PostgreSQL dump uploaded to a MariaDB app: %s", failure(events))
			}

			// One byte changed in the kept file: verification says why,
			// loudly, and a restore refuses it.
			damaged := bytes.Clone(stored)
			damaged[len(damaged)/2] ^= 0xff
			if err := os.WriteFile(filepath.Join(k.Backups.Dir(), b1.File), damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			status, events := startJob(t, c, "POST", "/api/v1/apps/"+name+"/backups/"+b1.ID+"/verify", nil, nil)
			if status != "failed" || !strings.Contains(failure(events), "checksum") {
				t.Fatalf("verifying a damaged file: %s %q; want failed, naming the checksum", status, failure(events))
			}
			for _, b := range listBackups(t, c, name) {
				if b.ID == b1.ID && (b.Verified || !strings.Contains(b.VerifyError, "checksum")) {
					t.Fatalf("the damaged backup is listed %+v; want its reason", b)
				}
			}
			kept := len(listBackups(t, c, name))
			status, events = startJob(t, c, "POST", "/api/v1/apps/"+name+"/backups/"+b1.ID+"/restore", map[string]any{"keep_serving": false}, nil)
			if status != "failed" || !strings.Contains(failure(events), "damaged") {
				t.Fatalf("restoring a damaged file: %s %q; want failed, saying it is damaged", status, failure(events))
			}
			if n := len(listBackups(t, c, name)); n != kept {
				t.Fatalf("restoring a damaged file took a safety backup (%d backups, %d before): it should be refused first", n, kept)
			}
			if v := getApp(t, c, name); v.only(t, "app") == "" || v.Containers[0].State != "running" {
				t.Fatalf("restoring a damaged file stopped the app: %+v", v.Containers)
			}
			if n := count(); n != "1" {
				t.Fatalf("a refused restore changed the data: %s posts", n)
			}

			// Snapshot before deploy, then "roll back app and data".
			putBackupSettings(t, c, name, map[string]any{"snapshot_before_deploy": true})
			live := getApp(t, c, name).Live
			events = mustJob(t, c, "POST", "/api/v1/apps/"+name+"/deploy", nil, nil)
			t.Logf("%s snapshot before deploy: %s", tc.kind, stepOK(t, events, "snapshot"))
			second := "Written after the deploy " + secret()
			alice = login(t, getApp(t, c, name).URL)
			if err := alice.WritePost(ctx, second); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != "2" {
				t.Fatalf("%s posts before the rollback; want 2", n)
			}
			mustJob(t, c, "POST", "/api/v1/apps/"+name+"/rollback", map[string]any{"release": live.Number, "restore_data": true}, nil)
			after := getApp(t, c, name)
			if after.Live == nil || after.Live.Rollback != live.Number {
				t.Fatalf("after the rollback the live release is %+v; want one returning to %d", after.Live, live.Number)
			}
			if posts := explore(t, login(t, after.URL)); !slices.Contains(posts, first) || slices.Contains(posts, second) {
				t.Fatalf("after rolling back app and data the app shows %q; want %q without %q", posts, first, second)
			}

			// A stopped database: a clear error, no file, no record.
			before := listBackups(t, c, name)
			dbID := after.only(t, "db")
			if _, err := env.Client.ContainerStop(ctx, dbID, mclient.ContainerStopOptions{}); err != nil {
				t.Fatal(err)
			}
			status, events = startJob(t, c, "POST", "/api/v1/apps/"+name+"/backups", nil, nil)
			if status != "failed" || !strings.Contains(failure(events), "not running") {
				t.Fatalf("backing up a stopped database: %s %q; want failed, saying it is not running", status, failure(events))
			}
			if got := listBackups(t, c, name); len(got) != len(before) {
				t.Fatalf("a failed backup left a record: %d backups, %d before", len(got), len(before))
			}
			if files := backupFiles(t, filepath.Join(k.Backups.Dir(), name)); len(files) != len(before) {
				t.Fatalf("a failed backup left a file: %v", files)
			}
			t.Logf("%s: backing up a stopped database says: %s", tc.kind, failure(events))
			if _, err := env.Client.ContainerStart(ctx, dbID, mclient.ContainerStartOptions{}); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "the database to answer again", func() bool {
				_, err := sqlTry(t, k, c, name, tc.kind, "SELECT 1")
				return err == nil
			})

			// Scheduled every 6h, keeping the last 2: three runs on the
			// test's clock, and only the newest two remain.
			putBackupSettings(t, c, name, map[string]any{"schedule": "6h", "keep_last": 2})
			var ids []string
			for i := 1; i <= 3; i++ {
				waitUntil(t, "the next scheduled backup is set", func() bool {
					v := getApp(t, c, name)
					return v.LastBackup != nil && v.LastBackup.Next.After(clock.Now())
				})
				prev := listBackups(t, c, name)[0].ID
				clock.Advance(6 * time.Hour)
				waitUntil(t, fmt.Sprintf("scheduled backup %d, verified and pruned", i), func() bool {
					l := listBackups(t, c, name)
					return l[0].ID != prev && !l[0].VerifiedAt.IsZero() && len(l) == 2
				})
				l := listBackups(t, c, name)
				if !l[0].Verified {
					t.Fatalf("scheduled backup %d: %+v", i, l[0])
				}
				ids = append(ids, l[0].ID)
			}
			l := listBackups(t, c, name)
			if l[0].ID != ids[2] || l[1].ID != ids[1] {
				t.Fatalf("after three scheduled runs keeping 2: %s, %s; want %v's last two", l[0].ID, l[1].ID, ids)
			}
			if files := backupFiles(t, filepath.Join(k.Backups.Dir(), name)); len(files) != 2 {
				t.Fatalf("files left by retention: %v; want 2", files)
			}
		})
	}
}

// login is alice's session on the Microblog at url: /explore is for
// users only.
func login(t *testing.T, url string) *webclient.Client {
	t.Helper()
	b := browser(t, url)
	if err := b.Login(context.Background(), "alice", "correct horse battery"); err != nil {
		t.Fatalf("logging in to %s: %v", url, err)
	}
	return b
}

func backupFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 3 minutes for %s", what)
		}
	}
}

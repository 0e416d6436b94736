package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var testKey = bytes.Repeat([]byte{7}, KeySize)

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "kaj.db"), Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sampleApp(name string) App {
	return App{
		Name:       name,
		Image:      "microblog:1.0.0-prod",
		Port:       5000,
		HealthPath: "/healthz",
		Env: []EnvVar{
			{Name: "LOG_TO_STDOUT", Value: "1"},
			{Name: "SECRET_KEY", Value: "s3cr3t-value-xyz", Secret: true},
		},
		Database: &Database{Kind: "mysql", Image: "mysql:8", Alias: "dbserver", Name: "microblog", User: "microblog", Volume: name + "-db", Password: "db-pass-abc123"},
	}
}

func TestStore_CreateApp_roundTrip(t *testing.T) {
	s := openTest(t)
	a, err := s.CreateApp(sampleApp("blog"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != 1 || a.CreatedAt.IsZero() {
		t.Fatalf("created app has version %d, created %v", a.Version, a.CreatedAt)
	}
	got, err := s.App("blog")
	if err != nil {
		t.Fatal(err)
	}
	if got.Env[1].Value != "" || got.Database.Password != "" {
		t.Fatalf("App returned a secret in plain text: %+v %+v", got.Env, got.Database)
	}
	if got.Env[0].Value != "1" {
		t.Fatalf("plain env lost: %+v", got.Env)
	}
	sec, err := s.RevealApp("blog")
	if err != nil {
		t.Fatal(err)
	}
	if sec.Env["SECRET_KEY"] != "s3cr3t-value-xyz" || sec.DatabasePassword != "db-pass-abc123" {
		t.Fatalf("RevealApp = %+v", sec)
	}
	if _, err := s.CreateApp(sampleApp("blog")); !errors.Is(err, ErrConflict) {
		t.Fatalf("second CreateApp err = %v; want ErrConflict", err)
	}
	if _, err := s.App("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("App(nope) err = %v; want ErrNotFound", err)
	}
}

func TestStore_secretsNotInFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kaj.db")
	s, err := Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateApp(sampleApp("blog")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutCredential(Credential{Host: "registry.example.com", Username: "ann", Password: "registry-pw-123"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRelease(Release{App: "blog"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cr3t-value-xyz", "db-pass-abc123", "registry-pw-123"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("%q is readable in the raw data file", secret)
		}
	}
	if !bytes.Contains(raw, []byte("LOG_TO_STDOUT")) {
		t.Error("plain env not found in the file: the check above proves nothing")
	}
	// Another key does not open the file: its secrets would not open.
	other := bytes.Repeat([]byte{9}, KeySize)
	if _, err := Open(path, Options{Key: other}); !errors.Is(err, ErrSealed) || !strings.Contains(err.Error(), "key file") {
		t.Fatalf("Open with another key err = %v; want ErrSealed naming the key file", err)
	}
	s2, err := Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.RevealApp("blog"); err != nil {
		t.Fatalf("the right key again: %v", err)
	}
}

func TestStore_UpdateApp_conflict(t *testing.T) {
	s := openTest(t)
	base, err := s.CreateApp(sampleApp("blog"))
	if err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := base // every writer read version 1
			a.Image = fmt.Sprintf("microblog:%d", i)
			<-start
			_, errs[i] = s.UpdateApp(a)
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrConflict):
			t.Fatalf("unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d writers won; want exactly 1", wins)
	}
	got, _ := s.App("blog")
	if got.Version != 2 {
		t.Fatalf("version = %d; want 2", got.Version)
	}
	// An update that leaves secrets empty keeps them.
	got.Env = append(got.Env, EnvVar{Name: "NEW", Value: "x"})
	if _, err := s.UpdateApp(got); err != nil {
		t.Fatal(err)
	}
	sec, _ := s.RevealApp("blog")
	if sec.Env["SECRET_KEY"] != "s3cr3t-value-xyz" || sec.DatabasePassword != "db-pass-abc123" {
		t.Fatalf("update lost secrets: %+v", sec)
	}
}

func TestApp_Validate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*App)
		field string
	}{
		{"upper case name", func(a *App) { a.Name = "Blog" }, "name"},
		{"name too long", func(a *App) { a.Name = strings.Repeat("a", 64) }, "name"},
		{"name with underscore", func(a *App) { a.Name = "my_app" }, "name"},
		{"name ends with hyphen", func(a *App) { a.Name = "app-" }, "name"},
		{"empty image", func(a *App) { a.Image = "" }, "image"},
		{"bad image", func(a *App) { a.Image = "UPPER/Case::tag" }, "image"},
		{"env with equals", func(a *App) { a.Env[0].Name = "A=B" }, "env[0].name"},
		{"env with space", func(a *App) { a.Env[0].Name = "A B" }, "env[0].name"},
		{"env starting with digit", func(a *App) { a.Env[0].Name = "1A" }, "env[0].name"},
		{"env twice", func(a *App) { a.Env[1].Name = a.Env[0].Name }, "env[1].name"},
		{"port zero", func(a *App) { a.Port = 0 }, "port"},
		{"port too big", func(a *App) { a.Port = 65536 }, "port"},
		{"memory too small", func(a *App) { a.MemoryBytes = 1 << 20 }, "memory_bytes"},
		{"bad restart", func(a *App) { a.Restart = "sometimes" }, "restart"},
		{"bad health path", func(a *App) { a.HealthPath = "healthz" }, "health_path"},
		{"too many replicas", func(a *App) { a.Replicas = MaxReplicas + 1 }, "replicas"},
		{"negative replicas", func(a *App) { a.Replicas = -1 }, "replicas"},
		{"replicas on a fixed port", func(a *App) { a.Replicas, a.HostPort = 2, 8080 }, "replicas"},
		{"bad db kind", func(a *App) { a.Database.Kind = "oracle" }, "database.kind"},
		{"bad db user", func(a *App) { a.Database.User = "a;drop" }, "database.user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sampleApp("blog")
			tt.edit(&a)
			err := a.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v; want a ValidationError for %s", err, tt.field)
			}
		})
	}
	a := sampleApp("blog-2")
	if err := a.Validate(); err != nil {
		t.Fatalf("valid app refused: %v", err)
	}
}

func TestStore_CreateApp_invalidKeepsStored(t *testing.T) {
	s := openTest(t)
	if _, err := s.CreateApp(sampleApp("blog")); err != nil {
		t.Fatal(err)
	}
	bad, _ := s.App("blog")
	bad.Port = -1
	if _, err := s.UpdateApp(bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	got, _ := s.App("blog")
	if got.Port != 5000 || got.Version != 1 {
		t.Fatalf("a refused update changed the app: %+v", got)
	}
}

func TestStore_releases(t *testing.T) {
	s := openTest(t)
	if _, err := s.CreateApp(sampleApp("blog")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		r, err := s.CreateRelease(Release{App: "blog", Digest: fmt.Sprintf("sha256:%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Number != uint64(i) || r.Status != ReleasePending {
			t.Fatalf("release %d: %+v", i, r)
		}
		r.Status = ReleaseSuperseded
		if i == 5 {
			r.Status = ReleaseLive
		}
		if _, err := s.UpdateRelease(r); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateRelease(r); !errors.Is(err, ErrConflict) {
			t.Fatalf("stale UpdateRelease err = %v", err)
		}
	}
	rs, err := s.Releases("blog", 0)
	if err != nil || len(rs) != 5 || rs[0].Number != 5 || rs[4].Number != 1 {
		t.Fatalf("Releases = %+v, %v; want 5..1", rs, err)
	}
	if rs[0].Env[1].Value != "" {
		t.Fatal("release env shows a secret")
	}
	var env map[string]string
	if err := s.View(func(tx *Tx) (err error) { env, err = tx.RevealRelease("blog", 3); return err }); err != nil {
		t.Fatal(err)
	}
	if env["SECRET_KEY"] != "s3cr3t-value-xyz" {
		t.Fatalf("release secret = %q", env["SECRET_KEY"])
	}
	var pruned int
	if err := s.Update(func(tx *Tx) (err error) { pruned, err = tx.PruneReleases("blog", 1); return err }); err != nil {
		t.Fatal(err)
	}
	rs, _ = s.Releases("blog", 0)
	if pruned != 4 || len(rs) != 1 || rs[0].Status != ReleaseLive {
		t.Fatalf("after prune: %d pruned, %+v", pruned, rs)
	}
	if err := s.DeleteApp("blog", false); err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.Releases("blog", 0); len(rs) != 0 {
		t.Fatalf("releases outlived their app: %+v", rs)
	}
}

func TestStore_Update_atomic(t *testing.T) {
	s := openTest(t)
	boom := errors.New("boom")
	err := s.Update(func(tx *Tx) error {
		if _, err := tx.CreateApp(sampleApp("blog")); err != nil {
			return err
		}
		if _, err := tx.CreateRelease(Release{App: "blog"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := s.App("blog"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("half a transaction landed: %v", err)
	}
}

func TestStore_credentials(t *testing.T) {
	s := openTest(t)
	c, err := s.PutCredential(Credential{Host: "127.0.0.1:5000", Username: "ann", Password: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Password != "" {
		t.Fatal("PutCredential echoed the password")
	}
	c.Username = "bob" // keep password
	if c, err = s.PutCredential(c); err != nil {
		t.Fatal(err)
	}
	full, err := s.RevealCredential("127.0.0.1:5000")
	if err != nil || full.Password != "pw1" || full.Username != "bob" {
		t.Fatalf("RevealCredential = %+v, %v", full, err)
	}
	if _, err := s.PutCredential(Credential{Host: "https://x/y", Username: "a", Password: "b"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad host err = %v", err)
	}
	list, _ := s.Credentials()
	if len(list) != 1 || list[0].Password != "" {
		t.Fatalf("Credentials = %+v", list)
	}
}

func TestStore_sessionsAndTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open(filepath.Join(t.TempDir(), "kaj.db"), Options{Key: testKey, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(func(tx *Tx) error {
		if _, err := tx.PutUser(User{Name: "admin", PasswordHash: []byte("hash"), Role: "admin"}); err != nil {
			return err
		}
		if _, err := tx.CreateSession("tok-1", Session{User: "admin", ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		_, err := tx.CreateToken("api-secret", Token{ID: "t1", Name: "ci", User: "admin"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(s.Path())
	if bytes.Contains(raw, []byte("tok-1")) || bytes.Contains(raw, []byte("api-secret")) {
		t.Fatal("a token is stored in plain text")
	}
	err = s.View(func(tx *Tx) error {
		if _, err := tx.Session("tok-1"); err != nil {
			return err
		}
		if _, err := tx.Session("tok-2"); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("unknown session: %v", err)
		}
		tok, err := tx.TokenFor("api-secret")
		if err != nil || tok.ID != "t1" {
			return fmt.Errorf("TokenFor = %+v, %v", tok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if err := s.View(func(tx *Tx) error { _, err := tx.Session("tok-1"); return err }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired session still valid: %v", err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.DeleteToken("t1") }); err != nil {
		t.Fatal(err)
	}
	if err := s.View(func(tx *Tx) error { _, err := tx.TokenFor("api-secret"); return err }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked token still valid: %v", err)
	}
}

func TestStore_events(t *testing.T) {
	s := openTest(t)
	for i := range 10 {
		if _, err := s.AddEvent(Event{Actor: "admin", Action: "deploy", Target: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	page, _ := s.Events(0, 3)
	if len(page) != 3 || page[0].Seq != 10 || page[2].Seq != 8 {
		t.Fatalf("first page = %+v", page)
	}
	page, _ = s.Events(page[2].Seq, 100)
	if len(page) != 7 || page[0].Seq != 7 || page[6].Seq != 1 {
		t.Fatalf("second page = %+v", page)
	}
	if page, _ = s.Events(1000, 2); len(page) != 2 || page[0].Seq != 10 {
		t.Fatalf("page past the end = %+v", page)
	}
}

func TestOpen_inUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kaj.db")
	s := must(Open(path, Options{Key: testKey}))
	defer s.Close()
	start := time.Now()
	_, err := Open(path, Options{Key: testKey, LockTimeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "in use by another kaj process") {
		t.Fatalf("second Open err = %v; want ErrInUse", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second Open took %v", d)
	}
}

func TestOpen_schema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kaj.db")
	// A file from before schema versions: no meta bucket at all.
	db := must(bolt.Open(path, 0o600, nil))
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("apps")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s := must(Open(path, Options{Key: testKey}))
	if _, err := s.CreateApp(sampleApp("blog")); err != nil {
		t.Fatalf("migrated file unusable: %v", err)
	}
	s.Close()
	// A file from the future is refused, untouched.
	db = must(bolt.Open(path, 0o600, nil))
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{Key: testKey}); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("err = %v; want ErrSchemaTooNew", err)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "kaj.key")
	k1 := must(LoadOrCreateKey(path))
	st := must(os.Stat(path))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v; want 0600", st.Mode().Perm())
	}
	if k2 := must(LoadOrCreateKey(path)); !bytes.Equal(k1, k2) {
		t.Fatal("key changed between loads")
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key accepted: %v", err)
	}
}

// TestStore_crashKeepsCommitted kills a writer with SIGKILL mid-loop and
// checks that every write it reported committed is in the file.
func TestStore_crashKeepsCommitted(t *testing.T) {
	if os.Getenv("KAJ_STORE_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	path := filepath.Join(t.TempDir(), "kaj.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStore_crashKeepsCommitted$")
	cmd.Env = append(os.Environ(), "KAJ_STORE_CRASH_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var committed []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed = append(committed, name)
			if len(committed) == 200 {
				break
			}
		}
	}
	cmd.Process.Kill() // SIGKILL: no deferred close, no flush
	cmd.Wait()
	if len(committed) < 200 {
		t.Fatalf("child reported only %d writes", len(committed))
	}
	s, err := Open(path, Options{Key: testKey})
	if err != nil {
		t.Fatalf("file does not open after SIGKILL: %v", err)
	}
	defer s.Close()
	for _, n := range committed {
		if _, err := s.App(n); err != nil {
			t.Fatalf("committed app %s lost: %v", n, err)
		}
	}
	if _, err := s.RevealApp(committed[len(committed)-1]); err != nil {
		t.Fatalf("secret of the last committed app unreadable: %v", err)
	}
}

func crashChild() {
	s, err := Open(os.Getenv("KAJ_STORE_CRASH_CHILD"), Options{Key: testKey})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		n := fmt.Sprintf("app-%d", i)
		if _, err := s.CreateApp(sampleApp(n)); err != nil {
			fmt.Println("write:", err)
			os.Exit(1)
		}
		fmt.Println("committed", n)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestStore_CreateRelease_rollbackSnapshot(t *testing.T) {
	s := openTest(t)
	if _, err := s.CreateApp(sampleApp("blog")); err != nil {
		t.Fatal(err)
	}
	first, err := s.CreateRelease(Release{App: "blog", Digest: "sha256:one"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.App("blog")
	a.Image = "microblog:2"
	a.Env = []EnvVar{{Name: "SECRET_KEY", Value: "new-secret", Secret: true}}
	if _, err := s.UpdateApp(a); err != nil {
		t.Fatal(err)
	}
	rb, err := s.CreateRelease(Release{App: "blog", Rollback: first.Number})
	if err != nil {
		t.Fatal(err)
	}
	if rb.Image != "microblog:1.0.0-prod" || rb.Digest != "sha256:one" || len(rb.Env) != 2 {
		t.Fatalf("rollback release = %+v; want the first release's image, digest and env", rb)
	}
	var env map[string]string
	s.View(func(tx *Tx) (err error) { env, err = tx.RevealRelease("blog", rb.Number); return err })
	if env["SECRET_KEY"] != "s3cr3t-value-xyz" {
		t.Fatalf("rollback secret = %q; want the first release's", env["SECRET_KEY"])
	}
	if _, err := s.CreateRelease(Release{App: "blog", Rollback: 99}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rollback to a missing release: %v", err)
	}
}

func TestStore_keptVolumeAdopted(t *testing.T) {
	s := openTest(t)
	if _, err := s.CreateApp(sampleApp("blog")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp("blog", true); err != nil {
		t.Fatal(err)
	}
	var kept []KeptVolume
	s.View(func(tx *Tx) (err error) { kept, err = tx.KeptVolumes(); return err })
	if len(kept) != 1 || kept[0].Volume != "blog-db" || kept[0].App != "blog" {
		t.Fatalf("kept = %+v", kept)
	}
	// A new app on the same volume gets the volume's credentials, not the
	// fresh ones it was created with.
	other := sampleApp("blog2")
	other.Database.Volume = "blog-db"
	if _, err := s.CreateApp(other); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), `create the app as "blog"`) {
		t.Fatalf("another app on a kept volume: %v", err)
	}
	again := sampleApp("blog")
	again.Database.Volume = "blog-db"
	again.Database.Password = "a-new-generated-password"
	again.Database.User = "other"
	if _, err := s.CreateApp(again); err != nil {
		t.Fatal(err)
	}
	sec, _ := s.RevealApp("blog")
	a, _ := s.App("blog")
	if sec.DatabasePassword != "db-pass-abc123" || a.Database.User != "microblog" {
		t.Fatalf("adopted password %q user %q; want the kept volume's", sec.DatabasePassword, a.Database.User)
	}
	s.View(func(tx *Tx) (err error) { kept, err = tx.KeptVolumes(); return err })
	if len(kept) != 0 {
		t.Fatalf("an adopted volume is still listed as kept: %+v", kept)
	}
	// A postgres app cannot take a MySQL volume.
	if err := s.DeleteApp("blog", true); err != nil {
		t.Fatal(err)
	}
	pg := sampleApp("blog")
	pg.Database.Kind, pg.Database.Volume = "postgres", "blog-db"
	if _, err := s.CreateApp(pg); !errors.Is(err, ErrConflict) {
		t.Fatalf("postgres on a mysql volume: %v", err)
	}
	// Deleting with the data forgets the volume.
	if _, err := s.CreateApp(again); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp("blog", false); err != nil {
		t.Fatal(err)
	}
	s.View(func(tx *Tx) (err error) { kept, err = tx.KeptVolumes(); return err })
	if len(kept) != 0 {
		t.Fatalf("a volume deleted with its app is listed as kept: %+v", kept)
	}
}

// TestStore_keptCredentialsBelongToTheirApp: another app that names the
// same volume can neither take nor erase an app's kept credentials, the
// bug of keying them by volume name.
func TestStore_keptCredentialsBelongToTheirApp(t *testing.T) {
	s := openTest(t)
	if _, err := s.CreateApp(sampleApp("blog")); err != nil {
		t.Fatal(err)
	}
	// While blog lives, no other app may name its volume.
	other := sampleApp("shop")
	other.Database.Volume = "blog-db"
	if _, err := s.CreateApp(other); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), `app "blog"`) {
		t.Fatalf("a second app on a live app's volume: %v", err)
	}
	if err := s.DeleteApp("blog", true); err != nil {
		t.Fatal(err)
	}
	// Nor after it was deleted with its data kept.
	if _, err := s.CreateApp(other); !errors.Is(err, ErrConflict) {
		t.Fatalf("another app on a kept volume: %v", err)
	}
	// shop on its own volume, deleted without data, erases nothing of blog's.
	shop := sampleApp("shop")
	shop.Database.Volume = "shop-db"
	if _, err := s.CreateApp(shop); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp("shop", false); err != nil {
		t.Fatal(err)
	}
	again := sampleApp("blog")
	again.Database.Password = "a-fresh-one-that-is-wrong"
	if _, err := s.CreateApp(again); err != nil {
		t.Fatal(err)
	}
	if sec, _ := s.RevealApp("blog"); sec.DatabasePassword != "db-pass-abc123" {
		t.Fatalf("recreated blog has password %q; want its kept one", sec.DatabasePassword)
	}
}

// TestStore_restoreRelease: a rollback's RestoreRelease puts the whole
// definition and env of the release back on the app.
func TestStore_restoreRelease(t *testing.T) {
	s := openTest(t)
	a := sampleApp("blog")
	a.Domains = []string{"blog.example.com"}
	a.Health = HealthCheck{Retries: 3}
	a, err := s.CreateApp(a)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.CreateRelease(Release{App: "blog"})
	if err != nil {
		t.Fatal(err)
	}
	if first.Definition == nil || first.Definition.Port != a.Port || first.Definition.Domains[0] != "blog.example.com" {
		t.Fatalf("release definition %+v", first.Definition)
	}
	b := a
	b.Image, b.Port, b.Domains, b.Command = "microblog:2", 6000, []string{"new.example.com"}, []string{"serve"}
	b.Env = []EnvVar{{Name: "SECRET_KEY", Value: "another-secret", Secret: true}}
	if _, err := s.UpdateApp(b); err != nil {
		t.Fatal(err)
	}
	var got App
	err = s.Update(func(tx *Tx) (err error) { got, err = tx.RestoreRelease("blog", first.Number); return err })
	if err != nil {
		t.Fatal(err)
	}
	if got.Image != a.Image || got.Port != a.Port || got.Domains[0] != "blog.example.com" || len(got.Command) != 0 || got.Health.Retries != 3 {
		t.Fatalf("restored %+v; want the first definition", got)
	}
	sec, _ := s.RevealApp("blog")
	if sec.Env["SECRET_KEY"] != "s3cr3t-value-xyz" || sec.DatabasePassword != "db-pass-abc123" {
		t.Fatalf("restored secrets %+v", sec)
	}
}

func TestValidateDomain(t *testing.T) {
	for d, ok := range map[string]bool{
		"blog.example.com": true, "*.example.com": true, "example.com/blog": true, "a.b.c.example.org": true,
		"localhost": false, "Blog.example.com": false, "blog.example.com:443": false, "*.*.example.com": false,
		"-a.example.com": false, "example.com/": false, "exa mple.com": false, "a..b": false, "": false,
	} {
		if err := ValidateDomain("domains[0]", d); (err == nil) != ok {
			t.Errorf("ValidateDomain(%q) = %v; want ok %v", d, err, ok)
		}
	}
	a := sampleApp("blog")
	a.Domains = []string{"blog.example.com"}
	s := openTest(t)
	if _, err := s.CreateApp(a); err != nil {
		t.Fatal(err)
	}
	b := sampleApp("shop")
	b.Database.Volume = "shop-db"
	b.Domains = []string{"blog.example.com"}
	if _, err := s.CreateApp(b); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "blog.example.com") {
		t.Fatalf("a domain taken twice: %v", err)
	}
}

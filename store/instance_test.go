package store

import (
	"path/filepath"
	"regexp"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestOpen_schema8RecordsLegacyNames upgrades a schema 7 file: it gets an
// instance ID that stays the same across opens, and the names of the
// engine objects of its apps and kept volumes; an app created after the
// upgrade has none, and deleting an app with its data forgets them.
func TestOpen_schema8RecordsLegacyNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kaj.db")
	s := must(Open(path, Options{Key: testKey}))
	blog := sampleApp("blog")
	blog.Database = &Database{Kind: "mariadb", Image: "mariadb:11.4", Alias: "dbserver", Name: "blog", User: "blog", Volume: "my-blog-volume", Password: "pw"}
	must(s.CreateApp(blog))
	gone := sampleApp("gone")
	gone.Database = &Database{Kind: "mariadb", Image: "mariadb:11.4", Alias: "dbserver", Name: "gone", User: "gone", Volume: "gone-data", Password: "pw"}
	must(s.CreateApp(gone))
	if err := s.DeleteApp("gone", true); err != nil {
		t.Fatal(err)
	}
	must(s.CreateApp(sampleApp("web")))
	s.Close()
	// Back to what a schema 7 kaj left.
	db := must(bolt.Open(path, 0o600, nil))
	if err := db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := meta.Delete(keyInstance); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketLegacy); err != nil {
			return err
		}
		return meta.Put(keySchema, []byte("7"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = must(Open(path, Options{Key: testKey}))
	id := must(s.Instance())
	if !regexp.MustCompile(`^[0-9a-f]{6}$`).MatchString(id) {
		t.Fatalf("instance ID %q; want 6 hex digits", id)
	}
	for app, want := range map[string]LegacyNames{
		"blog": {Network: "kaj-blog", Database: "kaj-blog-db", Volume: "my-blog-volume", Prefix: "kaj-blog-r"},
		"gone": {Network: "kaj-gone", Database: "kaj-gone-db", Volume: "gone-data", Prefix: "kaj-gone-r"},
		"web":  {Network: "kaj-web", Database: "kaj-web-db", Volume: sampleApp("web").Database.Volume, Prefix: "kaj-web-r"},
	} {
		got, ok, err := s.Legacy(app)
		if err != nil || !ok || got != want {
			t.Errorf("legacy names of %s = %+v, %v, %v; want %+v", app, got, ok, err, want)
		}
	}
	must(s.CreateApp(sampleApp("fresh")))
	if _, ok, _ := s.Legacy("fresh"); ok {
		t.Error("an app created after the upgrade has legacy names")
	}
	if err := s.DeleteApp("web", false); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Legacy("web"); ok {
		t.Error("an app deleted with its data keeps its legacy names")
	}
	s.Close()
	s = must(Open(path, Options{Key: testKey}))
	defer s.Close()
	if again := must(s.Instance()); again != id {
		t.Fatalf("instance ID changed across opens: %s then %s", id, again)
	}
}

// TestOpen_freshHasInstance: a new data file gets its own ID.
func TestOpen_freshHasInstance(t *testing.T) {
	a, b := openTest(t), openTest(t)
	if must(a.Instance()) == must(b.Instance()) {
		t.Fatal("two new data files got the same instance ID")
	}
}

func TestStore_lastSwarm(t *testing.T) {
	st := openTest(t)
	if swarm, known, err := st.LastSwarm(); err != nil || swarm || known {
		t.Fatalf("a new store: swarm %v known %v err %v; want nothing recorded", swarm, known, err)
	}
	for _, want := range []bool{true, false} {
		if err := st.SetLastSwarm(want); err != nil {
			t.Fatal(err)
		}
		if swarm, known, err := st.LastSwarm(); err != nil || swarm != want || !known {
			t.Fatalf("after SetLastSwarm(%v): %v %v %v", want, swarm, known, err)
		}
	}
}

func TestStore_done(t *testing.T) {
	st := openTest(t)
	if done, err := st.Done("scrub-secrets"); err != nil || done {
		t.Fatalf("a new store: done %v err %v", done, err)
	}
	if err := st.MarkDone("scrub-secrets"); err != nil {
		t.Fatal(err)
	}
	if done, err := st.Done("scrub-secrets"); err != nil || !done {
		t.Fatalf("after MarkDone: done %v err %v", done, err)
	}
	if done, _ := st.Done("another"); done {
		t.Fatal("another step reads done")
	}
}

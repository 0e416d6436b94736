package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func sampleBackup(app string, at time.Time) Backup {
	id := at.UTC().Format("20060102T150405.000Z")
	return Backup{
		App: app, ID: id, File: app + "/" + id + ".sql.zst",
		Kind: "mariadb", Image: "mariadb:11.4", Database: "blog", User: "blog",
		Format: "sql", Compression: "zstd", Time: at.UTC(), Size: 1234, Duration: 2 * time.Second,
		SHA256: "ab12", Tables: []BackupTable{{Name: "post", Rows: 3}, {Name: "user", Rows: 0}},
	}
}

// TestStore_Backups_roundTrip writes backups of two apps out of order and
// reads them back per app, oldest first, and across apps by time.
func TestStore_Backups_roundTrip(t *testing.T) {
	s := openTest(t)
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	for _, b := range []Backup{
		sampleBackup("blog", t0.Add(2*time.Hour)),
		sampleBackup("blog", t0),
		sampleBackup("blog-2", t0.Add(time.Hour)), // a name sharing blog's prefix
		sampleBackup("blog", t0.Add(3*time.Hour)),
	} {
		if err := s.PutBackup(b); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Backups("blog")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got[0].Time.Equal(t0) || !got[2].Time.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("Backups(blog) = %+v", got)
	}
	if got[0].Tables[0] != (BackupTable{Name: "post", Rows: 3}) || got[0].Duration != 2*time.Second || !got[0].VerifiedAt.IsZero() {
		t.Fatalf("record did not round-trip: %+v", got[0])
	}
	all, err := s.Backups("")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || all[1].App != "blog-2" {
		t.Fatalf("Backups(\"\") = %+v", all)
	}

	// A verification updates the record in place.
	v := got[1]
	v.Verified, v.VerifiedAt = true, t0.Add(5*time.Hour)
	if err := s.PutBackup(v); err != nil {
		t.Fatal(err)
	}
	one, err := s.Backup("blog", v.ID)
	if err != nil || !one.Verified || !one.VerifiedAt.Equal(v.VerifiedAt) {
		t.Fatalf("Backup = %+v, %v", one, err)
	}
}

func TestStore_DeleteBackup(t *testing.T) {
	s := openTest(t)
	b := sampleBackup("blog", time.Now())
	if err := s.PutBackup(b); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBackup("blog", b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup("blog", b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Backup after delete: %v; want ErrNotFound", err)
	}
	if err := s.DeleteBackup("blog", b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v; want ErrNotFound", err)
	}
}

func TestStore_PutBackup_invalid(t *testing.T) {
	s := openTest(t)
	for name, mut := range map[string]func(*Backup){
		"app":       func(b *Backup) { b.App = "Not An App" },
		"empty id":  func(b *Backup) { b.ID = "" },
		"slash id":  func(b *Backup) { b.ID = "../x" },
		"no file":   func(b *Backup) { b.File = "" },
		"dotted id": func(b *Backup) { b.ID = ".tmp" },
	} {
		t.Run(name, func(t *testing.T) {
			b := sampleBackup("blog", time.Now())
			mut(&b)
			if err := s.PutBackup(b); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v; want ErrInvalid", err)
			}
		})
	}
}

// TestOpen_migratesBackups opens a schema 2 file and finds the backups
// bucket there.
func TestOpen_migratesBackups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kaj.db")
	s := must(Open(path, Options{Key: testKey}))
	s.Close()
	db := must(bolt.Open(path, 0o600, nil))
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketBackups); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("2"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = must(Open(path, Options{Key: testKey}))
	defer s.Close()
	if err := s.PutBackup(sampleBackup("blog", time.Now())); err != nil {
		t.Fatalf("migrated file has no backups bucket: %v", err)
	}
}

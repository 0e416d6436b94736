package apps

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// idleDeployer is a Deployer with nothing running; other calls panic.
type idleDeployer struct{ Deployer }

func (idleDeployer) Busy(string) bool { return false }

func (idleDeployer) Containers(context.Context, string) ([]runtime.Status, error) { return nil, nil }

func newService(t *testing.T) *Service {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "kaj.db"), store.Options{Key: bytes.Repeat([]byte{1}, store.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Store: st, Deployer: idleDeployer{}, Catalog: cat, Jobs: jobs.NewManager(10)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var blog = Input{Name: "blog", Image: "microblog:1", Port: 5000, Database: &DatabaseInput{Kind: "mariadb", Image: "mariadb:11"}}

// TestService_Update_keepsBackupSettings: a client that knows nothing of
// backups (an older dashboard, a script) does not turn them off by
// saving the definition; an empty section does.
func TestService_Update_keepsBackupSettings(t *testing.T) {
	s := newService(t)
	in := blog
	in.Backup = &store.BackupSettings{Schedule: "6h", KeepLast: 3}
	v, err := s.Create(context.Background(), "admin", in)
	if err != nil {
		t.Fatal(err)
	}
	in.Backup, in.Version = nil, v.Version
	if v, err = s.Update(context.Background(), "admin", "blog", in); err != nil {
		t.Fatal(err)
	}
	if v.Backup == nil || v.Backup.Schedule != "6h" || v.Backup.KeepLast != 3 {
		t.Fatalf("after an update without backup settings: %+v; want them kept", v.Backup)
	}
	in.Backup, in.Version = &store.BackupSettings{}, v.Version
	if v, err = s.Update(context.Background(), "admin", "blog", in); err != nil {
		t.Fatal(err)
	}
	if v.Backup == nil || v.Backup.Schedule != "" {
		t.Fatalf("after an update with empty settings: %+v; want them cleared", v.Backup)
	}
	in.Backup, in.Version = &store.BackupSettings{Schedule: "every day"}, v.Version
	var ve *store.ValidationError
	if _, err := s.Update(context.Background(), "admin", "blog", in); !errors.As(err, &ve) || ve.Field != "backup.schedule" {
		t.Fatalf("a schedule that does not parse: %v; want a validation error", err)
	}
}

// TestService_DataSnapshot: the data of release N is the snapshot the
// first deploy after N took; without one, or with it gone, the reason.
func TestService_DataSnapshot(t *testing.T) {
	s := newService(t)
	if _, err := s.Create(context.Background(), "admin", blog); err != nil {
		t.Fatal(err)
	}
	st := s.opts.Store
	for _, snap := range []string{"", "", "20261201T030000.000Z", "20261201T040000.000Z"} {
		err := st.Update(func(tx *store.Tx) error {
			r, err := tx.CreateRelease(store.Release{App: "blog"})
			if err != nil {
				return err
			}
			r.Snapshot, r.Status = snap, store.ReleaseSuperseded
			_, err = tx.UpdateRelease(r)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	rec := store.Backup{App: "blog", ID: "20261201T030000.000Z", File: "blog/20261201T030000.000Z.sql.zst", Time: time.Now()}
	if err := st.PutBackup(rec); err != nil {
		t.Fatal(err)
	}
	// Releases 1..4: 3 and 4 took snapshots; 4's is gone.
	if got, err := s.DataSnapshot("blog", 2); err != nil || got.ID != rec.ID {
		t.Fatalf("data of release 2: %v, %v; want release 3's snapshot", got.ID, err)
	}
	var ve *store.ValidationError
	if _, err := s.DataSnapshot("blog", 3); !errors.As(err, &ve) || ve.Field != "restore_data" {
		t.Fatalf("data of release 3, whose snapshot is gone: %v", err)
	}
	if _, err := s.DataSnapshot("blog", 4); !errors.As(err, &ve) {
		t.Fatalf("data of release 4, with no deploy after it: %v", err)
	}
	if _, err := s.DataSnapshot("blog", 1); !errors.As(err, &ve) {
		t.Fatalf("data of release 1, after which release 2 served without a snapshot: %v", err)
	}
}

package backup

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// TestEngine_SweepVerifications leaves a throwaway database as a crash in
// the middle of a verification would, and a look-alike without the
// verification label; the sweep removes the first, all of it, and leaves
// the second.
func TestEngine_SweepVerifications(t *testing.T) {
	t.Parallel()
	tdb := startDB(t, runtime.Postgres, Options{})
	ctx := t.Context()
	abandoned := throwawayPrefix + randomHex(5)
	lookalike := throwawayPrefix + randomHex(5)
	for app, labels := range map[string]map[string]string{
		abandoned: tdb.env.WithLabels(map[string]string{LabelBackup: "verify", LabelBackupOf: tdb.db.App}),
		lookalike: tdb.env.Labels(),
	} {
		if _, err := tdb.rt.EnsureDatabase(ctx, runtime.DatabaseSpec{App: app, Kind: runtime.Postgres, Image: tdb.db.Image, Password: "x", Labels: labels}); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := tdb.engine.SweepVerifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{abandoned}) {
		t.Fatalf("swept %v; want only %s", removed, abandoned)
	}
	assertNoThrowaways(t, tdb.env)
	objs, err := tdb.rt.Reconcile(ctx, func(app, _ string) bool { return app != lookalike })
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 { // its container, network and volume
		t.Fatalf("the look-alike has %d objects left; want 3: %+v", len(objs), objs)
	}
}

type memCatalog struct{ recs []Record }

func (m *memCatalog) Backups(app string) ([]Record, error) { return m.recs, nil }
func (m *memCatalog) DeleteBackup(app, id string) error {
	m.recs = slices.DeleteFunc(m.recs, func(r Record) bool { return r.ID == id })
	return nil
}

// TestEngine_Prune removes the expired backups' files and records, and
// what a dump cut short by a crash left, but not the kept backups.
func TestEngine_Prune(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	e, err := New(nil, t.TempDir(), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	cat := &memCatalog{}
	for i := 3; i >= 1; i-- {
		at := now.Add(-time.Duration(i) * time.Hour)
		rec := Record{App: "blog", ID: at.Format(idLayout), File: "blog/" + at.Format(idLayout) + ".sql.zst", Time: at}
		cat.recs = append(cat.recs, rec)
		os.MkdirAll(filepath.Dir(e.Path(rec)), 0o700)
		if err := os.WriteFile(e.Path(rec), []byte("dump"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	partial := filepath.Join(e.Dir(), "blog", ".20261201T110000.000Z-123.partial")
	os.WriteFile(partial, []byte("half a dump"), 0o600)

	removed, err := e.Prune(context.Background(), cat, "blog", Retention{KeepLast: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || len(cat.recs) != 1 || cat.recs[0].Time != now.Add(-time.Hour) {
		t.Fatalf("removed %v; kept %v", removed, cat.recs)
	}
	if got := files(t, e.Dir()); !slices.Equal(got, []string{cat.recs[0].File}) {
		t.Fatalf("files left: %v", got)
	}
}

var _ Catalog = (*memCatalog)(nil)

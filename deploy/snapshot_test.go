package deploy

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// snapshotFunc is a Snapshotter from a function.
type snapshotFunc func(ctx context.Context, a store.App) (string, string, error)

func (f snapshotFunc) Snapshot(ctx context.Context, a store.App, actor string, emit jobs.Emit) (string, string, error) {
	return f(ctx, a)
}

// TestDeploy_snapshot: an app asking for a snapshot before deploy gets
// one as the first step, its ID on the release; a snapshot that fails
// stops the deploy before anything changes; a rollback takes none; an
// app that does not ask gets none.
func TestDeploy_snapshot(t *testing.T) {
	_, rt, st := setup(t)
	var calls int
	fail := false
	d := New(st, rt, fakeImages{}, Options{PublishIP: netip.MustParseAddr("127.0.0.1"), Snapshot: snapshotFunc(func(ctx context.Context, a store.App) (string, string, error) {
		calls++
		if fail {
			return "", "", errors.New("the dump failed")
		}
		return "snap-" + a.Image, "backed up", nil
	})})
	r1, err := d.Deploy(context.Background(), "blog", "ann", nil)
	if err != nil || r1.Snapshot != "" || calls != 0 || r1.Steps[0].Name != StepImage {
		t.Fatalf("deploy without the setting: %+v, %v, %d snapshots", r1, err, calls)
	}
	a, _ := st.App("blog")
	a.Backup = &store.BackupSettings{SnapshotBeforeDeploy: true}
	a.Image = "good:2"
	if _, err := st.UpdateApp(a); err != nil {
		t.Fatal(err)
	}
	r2, err := d.Deploy(context.Background(), "blog", "ann", nil)
	if err != nil || r2.Snapshot != "snap-good:2" || r2.Steps[0].Name != StepSnapshot || r2.Steps[1].Name != StepImage {
		t.Fatalf("deploy with a snapshot: %+v, %v", r2, err)
	}
	fail = true
	r3, err := d.Deploy(context.Background(), "blog", "ann", nil)
	if err == nil || r3.Status != store.ReleaseFailed || len(r3.Steps) != 1 || !strings.Contains(r3.Error, "dump failed") {
		t.Fatalf("deploy whose snapshot failed: %+v, %v; want it failed at the first step", r3, err)
	}
	before := calls
	r4, err := d.Rollback(context.Background(), "blog", r1.Number, "ann", nil)
	if err != nil || calls != before || r4.Snapshot != "" {
		t.Fatalf("rollback: %+v, %v, %d snapshots", r4, err, calls-before)
	}
}

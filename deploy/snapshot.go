package deploy

import (
	"context"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// Snapshotter backs up an app's database before a deploy changes the app.
type Snapshotter interface {
	// Snapshot backs up a's database and returns the backup's ID and a
	// line saying what was done. An empty ID with a nil error means there
	// was nothing to back up yet (the database was never started); an
	// error fails the deploy before anything changed.
	Snapshot(ctx context.Context, a store.App, actor string, emit jobs.Emit) (id, detail string, err error)
}

// snapshot runs StepSnapshot when a asks for a snapshot before deploy and
// records the backup's ID on the release. A rollback takes none: it is
// how the data of a snapshot is brought back, and its own changes are
// those of a release that already ran.
func (d *Deployer) snapshot(ctx context.Context, r *run, a store.App) error {
	if d.opts.Snapshot == nil || a.Database == nil || a.Backup == nil || !a.Backup.SnapshotBeforeDeploy || r.rel.Rollback != 0 {
		return nil
	}
	return r.step(StepSnapshot, func() (string, error) {
		id, detail, err := d.opts.Snapshot.Snapshot(ctx, a, r.rel.CreatedBy, r.emit)
		if err == nil {
			r.rel.Snapshot = id
		}
		return detail, err
	})
}

package apps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/kajhq/kaj/backup"
	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// NewSnapshotter is the deploy pipeline's snapshot before deploy: a
// backup of the app's database, verified and pruned as the app's backup
// settings say, like any other backup. names gives the engine names of
// an app's objects (its database container).
func NewSnapshotter(st *store.Store, eng Backups, names deploy.Namer, log *slog.Logger) deploy.Snapshotter {
	if log == nil {
		log = slog.Default()
	}
	return &backupper{opts: Options{Store: st, Backups: eng, Logger: log}, log: log, namer: names}
}

var _ deploy.Snapshotter = (*backupper)(nil)

// Snapshot backs up a's database before a deploy. A database that is
// down before the app ever served holds nothing yet: there is nothing to
// snapshot and the deploy goes on. A snapshot that cannot be taken, or
// does not prove it restores, stops the deploy before anything changed.
func (s *backupper) Snapshot(ctx context.Context, a store.App, actor string, emit jobs.Emit) (string, string, error) {
	rec, err := s.backUp(ctx, actor, a.Name, "snapshot before deploy", emit)
	if err != nil && rec.ID == "" && errors.Is(err, backup.ErrDatabaseDown) {
		if served, serr := s.served(a.Name); serr == nil && !served {
			return "", "the database has not run yet: nothing to snapshot", nil
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("snapshot before deploy (turn it off in the app's backup settings to deploy without one): %w", err)
	}
	return rec.ID, fmt.Sprintf("backup %s of the database as the previous release left it", rec.ID), nil
}

// served reports whether any release of app ever served.
func (s *backupper) served(app string) (bool, error) {
	rels, err := s.opts.Store.Releases(app, 0)
	if err != nil {
		return false, err
	}
	for _, r := range rels {
		if r.Status == store.ReleaseLive || r.Status == store.ReleaseSuperseded {
			return true, nil
		}
	}
	return false, nil
}

// DataSnapshot is the snapshot that holds app's data as release to left
// it: the one the first deploy after to took, provided no release
// between them served (whose writes it would hold). A
// *store.ValidationError on "restore_data" says why there is none.
func (s *Service) DataSnapshot(app string, to uint64) (store.Backup, error) {
	rels, err := s.opts.Store.Releases(app, 0) // newest first
	if err != nil {
		return store.Backup{}, err
	}
	var id string
	var by uint64
	for _, r := range slices.Backward(rels) {
		if r.Number <= to {
			continue
		}
		if r.Snapshot != "" {
			id, by = r.Snapshot, r.Number
			break
		}
		if r.Status == store.ReleaseLive || r.Status == store.ReleaseSuperseded {
			return store.Backup{}, &store.ValidationError{Field: "restore_data", Msg: fmt.Sprintf("release %d served after release %d without a snapshot before it, so no snapshot holds release %d's data; roll back the app alone", r.Number, to, to)}
		}
	}
	if id == "" {
		return store.Backup{}, &store.ValidationError{Field: "restore_data", Msg: fmt.Sprintf("no snapshot holds the data of release %d: no deploy after it took one (turn on snapshot before deploy in the app's backup settings); roll back the app alone", to)}
	}
	rec, err := s.opts.Store.Backup(app, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Backup{}, &store.ValidationError{Field: "restore_data", Msg: fmt.Sprintf("the snapshot %s release %d took is gone (deleted, or removed by retention); roll back the app alone", id, by)}
	}
	return rec, err
}

// StartRollbackWithData rolls app back to release to (zero: the previous
// good one) and its database to the snapshot that holds the data as that
// release left it ("roll back app and data"), as one job: the restore
// first, the app stopped and a safety backup taken, then the rollback.
func (s *Service) StartRollbackWithData(life context.Context, actor, app string, to uint64) (*jobs.Job, error) {
	eng, err := s.backups()
	if err != nil {
		return nil, err
	}
	rels, err := s.opts.Store.Releases(app, 0)
	if err != nil {
		return nil, err
	}
	if to, err = deploy.RollbackTarget(app, rels, to); err != nil {
		return nil, err
	}
	snap, err := s.DataSnapshot(app, to)
	if err != nil {
		return nil, err
	}
	if err := s.claimable(app); err != nil {
		return nil, err
	}
	return s.opts.Jobs.Start(life, JobRollback, app, actor, func(ctx context.Context, emit jobs.Emit) error {
		what := fmt.Sprintf("snapshot %s (the data of release %d)", snap.ID, to)
		err := s.restore(ctx, actor, app, what, RestoreOptions{}, emit, func(ctx context.Context, db backup.Database, progress func(backup.Progress)) error {
			return eng.Restore(ctx, db, snap, progress)
		})
		if err != nil {
			return fmt.Errorf("rolling back the data (the app was not rolled back): %w", err)
		}
		if _, err := s.opts.Deployer.Rollback(ctx, app, to, actor, emit); err != nil {
			return fmt.Errorf("the data is back as release %d left it, but the app's rollback failed; roll back the app alone: %w", to, err)
		}
		if a, gerr := s.opts.Store.App(app); gerr == nil {
			s.syncRoute(a)
		}
		return nil
	}), nil
}

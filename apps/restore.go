package apps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kajhq/kaj/backup"
	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// MaxUpload bounds an uploaded dump: a logical dump this big takes
// longer to load than an upload through a browser is worth; bigger ones
// are restored by hand (see the README).
const MaxUpload = 2 << 30

// RestoreOptions say how a restore treats the app.
type RestoreOptions struct {
	// KeepServing leaves the app running while its database is replaced;
	// by default it is stopped (its address answers 503) and started
	// again afterwards, so it never writes into a half-loaded database.
	KeepServing bool `json:"keep_serving"`
}

// StartRestore loads the kept backup id into app's database as a job: a
// safety backup of what the database holds now first, then the load, the
// app stopped meanwhile unless opts.KeepServing. A backup of another
// database kind is refused up front.
func (s *Service) StartRestore(life context.Context, actor, app, id string, opts RestoreOptions) (*jobs.Job, error) {
	eng, err := s.backups()
	if err != nil {
		return nil, err
	}
	a, db, err := s.databaseIn(life, app)
	if err != nil {
		return nil, err
	}
	rec, err := s.opts.Store.Backup(app, id)
	if err != nil {
		return nil, err
	}
	if !sameFamily(rec.Kind, a.Database.Kind) {
		return nil, &store.ValidationError{Field: "id", Msg: fmt.Sprintf("backup %s holds %s data and %s's database is %s: %v", id, rec.Kind, app, db.Kind, backup.ErrKindMismatch)}
	}
	if err := s.claimable(app); err != nil {
		return nil, err
	}
	return s.opts.Jobs.Start(life, JobRestore, app, actor, func(ctx context.Context, emit jobs.Emit) error {
		// A damaged file is refused before the app stops.
		if err := step(emit, StepCheck, func() (string, error) {
			if err := eng.Check(rec); err != nil {
				s.event(actor, store.ActionDBRestoreErr, app, "backup "+id+": "+err.Error())
				return "", restoreError(fmt.Errorf("restoring %s: %w", app, err))
			}
			return fmt.Sprintf("%s matches its checksum sha256:%.12s", rec.File, rec.SHA256), nil
		}); err != nil {
			return err
		}
		return s.restore(ctx, actor, app, "backup "+id, opts, emit, func(ctx context.Context, db backup.Database, progress func(backup.Progress)) error {
			return eng.Restore(ctx, db, rec, progress)
		})
	}), nil
}

// StartRestoreUpload loads a dump the user uploads into app's database,
// as StartRestore does a kept one. It reads upload to its end (at most
// MaxUpload bytes) into a file beside the app's backups before it
// returns, so the job does not depend on the request.
func (s *Service) StartRestoreUpload(life context.Context, actor, app string, upload io.Reader, opts RestoreOptions) (*jobs.Job, error) {
	eng, err := s.backups()
	if err != nil {
		return nil, err
	}
	if _, _, err := s.database(app); err != nil {
		return nil, err
	}
	if err := s.claimable(app); err != nil {
		return nil, err
	}
	path, n, err := saveUpload(eng.Dir(), app, upload)
	if err != nil {
		return nil, err
	}
	return s.opts.Jobs.Start(life, JobRestore, app, actor, func(ctx context.Context, emit jobs.Emit) error {
		defer os.Remove(path)
		return s.restore(ctx, actor, app, fmt.Sprintf("an uploaded dump (%s)", size(n)), opts, emit, func(ctx context.Context, db backup.Database, progress func(backup.Progress)) error {
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("reading the uploaded dump: %w", err)
			}
			defer f.Close()
			return eng.RestoreUpload(ctx, db, f, n, progress)
		})
	}), nil
}

// claimable refuses a restore while a deploy or operation of app runs.
func (s *Service) claimable(app string) error {
	if s.opts.Deployer.Busy(app) {
		return fmt.Errorf("%w: a deploy or operation of %s is running; restore when it has finished", deploy.ErrBusy, app)
	}
	if _, ok := s.opts.Deployer.(Holder); !ok {
		return errors.New("apps: this deployer cannot hold an app for a restore")
	}
	return nil
}

type loadFunc func(ctx context.Context, db backup.Database, progress func(backup.Progress)) error

// restore runs a restore with app claimed: a safety backup, then load.
func (s *Service) restore(ctx context.Context, actor, app, what string, opts RestoreOptions, emit jobs.Emit, load loadFunc) error {
	h := s.opts.Deployer.(Holder)
	err := h.Hold(ctx, app, !opts.KeepServing, func(ctx context.Context) error {
		return s.restoreHeld(ctx, actor, app, what, emit, load)
	})
	if err != nil {
		s.event(actor, store.ActionDBRestoreErr, app, what+": "+err.Error())
		return err
	}
	s.event(actor, store.ActionDBRestore, app, what+" restored")
	return nil
}

// restoreHeld is a restore once the app is claimed.
func (s *Service) restoreHeld(ctx context.Context, actor, app, what string, emit jobs.Emit, load loadFunc) error {
	eng, err := s.backups()
	if err != nil {
		return err
	}
	_, db, err := s.databaseIn(ctx, app)
	if err != nil {
		return err
	}
	// The safety backup is neither verified (it would double the time the
	// app is down) nor followed by retention (which could remove the
	// very backup being restored).
	if err := step(emit, StepSafety, func() (string, error) {
		rec, err := eng.Dump(ctx, db)
		if err != nil {
			return "", fmt.Errorf("taking a safety backup before the restore (nothing was changed): %w", backupError(app, err))
		}
		if err := s.opts.Store.PutBackup(rec); err != nil {
			return "", errors.Join(err, eng.Remove(rec))
		}
		s.event(actor, store.ActionBackup, app, fmt.Sprintf("%s (safety backup before restoring %s): %s", rec.ID, what, size(rec.Size)))
		return fmt.Sprintf("%s: what the database held before the restore, %s; restore it to undo", rec.ID, size(rec.Size)), nil
	}); err != nil {
		return err
	}
	return step(emit, StepRestore, func() (string, error) {
		err := load(ctx, db, func(p backup.Progress) {
			emit(jobs.Event{Type: jobs.TypeProgress, Step: StepRestore, Current: p.Done, Total: p.Total})
		})
		if err != nil {
			return "", restoreError(err)
		}
		return what + " loaded into " + db.Container, nil
	})
}

// restoreError says what a failed restore means to the user; the
// engine's errors already name the app and what was being done.
func restoreError(err error) error {
	switch {
	case errors.Is(err, backup.ErrKindMismatch):
		return &store.ValidationError{Field: "database", Msg: err.Error() + "; the database was not touched"}
	case errors.Is(err, backup.ErrDamaged):
		return &store.ValidationError{Field: "file", Msg: err.Error() + "; the database was not touched"}
	case errors.Is(err, backup.ErrDatabaseDown):
		return &store.ValidationError{Field: "database", Msg: err.Error()}
	}
	return err
}

// saveUpload copies an upload to a hidden file in app's backups
// directory, refusing one bigger than MaxUpload.
func saveUpload(dir, app string, upload io.Reader) (string, int64, error) {
	d := filepath.Join(dir, app)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", 0, fmt.Errorf("saving the upload: %w", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	path := filepath.Join(d, ".upload-"+hex.EncodeToString(b))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", 0, fmt.Errorf("saving the upload: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(upload, MaxUpload+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		os.Remove(path)
		return "", 0, fmt.Errorf("saving the upload: %w", err)
	case n > MaxUpload:
		os.Remove(path)
		return "", 0, &store.ValidationError{Field: "file", Msg: fmt.Sprintf("the upload is bigger than %s; restore a dump this big by hand (see the README)", size(MaxUpload))}
	case n == 0:
		os.Remove(path)
		return "", 0, &store.ValidationError{Field: "file", Msg: "the upload is empty: send the dump as the request body or as the form field \"file\""}
	}
	return path, n, nil
}

func openFile(path string) (io.ReadSeekCloser, error) { return os.Open(path) }

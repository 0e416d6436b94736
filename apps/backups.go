package apps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/kajhq/kaj/backup"
	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Backups is what apps uses of the backup engine.
type Backups interface {
	Dump(ctx context.Context, db backup.Database) (backup.Record, error)
	Verify(ctx context.Context, rec backup.Record) (backup.Record, error)
	Restore(ctx context.Context, db backup.Database, rec backup.Record, progress func(backup.Progress)) error
	RestoreUpload(ctx context.Context, db backup.Database, upload io.Reader, size int64, progress func(backup.Progress)) error
	Prune(ctx context.Context, cat backup.Catalog, app string, r backup.Retention) ([]backup.Record, error)
	Check(rec backup.Record) error
	Remove(rec backup.Record) error
	Path(rec backup.Record) string
	Dir() string
}

var _ Backups = (*backup.Engine)(nil)

// Holder is the optional capability of a Deployer that restores need:
// claiming an app, its app containers stopped or not, while its database
// is replaced.
type Holder interface {
	Hold(ctx context.Context, app string, stopApp bool, fn func(ctx context.Context) error) error
}

// backupper takes backups for the service and for the deploy pipeline's
// snapshots: it uses only the store, the backup engine and the logger.
type backupper struct {
	opts Options
	log  *slog.Logger
	// namer names the app's engine objects; nil means the deployer's.
	namer deploy.Namer
}

// dbContainer is the name of app's database container.
func (s *backupper) dbContainer(app string) string {
	if s.namer != nil {
		return s.namer.Names(app).Database
	}
	return namesOf(s.opts.Deployer, app).Database
}

// DatabaseLocator finds the engine container of an app's database where
// its name alone does not: on a swarm, the container of its task.
type DatabaseLocator interface {
	DatabaseContainer(ctx context.Context, app string) (string, error)
}

// databaseIn is database with the container found in the engine: on a
// swarm its task's container on the manager. A database with no
// running task is down, as a stopped container is.
func (s *backupper) databaseIn(ctx context.Context, app string) (store.App, backup.Database, error) {
	a, db, err := s.database(app)
	if err != nil {
		return a, db, err
	}
	l, ok := s.namer.(DatabaseLocator)
	if !ok || s.namer == nil {
		l, ok = s.opts.Deployer.(DatabaseLocator)
	}
	if !ok {
		return a, db, nil
	}
	c, err := l.DatabaseContainer(ctx, app)
	if errors.Is(err, runtime.ErrNotFound) {
		return a, db, fmt.Errorf("%w: %v", backup.ErrDatabaseDown, err)
	}
	if err != nil {
		return a, db, err
	}
	db.Container = c
	return a, db, nil
}

// ErrBackupsOff: this kaj was built without a backup engine.
var ErrBackupsOff = errors.New("backups are not enabled in this kaj")

// Job kinds of backups.
const (
	JobBackup  = "backup"
	JobRestore = "restore"
)

// Steps of backup and restore jobs, as their events name them.
const (
	StepDump      = "dump"
	StepVerify    = "verify"
	StepRetention = "retention"
	StepCheck     = "check"
	StepSafety    = "safety backup"
	StepRestore   = "restore"
)

// BackupState is an app's last backup as its view shows it: the state
// kaj most wants seen is a backup that did not prove it restores.
type BackupState struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	// State is "verified", "unverified" (not checked) or "failed"
	// (checked, and it does not restore: Error says why).
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// Next is the next scheduled backup; zero without a schedule.
	Next time.Time `json:"next,omitzero"`
}

// States of a backup.
const (
	BackupVerified   = "verified"
	BackupUnverified = "unverified"
	BackupFailed     = "failed"
)

func backupState(b store.Backup) BackupState {
	st := BackupState{ID: b.ID, Time: b.Time, State: BackupUnverified}
	switch {
	case b.Verified:
		st.State = BackupVerified
	case b.VerifyError != "":
		st.State, st.Error = BackupFailed, b.VerifyError
	}
	return st
}

func (s *backupper) backups() (Backups, error) {
	if s.opts.Backups == nil {
		return nil, fmt.Errorf("%w: start kaj with a data directory it can write backups to", ErrBackupsOff)
	}
	return s.opts.Backups, nil
}

// database is the backup engine's handle on app's database.
func (s *backupper) database(app string) (store.App, backup.Database, error) {
	a, err := s.opts.Store.App(app)
	if err != nil {
		return store.App{}, backup.Database{}, err
	}
	if a.Database == nil {
		return a, backup.Database{}, &store.ValidationError{Field: "database", Msg: fmt.Sprintf("app %s has no database to back up or restore", app)}
	}
	sec, err := s.opts.Store.RevealApp(app)
	if err != nil {
		return a, backup.Database{}, err
	}
	d := a.Database
	return a, backup.Database{
		App: app, Container: s.dbContainer(app), Kind: runtime.DatabaseKind(d.Kind), Image: d.Image,
		Name: d.Name, User: d.User, Password: sec.DatabasePassword,
	}, nil
}

// ListBackups lists app's backups, newest first.
func (s *Service) ListBackups(app string) ([]store.Backup, error) {
	if _, err := s.opts.Store.App(app); err != nil {
		return nil, err
	}
	recs, err := s.opts.Store.Backups(app)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs, nil
}

// StartBackup takes a backup of app's database as a job: dump, verify
// (unless the app's settings turn it off), retention. The job fails when
// the backup could not be taken or does not prove it restores.
func (s *Service) StartBackup(life context.Context, actor, app string) (*jobs.Job, error) {
	if _, err := s.backups(); err != nil {
		return nil, err
	}
	if _, _, err := s.database(app); err != nil {
		return nil, err
	}
	return s.opts.Jobs.Start(life, JobBackup, app, actor, func(ctx context.Context, emit jobs.Emit) error {
		_, err := s.backUp(ctx, actor, app, "on demand", emit)
		return err
	}), nil
}

// backUp takes, records, verifies and prunes one backup of app. The
// record comes back as soon as the dump is stored, with an error when
// verification could not run or failed.
func (s *backupper) backUp(ctx context.Context, actor, app, why string, emit jobs.Emit) (store.Backup, error) {
	eng, err := s.backups()
	if err != nil {
		return store.Backup{}, err
	}
	a, db, err := s.databaseIn(ctx, app)
	if err != nil {
		return store.Backup{}, err
	}
	var rec store.Backup
	err = step(emit, StepDump, func() (string, error) {
		rec, err = eng.Dump(ctx, db)
		if err != nil {
			s.event(actor, store.ActionBackupFail, app, why+": "+err.Error())
			return "", backupError(app, err)
		}
		if err := s.opts.Store.PutBackup(rec); err != nil {
			return "", errors.Join(err, eng.Remove(rec))
		}
		s.event(actor, store.ActionBackup, app, fmt.Sprintf("%s (%s): %s, %d tables, %d rows, sha256 %s", rec.ID, why, size(rec.Size), len(rec.Tables), rows(rec), rec.SHA256))
		return fmt.Sprintf("%s: %s in %s, %d tables, %d rows", rec.ID, size(rec.Size), rec.Duration.Round(time.Millisecond), len(rec.Tables), rows(rec)), nil
	})
	if err != nil {
		return rec, err
	}
	if a.Backup.Verify() {
		if err := step(emit, StepVerify, func() (string, error) { return s.verify(ctx, actor, &rec) }); err != nil {
			return rec, err
		}
	}
	if a.Backup != nil && (a.Backup.KeepLast > 0 || a.Backup.KeepDays > 0) {
		err = step(emit, StepRetention, func() (string, error) {
			gone, err := eng.Prune(ctx, s.opts.Store, app, backup.Retention{KeepLast: a.Backup.KeepLast, KeepDays: a.Backup.KeepDays})
			for _, g := range gone {
				s.event(actor, store.ActionBackupPrune, app, g.ID+" removed by retention")
			}
			return fmt.Sprintf("removed %d old backup(s)", len(gone)), err
		})
	}
	return rec, err
}

// verify proves rec restores and records the outcome on it.
func (s *backupper) verify(ctx context.Context, actor string, rec *store.Backup) (string, error) {
	out, err := s.opts.Backups.Verify(ctx, *rec)
	if err != nil {
		s.event(actor, store.ActionBackupVerify, rec.App, rec.ID+" could not be verified: "+err.Error())
		return "", fmt.Errorf("verifying backup %s of %s could not run: %w", rec.ID, rec.App, err)
	}
	*rec = out
	if err := s.opts.Store.PutBackup(out); err != nil {
		return "", err
	}
	if !out.Verified {
		s.event(actor, store.ActionBackupVerify, rec.App, rec.ID+" FAILED verification: "+out.VerifyError)
		return "", fmt.Errorf("backup %s of %s does not restore: %s", rec.ID, rec.App, out.VerifyError)
	}
	s.event(actor, store.ActionBackupVerify, rec.App, rec.ID+" verified: it restores, with the same tables and rows")
	return fmt.Sprintf("%s restores into a throwaway database with the same %d tables and %d rows", rec.ID, len(rec.Tables), rows(*rec)), nil
}

// VerifyBackup verifies a kept backup again, as a job.
func (s *Service) VerifyBackup(life context.Context, actor, app, id string) (*jobs.Job, error) {
	if _, err := s.backups(); err != nil {
		return nil, err
	}
	rec, err := s.opts.Store.Backup(app, id)
	if err != nil {
		return nil, err
	}
	return s.opts.Jobs.Start(life, JobBackup, app, actor, func(ctx context.Context, emit jobs.Emit) error {
		return step(emit, StepVerify, func() (string, error) { return s.verify(ctx, actor, &rec) })
	}), nil
}

// BackupFile opens a kept backup for a download and records who took it.
// The caller closes the file.
func (s *Service) BackupFile(actor, app, id, from string) (store.Backup, io.ReadSeekCloser, error) {
	eng, err := s.backups()
	if err != nil {
		return store.Backup{}, nil, err
	}
	rec, err := s.opts.Store.Backup(app, id)
	if err != nil {
		return store.Backup{}, nil, err
	}
	f, err := openFile(eng.Path(rec))
	if err != nil {
		return rec, nil, fmt.Errorf("opening backup %s of %s: %w", id, app, err)
	}
	s.event(actor, store.ActionBackupFetch, app, id+" downloaded from "+from)
	return rec, f, nil
}

// DeleteBackup removes a kept backup: its file, then its record.
func (s *Service) DeleteBackup(actor, app, id string) error {
	eng, err := s.backups()
	if err != nil {
		return err
	}
	rec, err := s.opts.Store.Backup(app, id)
	if err != nil {
		return err
	}
	if err := eng.Remove(rec); err != nil {
		return err
	}
	if err := s.opts.Store.DeleteBackup(app, id); err != nil {
		return err
	}
	s.event(actor, store.ActionBackupDelete, app, id)
	return nil
}

// backupError says what a failed dump means to the user.
func backupError(app string, err error) error {
	switch {
	case errors.Is(err, backup.ErrDatabaseDown):
		return fmt.Errorf("no file was written: %w", err)
	case errors.Is(err, backup.ErrDumpFailed):
		return fmt.Errorf("backing up %s: %w; no file was written", app, err)
	}
	return fmt.Errorf("backing up %s: %w", app, err)
}

// step reports fn as a job step.
func step(emit jobs.Emit, name string, fn func() (string, error)) error {
	emit(jobs.Event{Type: jobs.TypeStep, Step: name, Status: jobs.StatusRunning})
	detail, err := fn()
	if err != nil {
		emit(jobs.Event{Type: jobs.TypeStep, Step: name, Status: jobs.StatusFailed, Message: err.Error()})
		return err
	}
	emit(jobs.Event{Type: jobs.TypeStep, Step: name, Status: jobs.StatusSucceeded, Message: detail})
	return nil
}

// event records an audit event; a store that cannot take it is logged:
// the operation it records has happened.
func (s *backupper) event(actor string, action store.Action, app, detail string) {
	if _, err := s.opts.Store.AddEvent(store.Event{Actor: actor, Action: action, Target: app, Detail: detail}); err != nil {
		s.log.Error("recording an event", "action", action, "app", app, "err", err)
	}
}

func rows(b store.Backup) int64 {
	var n int64
	for _, t := range b.Tables {
		n += t.Rows
	}
	return n
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

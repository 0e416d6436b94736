package apps

import (
	"context"
	"time"

	"github.com/kajhq/kaj/backup"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// validateSchedule checks a backup schedule as the scheduler will read it.
func validateSchedule(b *store.BackupSettings) error {
	if b == nil || b.Schedule == "" {
		return nil
	}
	if _, err := backup.ParseSchedule(b.Schedule); err != nil {
		return &store.ValidationError{Field: "backup.schedule", Msg: err.Error()}
	}
	return nil
}

// RunBackups runs the scheduled backups of every app until ctx ends, and
// returns ctx's error. Schedules follow the apps' definitions: Create,
// Update and Delete tell the scheduler. Call it once, at start.
func (s *Service) RunBackups(ctx context.Context) error {
	if s.sched == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	all, err := s.opts.Store.Apps()
	if err != nil {
		return err
	}
	for _, a := range all {
		s.reschedule(a)
	}
	return s.sched.Run(ctx)
}

// scheduled is one scheduled backup: its outcome is in the event trail
// and on the record, where the app's view shows it.
func (s *Service) scheduled(ctx context.Context, app string) {
	start := time.Now()
	rec, err := s.backUp(ctx, "scheduler", app, "scheduled", func(jobs.Event) {})
	if err != nil {
		s.log.Error("scheduled backup", "app", app, "backup", rec.ID, "err", err)
		return
	}
	s.log.Info("scheduled backup", "app", app, "backup", rec.ID, "size", rec.Size, "verified", rec.Verified, "took", time.Since(start).Round(time.Millisecond))
}

// reschedule gives the scheduler a's schedule, or takes it away.
func (s *Service) reschedule(a store.App) {
	if s.sched == nil {
		return
	}
	if a.Backup == nil || a.Backup.Schedule == "" || a.Database == nil {
		s.sched.Set(a.Name, nil)
		return
	}
	sched, err := backup.ParseSchedule(a.Backup.Schedule)
	if err != nil {
		// Validation keeps such schedules out; one stored by an older
		// kaj with other rules is reported, not run.
		s.log.Error("the app's backup schedule does not parse; no scheduled backups", "app", a.Name, "err", err)
		s.sched.Set(a.Name, nil)
		return
	}
	s.sched.Set(a.Name, sched)
}

// unschedule forgets a deleted app's schedule.
func (s *Service) unschedule(app string) {
	if s.sched != nil {
		s.sched.Set(app, nil)
	}
}

// nextBackup is app's next scheduled backup; zero without one.
func (s *Service) nextBackup(app string) time.Time {
	if s.sched == nil {
		return time.Time{}
	}
	t, _ := s.sched.Next(app)
	return t
}

// lastBackup is the state of app's newest backup and its next scheduled
// one; nil when it has neither.
func (s *Service) lastBackup(app string) *BackupState {
	var st BackupState
	if recs, err := s.opts.Store.Backups(app); err == nil && len(recs) > 0 {
		st = backupState(recs[len(recs)-1])
	} else if err != nil {
		s.log.Warn("reading the app's backups", "app", app, "err", err)
	}
	st.Next = s.nextBackup(app)
	if st.ID == "" && st.Next.IsZero() {
		return nil
	}
	return &st
}

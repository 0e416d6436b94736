package store

import "strings"

// BackupSettings are an app's backup settings, kept on its definition.
// They are not part of a release: a rollback leaves them as they are.
type BackupSettings struct {
	// Schedule is when backups run: an interval ("6h") or a 5-field cron
	// expression ("30 3 * * *"); empty means on demand only. The backup
	// package parses it (backup.ParseSchedule); the store only checks it
	// is one line.
	Schedule string `json:"schedule,omitempty"`
	// KeepLast and KeepDays are the retention rule applied after each
	// backup: keep the newest KeepLast, and those younger than KeepDays
	// days; zero sets no such rule, both zero keep everything.
	KeepLast int `json:"keep_last,omitempty"`
	KeepDays int `json:"keep_days,omitempty"`
	// NoVerify turns off the verification after each backup, which is on
	// by default (so the zero value verifies).
	NoVerify bool `json:"no_verify,omitempty"`
	// SnapshotBeforeDeploy takes a backup as the first step of every
	// deploy, so a rollback can return the data too. Off by default.
	SnapshotBeforeDeploy bool `json:"snapshot_before_deploy,omitempty"`
}

// Verify reports whether backups are verified after they are taken.
func (b *BackupSettings) Verify() bool { return b == nil || !b.NoVerify }

// maxKeepDays bounds KeepDays to a century: more is a typo, and the
// cutoff's arithmetic stays far from overflowing a time.Duration.
const maxKeepDays = 36500

func (b *BackupSettings) validate(hasDB bool) error {
	switch {
	case !hasDB && (b.Schedule != "" || b.SnapshotBeforeDeploy):
		return invalid("backup", "the app has no database to back up; add one, or clear the backup schedule and snapshot setting")
	case strings.ContainsAny(b.Schedule, "\n\r"):
		return invalid("backup.schedule", "must be one line: an interval like \"6h\" or a cron expression like \"30 3 * * *\"")
	case b.KeepLast < 0:
		return invalid("backup.keep_last", "%d: keep a number of backups, or 0 for no such rule", b.KeepLast)
	case b.KeepDays < 0 || b.KeepDays > maxKeepDays:
		return invalid("backup.keep_days", "%d: keep 1 to %d days of backups, or 0 for no such rule", b.KeepDays, maxKeepDays)
	}
	return nil
}

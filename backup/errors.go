package backup

import "errors"

// The errors callers match with errors.Is.
var (
	// ErrDatabaseDown: the app's database container is not running, or
	// is missing. Nothing was written.
	ErrDatabaseDown = errors.New("the database is not running")
	// ErrDumpFailed: the dump tool failed or its output was incomplete.
	// Nothing was written.
	ErrDumpFailed = errors.New("the dump failed")
	// ErrDamaged: a backup file does not match its recorded checksum, or
	// cannot be decompressed. Restore refuses it.
	ErrDamaged = errors.New("the backup file is damaged")
	// ErrRestoreFailed: the database refused the dump; the message holds
	// the client's last error lines.
	ErrRestoreFailed = errors.New("the restore failed")
	// ErrKindMismatch: the backup is of another database family than the
	// database it would be restored into.
	ErrKindMismatch = errors.New("the backup is of another database kind")
)

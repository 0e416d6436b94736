// Package backup takes, proves and restores backups of an app's database.
//
// # Backups
//
// Engine.Dump streams a logical dump out of the app's running database
// container through the engine's exec API — mariadb-dump or mysqldump
// --single-transaction --quick --routines for MySQL and MariaDB, pg_dump
// -Fc for PostgreSQL — compresses it (zstd or gzip) and writes it under
// the backups directory as <app>/<ID>.<ext>, atomically: a file under its
// final name is always a whole dump. Nothing is written inside the
// container. The Record it returns holds the file's size, checksum, the
// time the dump took, and the tables with their row counts: for
// PostgreSQL counted by the source in the very snapshot pg_dump reads
// (an exported snapshot); for MySQL and MariaDB, which cannot share a
// snapshot between sessions, the rows the dump itself holds, counted as
// it streams past.
//
// # Verification
//
// Engine.Verify proves a backup restores: it checks the file's checksum,
// starts a throwaway database container of the same image on a private
// network with a throwaway volume (an app of its own, named kv-<hex> and
// labelled kaj.backup=verify), loads the dump into it, and compares the
// tables and row counts with the record. It always removes what it
// started.
//
// # Restore, retention, schedules
//
// Engine.Restore loads a kept backup, or a dump the user uploads, into the
// app's database. Retention picks the backups a rule (keep the last N,
// keep N days) lets go; Prune removes them. A Scheduler runs backups on
// intervals or cron expressions, against a clock tests can drive.
//
// Records are store.Backup values (Record is an alias): the store keeps
// them, this package makes them.
package backup

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
// Engine.Restore loads a kept backup into the app's database, and
// RestoreUpload a dump the user supplies. Retention picks the backups a rule (keep the last N,
// keep N days) lets go; Prune removes them. A Scheduler runs backups on
// intervals or cron expressions, against a clock tests can drive.
//
// # Files, and restoring without kaj
//
// A backup is one self-contained file, <data>/backups/<app>/<ID>.sql.zst
// (MySQL, MariaDB: plain SQL as mariadb-dump writes it) or
// <ID>.dump.zst (PostgreSQL: pg_dump's custom format); .gz with gzip, no
// suffix uncompressed.
// Files are never changed once they have their name; names starting
// with '.' are dumps in progress. Copy the directory off the host with
// any file tool (rsync, rclone, restic) and check a copy with sha256sum
// against the record's checksum. To restore one by hand:
//
//	zstd -dc blog/20261201T030000.000Z.sql.zst |
//	  docker exec -i -e MYSQL_PWD=… kaj-<instance>-blog-db mariadb -h 127.0.0.1 -u blog blog
//	zstd -dc shop/20261201T030000.000Z.dump.zst |
//	  docker exec -i -e PGPASSWORD=… kaj-<instance>-shop-db pg_restore -h 127.0.0.1 -U shop -d shop \
//	    --clean --if-exists --no-owner --single-transaction
//
// (mysql instead of mariadb in MySQL images; gzip -dc for .gz files; any
// mariadb or pg_restore client of the same major version can do the same
// over the network.)
//
// Records are store.Backup values (Record is an alias): the store keeps
// them, this package makes them.
package backup

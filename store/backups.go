package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Backup is one backup of an app's database: the file kaj wrote, what it
// held when it was taken, and whether it was proven to restore.
type Backup struct {
	App string `json:"app"`
	// ID names the backup within its app: the UTC time it was taken, as
	// 20261201T142749.123Z, which sorts as the time does.
	ID string `json:"id"`
	// File is the backup's path relative to kaj's backups directory:
	// <app>/<ID>.<ext>.
	File string `json:"file"`
	// Kind is the database server (mysql, mariadb, postgres), Image the
	// image it ran, Database and User the names the dump was taken with:
	// a verification restores into the same.
	Kind     string `json:"kind"`
	Image    string `json:"image"`
	Database string `json:"database"`
	User     string `json:"user"`
	// Format is the dump's format (sql, pg-custom) and Compression how
	// the file is compressed (zstd, gzip).
	Format      string        `json:"format"`
	Compression string        `json:"compression"`
	Time        time.Time     `json:"time"`
	Size        int64         `json:"size"`
	Duration    time.Duration `json:"duration"`
	// SHA256 is the file's checksum, hex-encoded.
	SHA256 string `json:"sha256"`
	// Tables are the tables the database held in the dump's snapshot, with
	// their row counts.
	Tables []BackupTable `json:"tables"`
	// VerifiedAt is when a verification last ran; zero means never.
	// Verified says it passed; VerifyError says why it did not.
	VerifiedAt  time.Time `json:"verified_at,omitzero"`
	Verified    bool      `json:"verified"`
	VerifyError string    `json:"verify_error,omitempty"`
}

// BackupTable is one table of a backup and its row count.
type BackupTable struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// backupKey orders an app's backups by ID, which orders them by time;
// '/' cannot appear in an app name, so one app's keys never interleave
// with another's.
func backupKey(app, id string) []byte { return []byte(app + "/" + id) }

func (b Backup) validate() error {
	switch {
	case !dnsLabel.MatchString(b.App):
		return invalid("app", "%q is not an app name", b.App)
	case b.ID == "" || strings.ContainsAny(b.ID, "/\\") || strings.HasPrefix(b.ID, "."):
		return invalid("id", "%q is not a backup ID: it is non-empty and has no '/', '\\' or leading '.'", b.ID)
	case b.File == "":
		return invalid("file", "is required")
	}
	return nil
}

// PutBackup records b, replacing the record of the same app and ID (a
// verification updates the record it checked).
func (t *Tx) PutBackup(b Backup) error {
	if err := b.validate(); err != nil {
		return err
	}
	return put(t.tx.Bucket(bucketBackups), string(backupKey(b.App, b.ID)), b)
}

// Backup reads one backup record; ErrNotFound when there is none.
func (t *Tx) Backup(app, id string) (Backup, error) {
	b, err := get[Backup](t.tx.Bucket(bucketBackups), string(backupKey(app, id)))
	if err != nil {
		return Backup{}, fmt.Errorf("backup %s of %s: %w", id, app, err)
	}
	return b, nil
}

// Backups lists app's backups, oldest first; all apps' when app is "".
func (t *Tx) Backups(app string) ([]Backup, error) {
	out := []Backup{}
	c := t.tx.Bucket(bucketBackups).Cursor()
	prefix := []byte(app + "/")
	var k, v []byte
	if app == "" {
		k, v = c.First()
	} else {
		k, v = c.Seek(prefix)
	}
	for ; k != nil && (app == "" || bytes.HasPrefix(k, prefix)); k, v = c.Next() {
		var b Backup
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", k, err)
		}
		out = append(out, b)
	}
	if app == "" {
		// Keys sort by app, then time: list by time across apps.
		sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	}
	return out, nil
}

// DeleteBackup forgets one backup record; ErrNotFound when there is none.
// The file is the caller's to remove.
func (t *Tx) DeleteBackup(app, id string) error {
	b := t.tx.Bucket(bucketBackups)
	key := backupKey(app, id)
	if b.Get(key) == nil {
		return fmt.Errorf("backup %s of %s: %w", id, app, ErrNotFound)
	}
	return b.Delete(key)
}

// PutBackup records b in its own transaction; see Tx.PutBackup.
func (s *Store) PutBackup(b Backup) error {
	return s.Update(func(t *Tx) error { return t.PutBackup(b) })
}

// Backup reads one backup record; see Tx.Backup.
func (s *Store) Backup(app, id string) (out Backup, err error) {
	err = s.View(func(t *Tx) error { out, err = t.Backup(app, id); return err })
	return out, err
}

// Backups lists backups oldest first; see Tx.Backups.
func (s *Store) Backups(app string) (out []Backup, err error) {
	err = s.View(func(t *Tx) error { out, err = t.Backups(app); return err })
	return out, err
}

// DeleteBackup forgets one backup record; see Tx.DeleteBackup.
func (s *Store) DeleteBackup(app, id string) error {
	return s.Update(func(t *Tx) error { return t.DeleteBackup(app, id) })
}

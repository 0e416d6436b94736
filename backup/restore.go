package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// Progress is how far a restore has read its dump.
type Progress struct {
	// Done is the bytes read of the file or upload as stored (compressed);
	// Total is its size, or -1 when unknown.
	Done, Total int64
}

// progressEvery spaces progress reports: often enough for a progress
// bar, seldom enough not to flood an event stream.
const progressEvery = 250 * time.Millisecond

// Restore loads the kept backup rec into db, the app's database: what the
// dump holds replaces what the database has of the same tables (a
// PostgreSQL restore does so in one transaction; a MySQL dump drops and
// recreates table by table). Tables the dump does not hold are left. It
// refuses a file whose checksum differs from rec's (ErrDamaged) and a
// backup of another database family (ErrKindMismatch); progress, if not
// nil, is called as the file is read. A refused dump is ErrRestoreFailed
// with the client's last error lines.
//
// The app may keep serving meanwhile; stopping it first, and taking a
// safety backup, is the caller's choice.
func (e *Engine) Restore(ctx context.Context, db Database, rec Record, progress func(Progress)) error {
	if err := db.validate(); err != nil {
		return err
	}
	if family(db.Kind) != family(runtime.DatabaseKind(rec.Kind)) {
		return fmt.Errorf("restoring %s: %w: backup %s is of a %s database and the app's is %s", db.App, ErrKindMismatch, rec.ID, rec.Kind, db.Kind)
	}
	if err := e.checkFile(rec); err != nil {
		return fmt.Errorf("restoring %s: %w", db.App, err)
	}
	f, err := os.Open(e.Path(rec))
	if err != nil {
		return fmt.Errorf("restoring %s: %w", db.App, err)
	}
	defer f.Close()
	defer e.lock(db.App)()
	if err := e.load(ctx, db, withProgress(f, rec.Size, progress), true); err != nil {
		return fmt.Errorf("restoring %s from backup %s: %w", db.App, rec.ID, err)
	}
	return nil
}

// RestoreUpload loads a dump the user supplies into db: plain SQL for
// MySQL and MariaDB; a custom-format archive or plain SQL for PostgreSQL;
// uncompressed, gzip or zstd. It first copies the upload to a temporary
// file beside the app's backups and reads it through, so that an upload
// that breaks off or does not decompress is refused (ErrDamaged) before
// the database is touched. size is the upload's length, or -1.
func (e *Engine) RestoreUpload(ctx context.Context, db Database, upload io.Reader, size int64, progress func(Progress)) error {
	if err := db.validate(); err != nil {
		return err
	}
	dir := filepath.Join(e.dir, db.App)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restoring %s: %w", db.App, err)
	}
	tmp, err := os.CreateTemp(dir, ".upload-*.partial")
	if err != nil {
		return fmt.Errorf("restoring %s: %w", db.App, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, withProgress(upload, size, progress))
	if err != nil {
		return fmt.Errorf("restoring %s: receiving the upload: %w", db.App, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("restoring %s: %w: the upload has %d bytes, %d announced", db.App, ErrDamaged, n, size)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	plain, _, err := decompress(tmp)
	if err == nil {
		_, err = io.Copy(io.Discard, plain)
		plain.Close()
	}
	if err != nil {
		return fmt.Errorf("restoring %s: %w: the upload does not decompress: %w", db.App, ErrDamaged, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	defer e.lock(db.App)()
	if err := e.load(ctx, db, tmp, true); err != nil {
		return fmt.Errorf("restoring %s from an upload: %w", db.App, err)
	}
	return nil
}

// withProgress reports reads of r to fn, at most every progressEvery and
// once at the end.
func withProgress(r io.Reader, total int64, fn func(Progress)) io.Reader {
	if fn == nil {
		return r
	}
	return &progressReader{r: r, total: total, fn: fn}
}

type progressReader struct {
	r     io.Reader
	total int64
	fn    func(Progress)
	mu    sync.Mutex
	done  int64
	last  time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.mu.Lock()
	p.done += int64(n)
	now := time.Now()
	report := err != nil || now.Sub(p.last) >= progressEvery
	if report {
		p.last = now
	}
	pr := Progress{Done: p.done, Total: p.total}
	p.mu.Unlock()
	if report {
		p.fn(pr)
	}
	return n, err
}

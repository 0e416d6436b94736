package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// Formats of a dump, as Record.Format names them.
const (
	FormatSQL      = "sql"       // plain SQL: mysqldump's, or pg_dump's plain format
	FormatPGCustom = "pg-custom" // pg_dump -Fc, for pg_restore
)

// idLayout names a backup by its UTC time; it sorts as the time does.
const idLayout = "20060102T150405.000Z"

// Dump takes a backup of db now: it streams the dump out of the running
// database container, compresses it, and writes it to
// <dir>/<app>/<ID>.<ext> under its final name only once it is whole and
// synced. The Record is not yet verified (see Verify) nor stored; the
// caller stores it.
//
// A database container that is stopped or missing is ErrDatabaseDown; a
// dump tool that fails, or output that ends early, is ErrDumpFailed with
// the tool's last error lines. Either way no file is left.
func (e *Engine) Dump(ctx context.Context, db Database) (Record, error) {
	if err := db.validate(); err != nil {
		return Record{}, err
	}
	defer e.lock(db.App)()
	start := e.opts.Now()
	began := time.Now() // the duration is real time, whatever clock names the backup
	rec := Record{
		App: db.App, ID: start.UTC().Format(idLayout), Kind: string(db.Kind), Image: db.Image,
		Database: db.Name, User: db.User, Compression: string(e.opts.Compression), Time: start.UTC(),
	}
	ext, _ := e.opts.Compression.ext()
	if family(db.Kind) == "postgres" {
		rec.Format, ext = FormatPGCustom, ".dump"+ext
	} else {
		rec.Format, ext = FormatSQL, ".sql"+ext
	}
	rec.File = db.App + "/" + rec.ID + ext

	dir := filepath.Join(e.dir, db.App)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Record{}, fmt.Errorf("backing up %s: creating %s: %w", db.App, dir, err)
	}
	// Two backups named by the same millisecond (a clock that stands
	// still, one set back) must not overwrite each other: the app's lock
	// is held, so the first free name stays free.
	for _, err := os.Lstat(e.Path(rec)); err == nil; _, err = os.Lstat(e.Path(rec)) {
		start = start.Add(time.Millisecond)
		rec.ID, rec.Time = start.UTC().Format(idLayout), start.UTC()
		rec.File = db.App + "/" + rec.ID + ext
	}
	tmp, err := os.CreateTemp(dir, "."+rec.ID+"-*.partial")
	if err != nil {
		return Record{}, fmt.Errorf("backing up %s: %w", db.App, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	sum := sha256.New()
	counted := &countingWriter{}
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, sum, counted), 1<<20)
	zw, err := e.opts.Compression.compressor(bw)
	if err != nil {
		return Record{}, err
	}
	if family(db.Kind) == "postgres" {
		rec.Tables, err = e.dumpPostgres(ctx, db, zw)
	} else {
		rec.Tables, err = e.dumpMySQL(ctx, db, zw)
	}
	if err != nil {
		return Record{}, fmt.Errorf("backing up %s: %w", db.App, err)
	}
	if err := zw.Close(); err != nil {
		return Record{}, fmt.Errorf("backing up %s: compressing: %w", db.App, err)
	}
	if err := bw.Flush(); err != nil {
		return Record{}, fmt.Errorf("backing up %s: writing %s: %w", db.App, tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return Record{}, fmt.Errorf("backing up %s: syncing %s: %w", db.App, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return Record{}, fmt.Errorf("backing up %s: %w", db.App, err)
	}
	if err := os.Rename(tmp.Name(), e.Path(rec)); err != nil {
		return Record{}, fmt.Errorf("backing up %s: %w", db.App, err)
	}
	done = true
	syncDir(dir)
	rec.Size, rec.SHA256 = counted.n, hex.EncodeToString(sum.Sum(nil))
	rec.Duration = time.Since(began)
	return rec, nil
}

// dumpMySQL streams mysqldump's output into w, counting its tables and
// rows on the way.
func (e *Engine) dumpMySQL(ctx context.Context, db Database, w io.Writer) ([]Table, error) {
	var counter sqlCounter
	stderr := newTail()
	opts := execOpts(mysqlDumpCmd(db), mysqlEnv(db))
	opts.Stdout, opts.Stderr = &parallelWriter{w: io.MultiWriter(w, &counter)}, stderr
	pw := opts.Stdout.(*parallelWriter)
	pw.start()
	code, err := e.rt.Exec(ctx, db.Container, opts)
	if cerr := pw.close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing the backup: %w", cerr)
	}
	if err != nil {
		return nil, execError(err)
	}
	if code != 0 {
		return nil, fmt.Errorf("%w: the dump tool exited with code %d%s", ErrDumpFailed, code, stderr.said())
	}
	if !counter.completed {
		return nil, fmt.Errorf("%w: the dump ended before its \"Dump completed\" line%s", ErrDumpFailed, stderr.said())
	}
	return counter.Tables(), nil
}

// dumpPostgres opens a transaction that exports its snapshot, counts the
// tables' rows in it, and runs pg_dump on that same snapshot: the counts
// are exactly what the dump holds.
func (e *Engine) dumpPostgres(ctx context.Context, db Database, w io.Writer) ([]Table, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	psqlErr := newTail()
	type result struct {
		code int
		err  error
	}
	sess := make(chan result, 1)
	go func() {
		opts := execOpts(psqlCmd(db), pgEnv(db))
		opts.Stdin, opts.Stdout, opts.Stderr = inR, outW, psqlErr
		code, err := e.rt.Exec(ctx, db.Container, opts)
		outW.Close()
		inR.Close()
		sess <- result{code, err}
	}()
	// The session ends when its input does: after the dump, or on error.
	stopSession := func() {
		inW.Close()
		outR.Close()
	}
	defer func() {
		stopSession()
		<-sess
	}()
	sessionFailed := func(doing string) error {
		stopSession()
		r := <-sess
		sess <- r
		if r.err != nil {
			return execError(r.err)
		}
		return fmt.Errorf("%w: %s: psql exited with code %d%s", ErrDumpFailed, doing, r.code, psqlErr.said())
	}

	if _, err := io.WriteString(inW, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot();\n"); err != nil {
		return nil, sessionFailed("opening the snapshot")
	}
	lines := bufio.NewScanner(outR)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	if !lines.Scan() {
		return nil, sessionFailed("exporting the snapshot")
	}
	snapshot := strings.TrimSpace(lines.Text())

	// Count while pg_dump reads: both see the snapshot, and the counts'
	// scan overlaps the dump instead of adding to it.
	type counted struct {
		tables []Table
		err    error
	}
	counts := make(chan counted, 1)
	go func() {
		var tables []Table
		if _, err := io.WriteString(inW, pgCountSQL+"SELECT 'kaj:end';\n"); err != nil {
			counts <- counted{err: err}
			return
		}
		for lines.Scan() {
			l := lines.Text()
			if l == "kaj:end" {
				counts <- counted{tables: tables}
				return
			}
			name, n, ok := strings.Cut(l, "\t")
			rows, err := strconv.ParseInt(n, 10, 64)
			if !ok || err != nil {
				counts <- counted{err: fmt.Errorf("%w: counting rows: unexpected line %q", ErrDumpFailed, l)}
				return
			}
			tables = append(tables, Table{Name: name, Rows: rows})
		}
		counts <- counted{err: errSessionEnded}
	}()

	stderr := newTail()
	magic := &magicCheck{want: "PGDMP"}
	pw := &parallelWriter{w: io.MultiWriter(w, magic)}
	pw.start()
	opts := execOpts(pgDumpCmd(db, snapshot), pgEnv(db))
	opts.Stdout, opts.Stderr = pw, stderr
	code, err := e.rt.Exec(ctx, db.Container, opts)
	if cerr := pw.close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing the backup: %w", cerr)
	}
	if err != nil {
		stopSession()
		<-counts
		return nil, execError(err)
	}
	if code != 0 {
		stopSession()
		<-counts
		return nil, fmt.Errorf("%w: pg_dump exited with code %d%s", ErrDumpFailed, code, stderr.said())
	}
	if !magic.ok() {
		return nil, fmt.Errorf("%w: pg_dump's output is not a custom-format archive%s", ErrDumpFailed, stderr.said())
	}
	c := <-counts
	switch {
	case errors.Is(c.err, ErrDumpFailed):
		return nil, c.err
	case c.err != nil:
		return nil, sessionFailed("counting rows")
	}
	return c.tables, nil
}

// errSessionEnded: the psql session ended before its answers did.
var errSessionEnded = errors.New("the psql session ended early")

// execError says what a failed exec means for a backup.
func execError(err error) error {
	if errors.Is(err, runtime.ErrConflict) || errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("%w: start the app's database and try again (%w)", ErrDatabaseDown, err)
	}
	return err
}

// syncDir makes a rename in dir durable. Some file systems cannot sync a
// directory; the rename has happened either way.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// magicCheck records whether a stream starts with want.
type magicCheck struct {
	want string
	head []byte
}

func (m *magicCheck) Write(p []byte) (int, error) {
	if n := len(m.want) - len(m.head); n > 0 {
		m.head = append(m.head, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

func (m *magicCheck) ok() bool { return string(m.head) == m.want }

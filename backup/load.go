package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// pgMagic starts every pg_dump custom-format archive.
const pgMagic = "PGDMP"

// load feeds a dump (compressed or not; plain SQL, or for PostgreSQL a
// custom-format archive too) into db's container with the kind's client.
// clean makes a PostgreSQL restore replace the objects the dump holds in
// one transaction; a fresh database needs no cleaning. A stream that
// cannot be decompressed is ErrDamaged; a client that fails is
// ErrRestoreFailed with its last error lines.
func (e *Engine) load(ctx context.Context, db Database, src io.Reader, clean bool) error {
	in := &readTracker{r: src}
	plain, _, err := decompress(in)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	defer plain.Close()
	body := &readTracker{r: plain}
	br := bufio.NewReaderSize(body, 64<<10)
	head, _ := br.Peek(len(pgMagic))
	custom := string(head) == pgMagic

	var opts = execOpts(nil, nil)
	switch {
	case family(db.Kind) == "postgres" && custom:
		opts = execOpts(pgRestoreCmd(db, clean), pgEnv(db))
	case family(db.Kind) == "postgres":
		opts = execOpts(psqlCmd(db, "--single-transaction"), pgEnv(db))
	case custom:
		return fmt.Errorf("%w: this is a PostgreSQL archive and %s's database is %s", ErrKindMismatch, db.App, db.Kind)
	default:
		opts = execOpts(mysqlClientCmd(db), mysqlEnv(db))
	}
	stderr := newTail()
	in2 := &guardedReader{r: br}
	opts.Stdin, opts.Stderr = in2, stderr
	code, err := e.rt.Exec(ctx, db.Container, opts)
	in2.Close() // Exec may leave a Read in flight; the decompressor closes next
	if rerr := firstErr(in.err, body.err); rerr != nil {
		return fmt.Errorf("%w: reading it: %w", ErrDamaged, rerr)
	}
	if err != nil {
		return execError(err)
	}
	if code != 0 {
		return fmt.Errorf("%w: %s exited with code %d%s", ErrRestoreFailed, opts.Cmd[0], code, stderr.said())
	}
	return nil
}

// countTables asks db's server for every table's exact row count.
func (e *Engine) countTables(ctx context.Context, db Database) ([]Table, error) {
	var opts = execOpts(psqlCmd(db), pgEnv(db))
	sql := pgCountSQL
	if family(db.Kind) != "postgres" {
		opts, sql = execOpts(mysqlClientCmd(db), mysqlEnv(db)), mysqlCountSQL
	}
	var out strings.Builder
	stderr := newTail()
	opts.Stdin, opts.Stdout, opts.Stderr = strings.NewReader(sql), &out, stderr
	code, err := e.rt.Exec(ctx, db.Container, opts)
	if err != nil {
		return nil, execError(err)
	}
	if code != 0 {
		return nil, fmt.Errorf("counting rows: %s exited with code %d%s", opts.Cmd[0], code, stderr.said())
	}
	var tables []Table
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		name, n, ok := strings.Cut(l, "\t")
		rows, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("counting rows: unexpected line %q", l)
		}
		tables = append(tables, Table{Name: name, Rows: rows})
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].Name < tables[j].Name })
	return tables, nil
}

// compareTables says how got differs from want, or "" when it does not.
func compareTables(want, got []Table) string {
	g := map[string]int64{}
	for _, t := range got {
		g[t.Name] = t.Rows
	}
	var diffs []string
	for _, t := range want {
		rows, ok := g[t.Name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("table %s is missing (%d rows recorded)", t.Name, t.Rows))
		case rows != t.Rows:
			diffs = append(diffs, fmt.Sprintf("table %s has %d rows, %d recorded", t.Name, rows, t.Rows))
		}
		delete(g, t.Name)
	}
	extra := make([]string, 0, len(g))
	for name, rows := range g {
		extra = append(extra, fmt.Sprintf("table %s (%d rows) was not recorded", name, rows))
	}
	sort.Strings(extra)
	diffs = append(diffs, extra...)
	const show = 5
	if len(diffs) > show {
		diffs = append(diffs[:show], fmt.Sprintf("and %d more differences", len(diffs)-show))
	}
	return strings.Join(diffs, "; ")
}

// Check reads rec's file whole and compares its checksum with the
// recorded one: a missing or changed file is ErrDamaged. Restore checks
// the same before it loads; a caller checks first to refuse a damaged
// backup before it stops the app or takes a safety backup.
func (e *Engine) Check(rec Record) error { return e.checkFile(rec) }

// checkFile reads rec's file whole and compares its checksum with the
// recorded one; a missing or changed file is ErrDamaged.
func (e *Engine) checkFile(rec Record) error {
	f, err := os.Open(e.Path(rec))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%w: reading %s: %w", ErrDamaged, f.Name(), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != rec.SHA256 {
		return fmt.Errorf("%w: %s has checksum sha256:%s, not the recorded sha256:%s: it changed after the backup was taken", ErrDamaged, rec.File, short(got), short(rec.SHA256))
	}
	return nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// readTracker remembers the error its reader returned, other than EOF: a
// failure of the backup's own stream, told apart from the database's.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// guardedReader makes a reader safe to stop while it is read: Close
// waits for a Read in progress, and later Reads return EOF.
type guardedReader struct {
	mu     sync.Mutex
	r      io.Reader
	closed bool
}

func (g *guardedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, io.EOF
	}
	return g.r.Read(p)
}

func (g *guardedReader) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

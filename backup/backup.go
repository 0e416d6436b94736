package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Record is one backup as the store keeps it.
type Record = store.Backup

// Table is one table of a backup and its row count.
type Table = store.BackupTable

// Runtime is what the backup engine uses of the container runtime: exec
// into the app's database, and a throwaway database to verify in.
type Runtime interface {
	Exec(ctx context.Context, container string, opts runtime.ExecOptions) (int, error)
	EnsureDatabase(ctx context.Context, spec runtime.DatabaseSpec) (runtime.Container, error)
	WaitDatabase(ctx context.Context, db runtime.Container, opts runtime.WaitOptions) error
	// RemoveApp(app, true) removes a throwaway database: its container,
	// network and volume.
	RemoveApp(ctx context.Context, app string, deleteData bool) error
}

var _ Runtime = (*runtime.Docker)(nil)

// Database is the database a backup is taken from or restored into: the
// app's database container and the account kaj created it with.
type Database struct {
	App string
	// Container is the database container's ID or name.
	Container string
	Kind      runtime.DatabaseKind
	// Image is the image the container runs; a verification starts the
	// same one.
	Image    string
	Name     string
	User     string
	Password string
}

func (db Database) validate() error {
	switch {
	case db.App == "":
		return fmt.Errorf("backup: Database.App is required")
	case db.Container == "":
		return fmt.Errorf("backup: Database.Container is required: the app's database container")
	case family(db.Kind) == "":
		return fmt.Errorf("backup: Database.Kind %q is not mysql, mariadb or postgres", db.Kind)
	case db.Name == "" || db.User == "":
		return fmt.Errorf("backup: Database.Name and Database.User are required")
	}
	return nil
}

// family is "mysql" for MySQL and MariaDB, whose dumps load into each
// other, and "postgres" for PostgreSQL.
func family(k runtime.DatabaseKind) string {
	switch k {
	case runtime.MySQL, runtime.MariaDB:
		return "mysql"
	case runtime.Postgres:
		return "postgres"
	}
	return ""
}

// Options tune an Engine. The zero value is usable.
type Options struct {
	// Compression of new backups; empty means Zstd.
	Compression Compression
	// Labels go on every object a verification creates, beside kaj's own
	// and kaj.backup=verify.
	Labels map[string]string
	// Wait tunes the wait for a throwaway database to accept
	// connections; its zero value is runtime's default.
	Wait runtime.WaitOptions
	// Now is the clock that names backups; nil means time.Now.
	Now func() time.Time
}

// Engine takes, verifies and restores backups. It is safe for concurrent
// use; backups of one app run one at a time.
type Engine struct {
	rt    Runtime
	dir   string
	opts  Options
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns an engine writing under dir (kaj's <data>/backups), which
// it creates with mode 0700: dumps hold all of an app's data.
func New(rt Runtime, dir string, opts Options) (*Engine, error) {
	if opts.Compression == "" {
		opts.Compression = Zstd
	}
	if _, err := opts.Compression.ext(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the backups directory: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving the backups directory: %w", err)
	}
	return &Engine{rt: rt, dir: abs, opts: opts, locks: map[string]*sync.Mutex{}}, nil
}

// Dir is the backups directory.
func (e *Engine) Dir() string { return e.dir }

// Path is where rec's file lives.
func (e *Engine) Path(rec Record) string { return filepath.Join(e.dir, filepath.FromSlash(rec.File)) }

// lock serialises work on one app's backups.
func (e *Engine) lock(app string) (unlock func()) {
	e.mu.Lock()
	l, ok := e.locks[app]
	if !ok {
		l = &sync.Mutex{}
		e.locks[app] = l
	}
	e.mu.Unlock()
	l.Lock()
	return l.Unlock
}

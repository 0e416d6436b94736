package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// LabelBackup marks the objects of a verification (value "verify"), and
// LabelBackupOf names the app whose backup they check: what a crash in
// the middle of one leaves behind is found by them.
const (
	LabelBackup   = "kaj.backup"
	LabelBackupOf = "kaj.backup.of"
)

// throwawayPrefix starts the app name of every verification's database.
const throwawayPrefix = "kv-"

// cleanupTimeout bounds removing a verification's objects, which runs
// even when the caller's context has ended.
const cleanupTimeout = 2 * time.Minute

// Verify proves rec restores. It checks the file's checksum, starts a
// throwaway database container of rec's image (an app of its own,
// kv-<hex>, with its own network and volume), loads the dump into it,
// and compares the tables and row counts there with rec's. It returns rec
// with VerifiedAt set and either Verified or VerifyError, the reason:
// a damaged file, a load the database refused, or counts that differ.
// The caller stores it.
//
// An error means the check could not be made (the engine is unreachable,
// the image is missing, the throwaway database did not start, ctx ended);
// rec comes back unchanged. Verify removes the throwaway container,
// network and volume in every case; failing that, the error says so.
func (e *Engine) Verify(ctx context.Context, rec Record) (out Record, err error) {
	fail := func(reason error) (Record, error) {
		rec.VerifiedAt, rec.Verified, rec.VerifyError = e.opts.Now().UTC(), false, reason.Error()
		return rec, nil
	}
	if err := e.checkFile(rec); err != nil {
		return fail(err)
	}
	kind := runtime.DatabaseKind(rec.Kind)
	if family(kind) == "" {
		return fail(fmt.Errorf("%w: unknown database kind %q", ErrKindMismatch, rec.Kind))
	}

	app := throwawayPrefix + randomHex(5)
	labels := map[string]string{LabelBackup: "verify", LabelBackupOf: rec.App}
	for k, v := range e.opts.Labels {
		labels[k] = v
	}
	db := Database{App: app, Kind: kind, Image: rec.Image, Name: rec.Database, User: rec.User, Password: runtime.GeneratePassword()}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if rerr := e.rt.RemoveApp(cctx, app, true); rerr != nil && !errors.Is(rerr, runtime.ErrNotFound) {
			err = errors.Join(err, fmt.Errorf("removing the throwaway database %s: %w", app, rerr))
		}
	}()
	c, err := e.rt.EnsureDatabase(ctx, runtime.DatabaseSpec{
		App: app, Kind: kind, Image: rec.Image, Database: rec.Database, User: rec.User,
		Password: db.Password, Labels: labels,
	})
	if err != nil {
		return rec, fmt.Errorf("verifying backup %s of %s: starting a throwaway database: %w", rec.ID, rec.App, err)
	}
	if err := e.rt.WaitDatabase(ctx, c, e.opts.Wait); err != nil {
		return rec, fmt.Errorf("verifying backup %s of %s: %w", rec.ID, rec.App, err)
	}
	db.Container = c.ID

	f, err := os.Open(e.Path(rec))
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrDamaged, err))
	}
	defer f.Close()
	if err := e.load(ctx, db, f, false); err != nil {
		if errors.Is(err, ErrDamaged) || errors.Is(err, ErrRestoreFailed) || errors.Is(err, ErrKindMismatch) {
			return fail(err)
		}
		return rec, fmt.Errorf("verifying backup %s of %s: %w", rec.ID, rec.App, err)
	}
	got, err := e.countTables(ctx, db)
	if err != nil {
		return rec, fmt.Errorf("verifying backup %s of %s: %w", rec.ID, rec.App, err)
	}
	if diff := compareTables(rec.Tables, got); diff != "" {
		return fail(fmt.Errorf("the restored tables differ from the recorded ones: %s", diff))
	}
	rec.VerifiedAt, rec.Verified, rec.VerifyError = e.opts.Now().UTC(), true, ""
	return rec, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

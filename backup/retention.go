package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/kajhq/kaj/store"
)

// Retention says which of an app's backups to keep. A backup is kept
// when any rule keeps it; the zero Retention keeps everything.
type Retention struct {
	// KeepLast keeps the newest KeepLast backups; zero sets no such rule.
	KeepLast int `json:"keep_last,omitempty"`
	// KeepDays keeps the backups younger than KeepDays days; zero sets no
	// such rule.
	KeepDays int `json:"keep_days,omitempty"`
}

// Validate refuses negative limits.
func (r Retention) Validate() error {
	if r.KeepLast < 0 || r.KeepDays < 0 {
		return fmt.Errorf("backup: retention keeps a count and a number of days, not negative ones (keep_last %d, keep_days %d)", r.KeepLast, r.KeepDays)
	}
	return nil
}

// Expired returns the backups r lets go at now, oldest first. The newest
// verified backup is always kept, whatever the rules: pruning must never
// leave an app with only backups that failed, or were never put to, the
// proof of a restore.
func (r Retention) Expired(recs []Record, now time.Time) []Record {
	if r.KeepLast <= 0 && r.KeepDays <= 0 {
		return nil
	}
	sorted := append([]Record(nil), recs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.After(sorted[j].Time) }) // newest first
	newestVerified := -1
	for i, rec := range sorted {
		if rec.Verified {
			newestVerified = i
			break
		}
	}
	cutoff := now.Add(-time.Duration(r.KeepDays) * 24 * time.Hour)
	var out []Record
	for i, rec := range sorted {
		kept := i == newestVerified ||
			r.KeepLast > 0 && i < r.KeepLast ||
			r.KeepDays > 0 && rec.Time.After(cutoff)
		if !kept {
			out = append(out, rec)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Catalog is what Prune uses of the store.
type Catalog interface {
	Backups(app string) ([]Record, error)
	DeleteBackup(app, id string) error
}

var _ Catalog = (*store.Store)(nil)

// Prune removes the backups of app that r lets go at the engine's now:
// each file, then its record; and the partial files of dumps that never
// finished (kaj stopped during one). It goes on past failures, returns
// what it removed, and the failures joined.
func (e *Engine) Prune(ctx context.Context, cat Catalog, app string, r Retention) ([]Record, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	defer e.lock(app)()
	if err := e.removePartials(app); err != nil {
		return nil, fmt.Errorf("pruning backups of %s: %w", app, err)
	}
	recs, err := cat.Backups(app)
	if err != nil {
		return nil, fmt.Errorf("pruning backups of %s: %w", app, err)
	}
	var removed []Record
	var errs []error
	for _, rec := range r.Expired(recs, e.opts.Now()) {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if err := e.Remove(rec); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := cat.DeleteBackup(rec.App, rec.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, fmt.Errorf("forgetting backup %s of %s: %w", rec.ID, rec.App, err))
			continue
		}
		removed = append(removed, rec)
	}
	return removed, errors.Join(errs...)
}

// Remove deletes rec's file; a file already gone is not an error.
func (e *Engine) Remove(rec Record) error {
	if rec.File == "" {
		return fmt.Errorf("backup: record %s of %s has no file", rec.ID, rec.App)
	}
	if err := os.Remove(e.Path(rec)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing backup %s of %s: %w", rec.ID, rec.App, err)
	}
	return nil
}

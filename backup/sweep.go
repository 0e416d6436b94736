package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kajhq/kaj/runtime"
)

// Sweeper is the optional capability SweepVerifications needs of the
// runtime: listing kaj's objects with their labels.
type Sweeper interface {
	Reconcile(ctx context.Context, known func(app, release string) bool) ([]runtime.Object, error)
}

var _ Sweeper = (*runtime.Docker)(nil)

// SweepVerifications removes the throwaway databases of verifications
// that never finished (kaj stopped during one): the containers, networks
// and volumes labelled kaj.backup=verify, of a kv-… app, that carry all
// of the engine's Options.Labels. Call it at start, before any
// verification runs: it cannot tell a running one from an abandoned one.
// It returns the throwaway apps removed.
func (e *Engine) SweepVerifications(ctx context.Context) ([]string, error) {
	sw, ok := e.rt.(Sweeper)
	if !ok {
		return nil, errors.New("backup: this runtime cannot list its objects; nothing swept")
	}
	objs, err := sw.Reconcile(ctx, func(app, _ string) bool { return !strings.HasPrefix(app, throwawayPrefix) })
	if err != nil {
		return nil, fmt.Errorf("sweeping abandoned verifications: %w", err)
	}
	apps := map[string]bool{}
	for _, o := range objs {
		if strings.HasPrefix(o.App, throwawayPrefix) && o.Labels[LabelBackup] == "verify" && e.owns(o.Labels) {
			apps[o.App] = true
		}
	}
	var removed []string
	var errs []error
	for app := range apps {
		if err := e.rt.RemoveApp(ctx, app, true); err != nil {
			errs = append(errs, fmt.Errorf("removing the abandoned verification %s: %w", app, err))
			continue
		}
		removed = append(removed, app)
	}
	sort.Strings(removed)
	return removed, errors.Join(errs...)
}

// owns reports whether labels carry all of the engine's own.
func (e *Engine) owns(labels map[string]string) bool {
	for k, v := range e.opts.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// removePartials deletes what dumps that never finished left in app's
// directory. The caller holds app's lock, so no dump of it runs.
func (e *Engine) removePartials(app string) error {
	matches, err := filepath.Glob(filepath.Join(e.dir, app, ".*.partial"))
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

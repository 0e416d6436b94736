package deploy

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Containers lists app's containers (every app's for ""), app
// containers before the database, as the runtime orders them.
func (d *Deployer) Containers(ctx context.Context, app string) ([]runtime.Status, error) {
	return d.rt.List(ctx, app)
}

// Stop stops app's containers: the app first, then its database.
func (d *Deployer) Stop(ctx context.Context, app, actor string) error {
	return d.each(ctx, app, actor, "app.stop", true, func(s runtime.Status) error {
		return d.rt.Stop(ctx, s.ID, d.opts.StopTimeout)
	})
}

// Start starts app's containers: the database first, then the app.
func (d *Deployer) Start(ctx context.Context, app, actor string) error {
	return d.each(ctx, app, actor, "app.start", false, func(s runtime.Status) error {
		return d.rt.Start(ctx, s.ID)
	})
}

// Restart restarts app's containers, database first.
func (d *Deployer) Restart(ctx context.Context, app, actor string) error {
	return d.each(ctx, app, actor, "app.restart", false, func(s runtime.Status) error {
		return d.rt.Restart(ctx, s.ID, d.opts.StopTimeout)
	})
}

// each applies fn to app's containers, app containers first when
// appFirst, and records the action.
func (d *Deployer) each(ctx context.Context, app, actor, action string, appFirst bool, fn func(runtime.Status) error) error {
	if _, err := d.st.App(app); err != nil {
		return err
	}
	unlock, err := d.lock(app)
	if err != nil {
		return err
	}
	defer unlock()
	cs, err := d.Containers(ctx, app)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return fmt.Errorf("app %q has no containers: %w; deploy it first", app, runtime.ErrNotFound)
	}
	if !appFirst {
		for i, j := 0, len(cs)-1; i < j; i, j = i+1, j-1 {
			cs[i], cs[j] = cs[j], cs[i]
		}
	}
	for _, c := range cs {
		if err := fn(c); err != nil {
			return fmt.Errorf("%s %s: %w", action, c.Name, err)
		}
	}
	_, err = d.st.AddEvent(store.Event{Actor: actor, Action: action, Target: app})
	return err
}

// Delete removes app's containers and network, its database volume only
// when deleteData is set, and then its definition and releases.
func (d *Deployer) Delete(ctx context.Context, app string, deleteData bool, actor string) error {
	if _, err := d.st.App(app); err != nil {
		return err
	}
	unlock, err := d.lock(app)
	if err != nil {
		return err
	}
	defer unlock()
	if err := d.rt.RemoveApp(ctx, app, deleteData); err != nil {
		return err
	}
	return d.st.Update(func(tx *store.Tx) error {
		if err := tx.DeleteApp(app, !deleteData); err != nil {
			return err
		}
		detail := "data kept"
		if deleteData {
			detail = "data deleted"
		}
		_, err := tx.AddEvent(store.Event{Actor: actor, Action: "app.delete", Target: app, Detail: detail})
		return err
	})
}

// Reconcile brings the store and the engine back in line after kaj
// stopped uncleanly: releases left pending are marked interrupted, and the
// containers of this kaj's apps that no live release claims (a crashed
// deploy's) are removed. Objects of apps this kaj does not know are left
// alone, whatever their labels: they may be another kaj's on the same
// engine. Only objects carrying all of Options.Labels are touched, and
// never volumes: an app deleted without its data leaves its volume on
// purpose. It returns what it removed.
func (d *Deployer) Reconcile(ctx context.Context) ([]runtime.Object, error) {
	live := map[string]string{} // app -> live release number
	err := d.st.Update(func(tx *store.Tx) error {
		apps, err := tx.Apps()
		if err != nil {
			return err
		}
		for _, a := range apps {
			live[a.Name] = ""
			if d.Busy(a.Name) {
				return fmt.Errorf("app %q: %w; reconcile when no deploy runs", a.Name, ErrBusy)
			}
			rels, err := tx.Releases(a.Name, 0)
			if err != nil {
				return err
			}
			for _, r := range rels {
				switch r.Status {
				case store.ReleaseLive:
					live[a.Name] = strconv.FormatUint(r.Number, 10)
				case store.ReleasePending:
					r.Status, r.Error = store.ReleaseInterrupted, "kaj stopped during this deploy"
					if _, err := tx.UpdateRelease(r); err != nil {
						return err
					}
					if _, err := tx.AddEvent(store.Event{Actor: "kaj", Action: "deploy.interrupted", Target: a.Name, Detail: fmt.Sprintf("release %d", r.Number)}); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	orphans, err := d.rt.Reconcile(ctx, func(app, release string) bool {
		rel, known := live[app]
		return known && (release == "" || release == rel)
	})
	if err != nil {
		return nil, err
	}
	var removed []runtime.Object
	var errs []error
	for _, o := range orphans {
		if _, known := live[o.App]; !known {
			// Another kaj's app, most likely one sharing this engine
			// without labels of its own: never this kaj's to remove.
			if o.Kind != runtime.KindVolume && d.owns(o.Labels) {
				d.log.Warn("reconcile: kaj object of an app this kaj does not know; left alone", "kind", o.Kind, "name", o.Name, "app", o.App)
			}
			continue
		}
		if o.Kind == runtime.KindVolume || !d.owns(o.Labels) {
			continue
		}
		if err := d.rt.RemoveObject(ctx, o); err != nil {
			errs = append(errs, fmt.Errorf("removing %s %s: %w", o.Kind, o.Name, err))
			continue
		}
		removed = append(removed, o)
	}
	return removed, errors.Join(errs...)
}

// owns reports whether an object with these labels was made by this kaj.
func (d *Deployer) owns(labels map[string]string) bool {
	for k, v := range d.opts.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

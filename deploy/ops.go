package deploy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Containers lists app's containers, app containers before the
// database, as the runtime orders them. For "" it lists every app's in
// one engine call, only this kaj instance's (its ID and labels), from the
// list answer alone (no restart counts or start times: see
// runtime.ListAll).
func (d *Deployer) Containers(ctx context.Context, app string) ([]runtime.Status, error) {
	if d.opts.Cluster != nil {
		return d.swarmContainers(ctx, app)
	}
	if app == "" {
		return d.rt.ListAll(ctx, d.opts.Labels)
	}
	return d.rt.List(ctx, app)
}

// Stop stops app's containers: the app first, then its database. The
// route answers 503 from the moment the stop begins.
func (d *Deployer) Stop(ctx context.Context, app, actor string) error {
	if d.opts.Cluster != nil {
		return d.swarmStop(ctx, app, actor)
	}
	return d.each(ctx, app, actor, store.ActionAppStop, true, func(cs []runtime.Status) error {
		if d.opts.Router != nil {
			if _, err := d.opts.Router.Serve(app, nil); err != nil {
				return err
			}
		}
		for _, c := range cs {
			if err := d.rt.Stop(ctx, c.ID, d.opts.StopTimeout); err != nil {
				return fmt.Errorf("stopping %s: %w", c.Name, err)
			}
		}
		return nil
	})
}

// Start starts app's containers, the database first, waits until the app
// passes its health check, and routes to it.
func (d *Deployer) Start(ctx context.Context, app, actor string) error {
	if d.opts.Cluster != nil {
		return d.swarmStart(ctx, app, actor)
	}
	return d.each(ctx, app, actor, store.ActionAppStart, false, func(cs []runtime.Status) error {
		a, err := d.st.App(app)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if err := d.rt.Start(ctx, c.ID); err != nil {
				return fmt.Errorf("starting %s: %w", c.Name, err)
			}
		}
		var ups []string
		for _, c := range cs {
			if c.Role != runtime.RoleApp {
				continue
			}
			if err := d.rt.WaitHealthy(ctx, c.Container, d.healthOptions(a)); err != nil {
				return err
			}
			ups = append(ups, d.upstreamOf(ctx, app, c.ID, a.Port)...)
		}
		if d.opts.Router != nil {
			_, err := d.opts.Router.Serve(app, ups)
			return err
		}
		return nil
	})
}

// upstreamOf reads a container's current address: a start gives it a new
// one.
func (d *Deployer) upstreamOf(ctx context.Context, app, id string, port int) []string {
	cs, err := d.rt.List(ctx, app)
	if err != nil {
		return nil
	}
	for _, c := range cs {
		if c.ID == id && c.State == "running" {
			if up := Upstream(c.Container, port); up != "" {
				return []string{up}
			}
		}
	}
	return nil
}

// Restart replaces the live release's app container with a fresh one the
// way a deploy does (start, health check, switch, drain), so it costs no
// downtime; a database that is not running is started first. It records
// no new release.
func (d *Deployer) Restart(ctx context.Context, app, actor string) error {
	if d.opts.Cluster != nil {
		return d.swarmRestart(ctx, app, actor)
	}
	return d.each(ctx, app, actor, store.ActionAppRestart, false, func(cs []runtime.Status) error {
		var (
			a    store.App
			sec  store.AppSecrets
			live *store.Release
		)
		err := d.st.View(func(tx *store.Tx) (err error) {
			if a, err = tx.App(app); err != nil {
				return err
			}
			if sec, err = tx.RevealApp(app); err != nil {
				return err
			}
			rels, err := tx.Releases(app, 0)
			for i := range rels {
				if rels[i].Status == store.ReleaseLive {
					live = &rels[i]
					break
				}
			}
			return err
		})
		if err != nil {
			return err
		}
		if live == nil {
			return fmt.Errorf("app %q has no live release to restart: %w; deploy it", app, runtime.ErrNotFound)
		}
		if live.Definition != nil {
			a.Apply(*live.Definition)
		}
		env, err := d.releaseEnv(app, *live)
		if err != nil {
			return err
		}
		// Before the database's own variables join env: those are not
		// secret, but for the password, which sec has.
		red := secretsOf(live.Env, sec, env, nil)
		for _, c := range cs {
			if c.Role == runtime.RoleDB && c.State != "running" {
				if err := d.rt.Start(ctx, c.ID); err != nil {
					return fmt.Errorf("starting %s: %w", c.Name, err)
				}
			}
		}
		if a.Database != nil {
			spec := d.databaseSpec(a, sec.DatabasePassword)
			dbEnv, err := runtime.DatabaseEnv(spec, a.Database.URLScheme)
			if err != nil {
				return err
			}
			for k, v := range dbEnv {
				if _, set := env[k]; !set {
					env[k] = v
				}
			}
		}
		image := live.Digest
		if image == "" {
			image = live.Image
		}
		r := &run{d: d, rel: *live, emit: func(jobs.Event) {}, red: red, started: time.Now()}
		c, err := d.rollout(ctx, r, a, image, env)
		if err != nil {
			d.cleanup(r)
			return red.Error(err)
		}
		err = d.st.Update(func(tx *store.Tx) error {
			cur, err := tx.Release(app, live.Number)
			if err != nil {
				return err
			}
			cur.ContainerID, cur.Stopped = c.ID, nil
			_, err = tx.UpdateRelease(cur)
			return err
		})
		if r.watch != nil {
			r.watch.restart, r.watch.serving, r.watch.actor = true, live.ContainerID, actor
			if err != nil {
				// The store still names the container before: it takes
				// the route back.
				r.watch.unrecorded = err
			}
		}
		d.watchAfter(r, nil)
		return err
	})
}

// each runs fn on app's containers, app containers first when appFirst,
// under the app's lock, and records the action.
func (d *Deployer) each(ctx context.Context, app, actor string, action store.Action, appFirst bool, fn func([]runtime.Status) error) error {
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
	if err := fn(cs); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	_, err = d.st.AddEvent(store.Event{Actor: actor, Action: action, Target: app})
	return err
}

// Delete removes app's containers and network, its database volume only
// when deleteData is set, and then its definition and releases.
func (d *Deployer) Delete(ctx context.Context, app string, deleteData bool, actor string) error {
	if d.opts.Cluster != nil {
		return d.swarmDelete(ctx, app, deleteData, actor)
	}
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
	return d.forget(app, deleteData, actor)
}

// forget deletes app from the store once its engine objects are gone,
// and records who did it and whether its data went too.
func (d *Deployer) forget(app string, deleteData bool, actor string) error {
	return d.st.Update(func(tx *store.Tx) error {
		if err := tx.DeleteApp(app, !deleteData); err != nil {
			return err
		}
		detail := "data kept"
		if deleteData {
			detail = "data deleted"
		}
		_, err := tx.AddEvent(store.Event{Actor: actor, Action: store.ActionAppDelete, Target: app, Detail: detail})
		return err
	})
}

// Reconcile brings the store and the engine back in line after kaj
// stopped uncleanly: releases left pending are marked interrupted, and the
// containers of this kaj's apps that no live release claims (a crashed
// deploy's) are removed. Objects of apps this kaj does not know are left
// alone, whatever their labels: they may be another kaj's on the same
// engine. Only this instance's objects (its ID, and all of
// Options.Labels) are touched, and
// never volumes: an app deleted without its data leaves its volume on
// purpose. It returns what it removed.
//
// Serving containers that a deploy or a restart stopped to free a fixed
// host port, and did not start again because kaj was killed, are started
// again once the attempt's own containers are gone, when they still run
// the live release: the app serves as it did before the attempt.
func (d *Deployer) Reconcile(ctx context.Context) ([]runtime.Object, error) {
	live := map[string]string{}    // app -> live release number
	var stopped []store.Release    // releases whose run stopped serving containers
	serving := map[string]string{} // app -> the live release's container
	err := d.st.Update(func(tx *store.Tx) error {
		apps, err := tx.Apps()
		if err != nil {
			return err
		}
		for _, a := range apps {
			live[a.Name] = ""
			if d.Busy(a.Name) || d.watched(a.Name) {
				return fmt.Errorf("app %q: %w; reconcile when no deploy runs", a.Name, ErrBusy)
			}
			rels, err := tx.Releases(a.Name, 0)
			if err != nil {
				return err
			}
			for _, r := range rels {
				if len(r.Stopped) > 0 {
					stopped = append(stopped, r)
				}
				switch r.Status {
				case store.ReleaseLive:
					live[a.Name] = strconv.FormatUint(r.Number, 10)
					serving[a.Name] = r.ContainerID
					if r.Unsettled != nil {
						// kaj stopped during its window, which it passed
						// as far as anyone saw.
						if _, err := d.settle(tx, &r, "kaj"); err != nil {
							return err
						}
						if _, err := tx.UpdateRelease(r); err != nil {
							return err
						}
					}
				case store.ReleasePending:
					r.Status, r.Error = store.ReleaseInterrupted, "kaj stopped during this deploy"
					if _, err := tx.UpdateRelease(r); err != nil {
						return err
					}
					if _, err := tx.AddEvent(store.Event{Actor: "kaj", Action: store.ActionInterrupted, Target: a.Name, Detail: fmt.Sprintf("release %d", r.Number)}); err != nil {
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
	if d.opts.Cluster != nil {
		return nil, d.reconcileServices(ctx, live)
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
	held := map[string]bool{} // apps a fixed-port run stopped: restore's
	for _, r := range stopped {
		held[r.App] = true
		gone, err := d.restore(ctx, r, live[r.App], serving[r.App])
		removed = append(removed, gone...)
		if err != nil {
			errs = append(errs, fmt.Errorf("starting %s's serving container again: %w", r.App, err))
		}
	}
	gone, err := d.removeUnserving(ctx, live, serving, held)
	removed = append(removed, gone...)
	if err != nil {
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

// removeUnserving removes the containers of a live release other than
// the one it records serving, while that one runs: a restart kaj stopped
// during (its health check, or the stability window after it) left two.
// Reconcile's orphan sweep keeps them, as they carry the live release.
// One engine call lists them all, only this instance's.
func (d *Deployer) removeUnserving(ctx context.Context, live, serving map[string]string, held map[string]bool) ([]runtime.Object, error) {
	cs, err := d.rt.ListAll(ctx, d.opts.Labels)
	if err != nil {
		return nil, fmt.Errorf("listing containers to find those no release serves: %w", err)
	}
	running := map[string]bool{}
	for _, c := range cs {
		if c.State == "running" {
			running[c.ID] = true
		}
	}
	var removed []runtime.Object
	var errs []error
	for _, c := range cs {
		rel, known := live[c.App]
		if !known || rel == "" || held[c.App] || c.Role != runtime.RoleApp || c.Release != rel {
			continue
		}
		if s := serving[c.App]; s == "" || s == c.ID || !running[s] {
			continue
		}
		if err := d.rt.Remove(ctx, c.ID, false); err != nil {
			errs = append(errs, fmt.Errorf("removing %s, which its live release does not serve: %w", c.Name, err))
			continue
		}
		d.log.Info("reconcile: removed a container its live release does not serve, left by an interrupted restart", "app", c.App, "container", c.Name)
		removed = append(removed, runtime.Object{Kind: runtime.KindContainer, ID: c.ID, Name: c.Name, App: c.App, Role: c.Role, Release: c.Release})
	}
	return removed, errors.Join(errs...)
}

// restore starts again the serving containers that release r's run
// stopped, those of the live release. A container of the live release
// that is neither of them nor the one it records serving was started by
// an interrupted restart and holds the port: it goes first.
func (d *Deployer) restore(ctx context.Context, r store.Release, live, serving string) ([]runtime.Object, error) {
	cs, err := d.rt.List(ctx, r.App)
	if err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, id := range r.Stopped {
		wanted[id] = true
	}
	var start []runtime.Status
	var removed []runtime.Object
	for _, c := range cs {
		if c.Role != runtime.RoleApp || live == "" || c.Release != live {
			continue
		}
		switch {
		case wanted[c.ID]:
			start = append(start, c)
		case c.ID != serving && serving != "" && wanted[serving]:
			if err := d.rt.Remove(ctx, c.ID, false); err != nil {
				return removed, fmt.Errorf("removing %s, left by an interrupted restart: %w", c.Name, err)
			}
			removed = append(removed, runtime.Object{Kind: runtime.KindContainer, ID: c.ID, Name: c.Name, App: c.App, Role: c.Role, Release: c.Release})
		}
	}
	for _, c := range start {
		if c.State == "running" {
			continue
		}
		if err := d.rt.Start(ctx, c.ID); err != nil {
			return removed, fmt.Errorf("starting %s: %w", c.Name, err)
		}
		d.log.Info("reconcile: started again the container an interrupted deploy stopped", "app", r.App, "container", c.Name, "release", c.Release)
	}
	return removed, d.recordStopped(r.App, r.Number, nil)
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

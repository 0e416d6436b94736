package deploy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// The operations on a swarm map to the services: stop is a scale to
// zero, start a scale back to the app's replicas, restart a forced
// rolling update, delete the removal of the services, network and, when
// asked and possible, the volume.

// swarmOp runs fn under app's lock and records action.
func (d *Deployer) swarmOp(ctx context.Context, app, actor string, action store.Action, fn func(a store.App) error) error {
	a, err := d.st.App(app)
	if err != nil {
		return err
	}
	unlock, err := d.lock(app)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := d.opts.Cluster.AppService(ctx, app); err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return fmt.Errorf("app %q has no service: %w; deploy it first", app, runtime.ErrNotFound)
		}
		return err
	}
	if err := fn(a); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	_, err = d.st.AddEvent(store.Event{Actor: actor, Action: action, Target: app})
	return err
}

func (d *Deployer) swarmStop(ctx context.Context, app, actor string) error {
	return d.swarmOp(ctx, app, actor, store.ActionAppStop, func(a store.App) error {
		c := d.opts.Cluster
		if err := d.unroute(app); err != nil {
			return err
		}
		if err := c.ScaleService(ctx, app, runtime.RoleApp, 0); err != nil {
			return err
		}
		if a.Database != nil {
			if err := c.ScaleService(ctx, app, runtime.RoleDB, 0); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

func (d *Deployer) swarmStart(ctx context.Context, app, actor string) error {
	return d.swarmOp(ctx, app, actor, store.ActionAppStart, func(a store.App) error {
		c := d.opts.Cluster
		a = d.liveDefinition(a)
		if a.Database != nil {
			if err := c.ScaleService(ctx, app, runtime.RoleDB, 1); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				return err
			}
			if _, err := d.waitDatabaseTask(ctx, d.databaseSpec(a, "")); err != nil {
				return err
			}
		}
		since := time.Now()
		if err := c.ScaleService(ctx, app, runtime.RoleApp, a.ReplicaCount()); err != nil {
			return err
		}
		sv, err := c.AppService(ctx, app)
		if err != nil {
			return err
		}
		_, err = d.waitRollout(ctx, a, sv.Release, since)
		return err
	})
}

func (d *Deployer) swarmRestart(ctx context.Context, app, actor string) error {
	return d.swarmOp(ctx, app, actor, store.ActionAppRestart, func(a store.App) error {
		c := d.opts.Cluster
		a = d.liveDefinition(a)
		since := time.Now()
		if err := c.ForceUpdateService(ctx, app, runtime.RoleApp); err != nil {
			return err
		}
		sv, err := c.AppService(ctx, app)
		if err != nil {
			return err
		}
		_, err = d.waitRollout(ctx, a, sv.Release, since)
		return err
	})
}

// liveDefinition is a as its live release ran it.
func (d *Deployer) liveDefinition(a store.App) store.App {
	rels, err := d.st.Releases(a.Name, 0)
	if err != nil {
		return a
	}
	for _, r := range rels {
		if r.Status == store.ReleaseLive && r.Definition != nil {
			a.Apply(*r.Definition)
			break
		}
	}
	return a
}

func (d *Deployer) swarmDelete(ctx context.Context, app string, deleteData bool, actor string) error {
	a, err := d.st.App(app)
	if err != nil {
		return err
	}
	unlock, err := d.lock(app)
	if err != nil {
		return err
	}
	defer unlock()
	if d.opts.Router != nil {
		if _, err := d.opts.Router.Serve(app, nil); err != nil {
			d.log.Warn("emptying the route of a deleted app", "app", app, "err", err)
		}
	}
	volume := ""
	if a.Database != nil {
		volume = a.Database.Volume
	}
	if err := d.opts.Cluster.RemoveSwarmApp(ctx, app, volume, deleteData); err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.followers, app)
	d.mu.Unlock()
	return d.forget(app, deleteData, actor)
}

// swarmContainers reports app's tasks that swarm means to run as
// container statuses (every app's for ""): ID the task's container on
// the manager, the task's elsewhere; name <service>.<slot>@<node>; the
// node's address and port as the published address.
func (d *Deployer) swarmContainers(ctx context.Context, app string) ([]runtime.Status, error) {
	names := []string{app}
	if app == "" {
		all, err := d.st.Apps()
		if err != nil {
			return nil, err
		}
		names = names[:0]
		for _, a := range all {
			names = append(names, a.Name)
		}
	}
	info, err := d.opts.Cluster.Swarm(ctx)
	if err != nil {
		return nil, err
	}
	var out []runtime.Status
	for _, n := range names {
		ts, err := d.opts.Cluster.Tasks(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if t.Desired != "running" {
				continue
			}
			// A container on the manager is read as one (logs, stats, a
			// terminal); elsewhere only the task is within reach.
			id := t.ContainerID
			if id == "" || t.NodeID != info.NodeID {
				id = t.ID
			}
			name := d.Names(t.App).Network
			if t.Role == runtime.RoleDB {
				name = d.Names(t.App).Database
			}
			out = append(out, runtime.Status{
				Container: runtime.Container{
					ID: id, Name: name + "." + strconv.Itoa(t.Slot) + "@" + t.Node, App: t.App, Role: t.Role,
					Release: t.Release, HostPort: t.HostPort, Service: t.ServiceID,
				},
				State: t.State,
			})
		}
	}
	return out, nil
}

// reconcileServices is Reconcile on a swarm, where swarm itself keeps
// each service's tasks: containers are never removed behind its back (it
// would start them again). A service left on another release than the
// live one by a deploy kaj did not finish is reported; the next deploy or
// a rollback settles it.
func (d *Deployer) reconcileServices(ctx context.Context, live map[string]string) error {
	var errs []error
	for app, rel := range live {
		sv, err := d.opts.Cluster.AppService(ctx, app)
		switch {
		case errors.Is(err, runtime.ErrNotFound):
			continue
		case err != nil:
			errs = append(errs, err)
		case rel != "" && sv.Release != rel:
			d.log.Warn("reconcile: the app's service runs another release than the live one; deploy again or roll back", "app", app, "service_release", sv.Release, "live_release", rel)
		}
	}
	return errors.Join(errs...)
}

// DatabaseContainer is the engine container of app's database, for what
// reaches into it (backups, restores, a terminal): on one engine its
// container name; on a swarm the container of its running task, which
// kaj places on the manager with its volume (see EnsureDatabaseService).
// A database task on another node is out of the manager's reach, and
// the error says so.
func (d *Deployer) DatabaseContainer(ctx context.Context, app string) (string, error) {
	if d.opts.Cluster == nil {
		return d.Names(app).Database, nil
	}
	info, err := d.opts.Cluster.Swarm(ctx)
	if err != nil {
		return "", err
	}
	ts, err := d.opts.Cluster.Tasks(ctx, app)
	if err != nil {
		return "", err
	}
	for _, t := range ts {
		if t.Role != runtime.RoleDB || t.Desired != "running" {
			continue
		}
		switch {
		case t.State != "running":
			return "", fmt.Errorf("the database of %s is %s, not running: %w", app, t.State, runtime.ErrNotFound)
		case t.NodeID != info.NodeID || t.ContainerID == "":
			return "", fmt.Errorf("the database of %s runs on node %s, out of the manager's reach: kaj reaches a database only on the node where kaj runs; move its volume there or take the dump on %s", app, t.Node, t.Node)
		}
		return t.ContainerID, nil
	}
	return "", fmt.Errorf("the database of %s has no running task: %w; start the app", app, runtime.ErrNotFound)
}

// swarmHold is Hold on a swarm: the app's service is scaled to zero
// while fn runs, and back to the live release's replicas after, however
// fn ended; the route follows its tasks again.
func (d *Deployer) swarmHold(ctx context.Context, app string, fn func(ctx context.Context) error) error {
	a, err := d.st.App(app)
	if err != nil {
		return err
	}
	c := d.opts.Cluster
	if err := d.unroute(app); err != nil {
		return err
	}
	if err := c.ScaleService(ctx, app, runtime.RoleApp, 0); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("stopping %s's tasks: %w", app, err)
	}
	err = fn(ctx)
	// The app comes back even when the caller's work was canceled.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.HealthTimeout+time.Minute)
	defer cancel()
	a = d.liveDefinition(a)
	since := time.Now()
	if serr := c.ScaleService(bctx, app, runtime.RoleApp, a.ReplicaCount()); serr != nil {
		if errors.Is(serr, runtime.ErrNotFound) {
			return err
		}
		return errors.Join(err, fmt.Errorf("starting %s's tasks again: %w", app, serr))
	}
	sv, serr := c.AppService(bctx, app)
	if serr == nil {
		_, serr = d.waitRollout(bctx, a, sv.Release, since)
	}
	if serr != nil {
		serr = fmt.Errorf("starting %s's tasks again: %w", app, serr)
	}
	return errors.Join(err, serr)
}

// unroute empties app's route (it answers 503) and tells its follower
// the route is known empty, so it does not route the tasks going away.
func (d *Deployer) unroute(app string) error {
	if d.opts.Router == nil {
		return nil
	}
	if _, err := d.opts.Router.Serve(app, nil); err != nil {
		return err
	}
	f := d.follower(app)
	f.mu.Lock()
	f.routed, f.known = nil, true
	f.mu.Unlock()
	return nil
}

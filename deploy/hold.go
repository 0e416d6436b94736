package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// Hold runs fn while app is claimed, so no deploy, rollback or other
// operation of app runs meanwhile (they get ErrBusy, and the app reads
// busy). With stopApp, the app's running app containers are stopped
// first — its route answers 503 — and started again after fn, whatever
// fn returned, once they pass their health check; its database keeps
// running. This is how a restore keeps the app from writing into a
// database being replaced.
func (d *Deployer) Hold(ctx context.Context, app string, stopApp bool, fn func(ctx context.Context) error) error {
	if _, err := d.st.App(app); err != nil {
		return err
	}
	unlock, err := d.lock(app)
	if err != nil {
		return err
	}
	defer unlock()
	if !stopApp {
		return fn(ctx)
	}
	if d.opts.Cluster != nil {
		return d.swarmHold(ctx, app, fn)
	}
	cs, err := d.rt.List(ctx, app)
	if err != nil {
		return fmt.Errorf("listing %s's containers to stop them: %w", app, err)
	}
	var stopped []runtime.Status
	if d.opts.Router != nil {
		if _, err := d.opts.Router.Serve(app, nil); err != nil {
			return err
		}
	}
	for _, c := range cs {
		if c.Role != runtime.RoleApp || c.State != "running" {
			continue
		}
		if err := d.rt.Stop(ctx, c.ID, d.opts.StopTimeout); err != nil {
			err = fmt.Errorf("stopping %s: %w", c.Name, err)
			return errors.Join(err, d.startAgain(app, stopped))
		}
		stopped = append(stopped, c)
	}
	err = fn(ctx)
	return errors.Join(err, d.startAgain(app, stopped))
}

// startAgain starts the app containers Hold stopped, waits until they
// pass their health check and routes to them. It uses a context of its
// own: the app comes back even when the caller's work was canceled.
func (d *Deployer) startAgain(app string, cs []runtime.Status) error {
	if len(cs) == 0 {
		return nil
	}
	timeout := d.opts.HealthTimeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	a, err := d.st.App(app)
	if err != nil {
		return err
	}
	var ups []string
	for _, c := range cs {
		if err := d.rt.Start(ctx, c.ID); err != nil {
			return fmt.Errorf("starting %s again: %w", c.Name, err)
		}
		if err := d.rt.WaitHealthy(ctx, c.Container, d.healthOptions(a)); err != nil {
			return fmt.Errorf("starting %s again: %w", c.Name, err)
		}
		ups = append(ups, d.upstreamOf(ctx, app, c.ID, a.Port)...)
	}
	if d.opts.Router != nil {
		if _, err := d.opts.Router.Serve(app, ups); err != nil {
			return fmt.Errorf("routing to %s again: %w", app, err)
		}
	}
	d.log.Info("app started again after an operation that stopped it", "app", app)
	return nil
}

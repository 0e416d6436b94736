package kajd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/runtime"
)

// readyWait is how long an operation waits for the start-up work before
// it is refused: a healthy engine finishes that work in a moment, and an
// operation asked for just then should not fail for it.
const readyWait = 3 * time.Second

// watchEvery is how often the watcher checks the engine at most; a
// shorter docker.timeout checks as often as the timeout.
const watchEvery = 5 * time.Second

// startEngine starts the engine's watcher and the start-up work that
// needs the engine. Neither keeps kaj from serving its health check, API
// and dashboard; the router waits for the work (see routesReady).
func (k *Kaj) startEngine(cfg config.Config) {
	every := min(watchEvery, cfg.Docker.Timeout.D())
	k.bgDone.Add(2)
	go func() {
		defer k.bgDone.Done()
		k.Engine.Watch(k.bg, every)
	}()
	go func() {
		defer k.bgDone.Done()
		k.untilStarted(k.bg, cfg, every)
	}()
}

// routesReady waits until the routes know their containers, or the engine
// is known not to answer, or the timeout passed: until then the router's
// first visitors wait (in the listener's backlog) rather than get 503s
// from routes without their containers, as they did when kaj started
// only after this work.
func (k *Kaj) routesReady(ctx context.Context, timeout time.Duration) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	limit := time.After(timeout)
	for {
		if st := k.Engine.State(); st.Known && !st.Answering {
			return
		}
		select {
		case <-k.started:
			return
		case <-ctx.Done():
			return
		case <-limit:
			return
		case <-t.C:
		}
	}
}

// untilStarted runs the start-up work until it succeeds, waiting between
// attempts, then marks kaj started.
func (k *Kaj) untilStarted(ctx context.Context, cfg config.Config, every time.Duration) {
	for attempt := 0; ; attempt++ {
		err := k.engineStartup(ctx, cfg)
		if err == nil {
			close(k.started)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if attempt == 0 {
			k.log.Warn("docker engine unavailable; kaj serves anyway, routes apps once it answers, refuses changes until then, and retries", "err", err)
		} else {
			k.log.Debug("docker engine still unavailable", "attempt", attempt+1, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// engineStartup is what kaj does with the engine before it changes
// anything in it: learn whether it runs in a container, sweep abandoned
// backup verifications, reconcile when configured to, and give the
// routes their containers. An engine that does not answer fails it, to
// be retried; other failures are logged, as they would not mend by
// retrying.
func (k *Kaj) engineStartup(ctx context.Context, cfg config.Config) error {
	info, err := k.Engine.Info(ctx)
	if err != nil {
		return err
	}
	log := k.log
	log.Info("docker engine", "version", info.Version, "api", info.APIVersion, "host", info.Host)
	unavailable := func(err error) bool {
		return errors.Is(err, runtime.ErrEngineTimeout) || errors.Is(err, runtime.ErrEngineUnreachable)
	}
	if in, err := k.Engine.JoinAppNetworks(ctx); unavailable(err) {
		return err
	} else if err != nil {
		log.Warn("finding kaj's own container", "err", err)
	} else if in {
		log.Info("kaj runs in a container: it joins each app's network to reach the app and its database")
	}
	// Before any verification runs: a throwaway database left by a
	// verification kaj's last run did not finish goes now.
	if swept, err := k.Backups.SweepVerifications(ctx); unavailable(err) {
		return err
	} else if err != nil {
		log.Warn("removing abandoned backup verifications", "err", err)
	} else if len(swept) > 0 {
		log.Info("removed abandoned backup verifications", "apps", swept)
	}
	if cfg.Deploy.ReconcileOnStart {
		removed, err := k.Deployer.Reconcile(ctx)
		if unavailable(err) {
			return err
		} else if err != nil {
			log.Warn("reconcile", "err", err)
		}
		for _, o := range removed {
			log.Info("reconcile removed an orphan", "kind", o.Kind, "name", o.Name, "app", o.App, "release", o.Release)
		}
	}
	// On a swarm the follower fills each route with the app's healthy
	// tasks instead.
	if k.FrontDoor != nil && !k.swarm {
		cs, err := k.Deployer.Containers(ctx, "")
		if err != nil {
			return fmt.Errorf("listing containers for the routes: %w", err)
		}
		if err := k.FrontDoor.Rebuild(ctx, cs); err != nil {
			log.Error("routing apps to their containers", "err", err)
		}
	}
	return nil
}

// ready refuses operations until the start-up work is done: a deploy
// begun before the start-up reconcile would have its new container taken
// for a crashed deploy's and removed.
func (k *Kaj) ready() error {
	select {
	case <-k.started:
		return nil
	case <-time.After(readyWait):
	}
	st := k.Engine.State()
	if st.Err != nil {
		return fmt.Errorf("%w: waiting for the docker engine at %s: %w", deploy.ErrNotReady, st.Host, st.Err)
	}
	return fmt.Errorf("%w: reconciling with the docker engine at %s; try again in a moment", deploy.ErrNotReady, st.Host)
}

// Started is closed once the start-up work with the engine is done and
// operations may run.
func (k *Kaj) Started() <-chan struct{} { return k.started }

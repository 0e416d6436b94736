package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/redact"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// StepWatch is the step recorded on a release once its watch (see
// watch) ends.
const StepWatch = "watch"

// watchGrace bounds how long the watch keeps probing once its window is
// over: a container that answered, then stopped answering for this long
// while still running, is unhealthy.
const watchGrace = 5 * time.Second

// watch is the stability window run after a release went live. The new
// container answered its health check and serves; what it replaced stays
// as it was, running but unrouted, until the new one has run for the
// window without a restart. Then the previous containers are drained and
// removed. If the new one exits first, the route goes back to them and
// the release is failed: a server that answers once and crashes a moment
// later costs its visitors a moment, not the app. Going live at the first
// passing check is what makes a deploy as fast as a script that starts a
// container and polls it; the window, which would otherwise be idle
// waiting in every deploy, runs after the job has ended.
type watch struct {
	app     string
	release uint64
	restart bool // a restart's watch: the release stays live either way
	actor   string
	c       runtime.Container
	up      string           // the new container's upstream, "" without a router
	prev    []string         // upstreams served before the switch
	old     []runtime.Status // the app containers the new one replaces
	opts    runtime.HealthOptions
	red     *redact.Redactor
	started time.Time // the deploy's start, for metrics
	// superseded are the releases the new one superseded when it went
	// live; they serve again if it fails.
	superseded []uint64
	done       chan struct{}
}

// window is the configured stability window; zero when there is none.
func (d *Deployer) window() time.Duration {
	switch w := d.opts.StableFor; {
	case w < 0:
		return 0
	case w == 0:
		return runtime.DefaultStableFor
	default:
		return w
	}
}

// begin runs w in the background. The app's lock passes to it: an
// operation on the app waits until the watch has ended (see lock), so
// nothing removes or routes the containers it holds meanwhile.
func (d *Deployer) begin(w *watch) {
	w.done = make(chan struct{})
	d.mu.Lock()
	if d.watching == nil {
		d.watching = map[string]*watch{}
	}
	d.watching[w.app] = w
	d.mu.Unlock()
	go d.run(w)
}

func (d *Deployer) run(w *watch) {
	defer func() {
		d.mu.Lock()
		if d.watching[w.app] == w {
			delete(d.watching, w.app)
		}
		d.mu.Unlock()
		close(w.done)
	}()
	opts := w.opts
	opts.StableFor = d.window()
	opts.Timeout = opts.StableFor + watchGrace
	// The watch outlives the job that started it: its own context, bounded
	// by the window, the grace and the engine calls after them.
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout+2*time.Minute)
	defer cancel()
	began := time.Now()
	err := d.rt.WaitHealthy(ctx, w.c, opts)
	if err != nil {
		d.revert(ctx, w, time.Since(began), err)
		return
	}
	detail := d.retire(ctx, w.app, w.up, w.prev, w.old)
	d.finishWatch(w, func(rel *store.Release) {
		rel.Steps = append(rel.Steps, store.Step{Name: StepWatch, Status: jobs.StatusSucceeded, StartedAt: began.UTC(), FinishedAt: ptr(time.Now().UTC()),
			Detail: fmt.Sprintf("%s ran %s without a restart; %s", w.c.Name, opts.StableFor, detail)})
	})
}

// retire drains the upstreams served before (but up) and removes the
// app containers in old, saying what it did.
func (d *Deployer) retire(ctx context.Context, app, up string, prev []string, old []runtime.Status) string {
	if d.opts.Router != nil {
		// Requests in flight to what served before finish there.
		for _, p := range prev {
			if p == up {
				continue
			}
			if err := d.opts.Router.Drain(ctx, p); err != nil {
				d.log.Warn("draining a previous upstream", "app", app, "upstream", p, "err", err)
			}
		}
	}
	n, failed := 0, 0
	for _, s := range old {
		if err := d.rt.Remove(ctx, s.ID, false); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			d.log.Warn("removing a previous container", "app", app, "container", s.Name, "err", err)
			failed++
			continue
		}
		n++
	}
	if failed > 0 {
		return fmt.Sprintf("removed %d previous container(s); %d could not be removed and are left for reconcile", n, failed)
	}
	return fmt.Sprintf("drained and removed %d previous container(s)", n)
}

// revert undoes a release whose container failed its watch: the route
// goes back to what served before, the new container is removed, and the
// release is failed with the superseded ones live again.
func (d *Deployer) revert(ctx context.Context, w *watch, after time.Duration, cause error) {
	back := "nothing served before it, so nothing serves now"
	if d.opts.Router != nil {
		// What served before was left running and unrouted: it takes the
		// traffic back as it was.
		var ups []string
		for _, p := range w.prev {
			if p != w.up {
				ups = append(ups, p)
			}
		}
		if _, err := d.opts.Router.Serve(w.app, ups); err != nil {
			d.log.Error("routing back to the previous release", "app", w.app, "err", err)
		}
		if len(ups) > 0 {
			back = "the route went back to the previous release"
		}
	} else if len(w.old) > 0 {
		back = "the previous release serves on"
	}
	if err := d.rt.Remove(ctx, w.c.ID, false); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		d.log.Warn("removing a container that failed its watch", "app", w.app, "container", w.c.Name, "err", err)
	}
	what, tail := firstLine(cause.Error()), ""
	var we *runtime.WaitError
	if errors.As(cause, &we) {
		what = we.Reason
		if !we.Exited && we.Err != nil {
			what += ": " + we.Err.Error()
		}
		if len(we.Logs) > 0 {
			tail = w.red.String("; last log lines:\n  " + strings.Join(we.Logs, "\n  "))
		}
	}
	msg := fmt.Sprintf("%s went live, then %s %s into its %s watch; %s", w.c.Name, w.red.String(what), after.Round(10*time.Millisecond), d.window(), back)
	now := time.Now().UTC()
	d.finishWatch(w, func(rel *store.Release) {
		rel.Steps = append(rel.Steps, store.Step{Name: StepWatch, Status: jobs.StatusFailed, StartedAt: now.Add(-after), FinishedAt: &now, Detail: msg})
		if w.restart {
			if len(w.old) > 0 {
				rel.ContainerID = w.old[0].ID
			}
			return
		}
		rel.Status, rel.Error, rel.FinishedAt = store.ReleaseFailed, msg+tail, &now
	})
	action := store.ActionDeployFail
	if w.restart {
		action = store.ActionAppRestart
	}
	if _, err := d.st.AddEvent(store.Event{Actor: w.actor, Action: action, Target: w.app, Detail: fmt.Sprintf("release %d: %s", w.release, msg)}); err != nil {
		d.log.Warn("recording a failed watch", "app", w.app, "err", err)
	}
	if d.opts.Observe != nil && !w.restart {
		d.opts.Observe("reverted", time.Since(w.started))
	}
	if d.opts.Reverted != nil {
		d.opts.Reverted(w.app, w.release, msg)
	}
	d.log.Warn("release reverted after going live", "app", w.app, "release", w.release, "err", msg)
}

// finishWatch records the watch's end on its release (if it still
// exists) with edit; a failed release's superseded ones serve again.
func (d *Deployer) finishWatch(w *watch, edit func(*store.Release)) {
	err := d.st.Update(func(tx *store.Tx) error {
		rel, err := tx.Release(w.app, w.release)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		edit(&rel)
		if _, err := tx.UpdateRelease(rel); err != nil {
			return err
		}
		if rel.Status != store.ReleaseFailed {
			return nil
		}
		for _, n := range w.superseded {
			prev, err := tx.Release(w.app, n)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if prev.Status == store.ReleaseSuperseded {
				prev.Status = store.ReleaseLive
				if _, err := tx.UpdateRelease(prev); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		d.log.Error("recording the end of a release's watch", "app", w.app, "release", w.release, "err", err)
	}
}

// Wait waits until no release's watch runs, or ctx ends: kaj waits for
// them before it closes, so none is cut short with both releases' containers
// left running.
func (d *Deployer) Wait(ctx context.Context) error {
	for {
		d.mu.Lock()
		var w *watch
		for _, w = range d.watching {
			break
		}
		d.mu.Unlock()
		if w == nil {
			return nil
		}
		select {
		case <-w.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func ptr[T any](v T) *T { return &v }

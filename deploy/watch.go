package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
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
//
// What a failure would have to undo waits for the window to pass: a
// rollback puts its definition back on the app, and releases are pruned,
// only then.
type watch struct {
	app     string
	release uint64
	// restart is a restart's watch: the release stays live either way,
	// and on failure serving goes back to the container it recorded.
	restart bool
	serving string // a restart's: the container the release recorded before
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
	// unrecorded is why the release could not be recorded live: the
	// watch then reverts at once.
	unrecorded error
	// engineDown is set while the watch waits for an engine that did not
	// answer: an operation on the app would fail the same way, so it is
	// told at once instead of waiting.
	engineDown atomic.Bool
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

// watchLimit bounds a watch's waiting: the window and its grace, and an
// engine that does not answer meanwhile. Draining and removing after it
// have their own deadline.
func (d *Deployer) watchLimit() time.Duration {
	return d.window() + watchGrace + 2*time.Minute
}

// begin runs w in the background. The app's lock passes to it: an
// operation on the app waits until the watch has ended (see waitWatch),
// so nothing removes or routes the containers it holds meanwhile.
func (d *Deployer) begin(w *watch) {
	w.done = make(chan struct{})
	d.mu.Lock()
	if d.watching == nil {
		d.watching = map[string]*watch{}
	}
	if prev := d.watching[w.app]; prev != nil {
		// lock and lockFor wait for a watch before any operation, so this
		// does not happen; were it to, two watches at once would route
		// over each other: this one waits for the first.
		d.mu.Unlock()
		d.log.Error("a second watch of an app; it runs after the first", "app", w.app, "release", w.release)
		go func() { <-prev.done; d.begin(w) }()
		return
	}
	d.watching[w.app] = w
	d.mu.Unlock()
	go d.run(w)
}

// waitWatch waits until no watch of app runs.
func (d *Deployer) waitWatch(app string) error {
	d.mu.Lock()
	w := d.watching[app]
	d.mu.Unlock()
	if w == nil {
		return nil
	}
	limit := time.After(d.window() + 15*time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.done:
			return nil
		case <-tick.C:
			if w.engineDown.Load() {
				return fmt.Errorf("app %q: %w: kaj is waiting for it to judge the app's new release; check dockerd, then try again", app, runtime.ErrEngineTimeout)
			}
		case <-limit:
			// Longer is a drain of websockets: an operation should not
			// hang on it.
			return fmt.Errorf("app %q: %w: its new release is still being watched (the window, then draining the replaced containers); try again in a moment", app, ErrBusy)
		}
	}
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
	// The watch outlives the job that started it: its own context.
	ctx, cancel := context.WithTimeout(context.Background(), d.watchLimit())
	defer cancel()
	began := time.Now()
	if w.unrecorded != nil {
		d.revert(w, 0, w.unrecorded)
		return
	}
	var err error
	for {
		err = d.rt.WaitHealthy(ctx, w.c, opts)
		if err == nil || verdict(err) || ctx.Err() != nil {
			break
		}
		// The engine, not the container, failed (a call timed out, the
		// socket went away): that is no verdict on the release. Ask
		// again; the window counts from the container's start.
		w.engineDown.Store(true)
		d.log.Warn("watching a new release: the engine did not answer; asking again", "app", w.app, "release", w.release, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if err != nil && verdict(err) {
		d.revert(w, time.Since(began), err)
		return
	}
	detail := ""
	if err == nil {
		detail = fmt.Sprintf("%s ran %s without a restart; %s", w.c.Name, opts.StableFor, d.retire(w.app, w.up, w.prev, w.old))
	} else {
		// No verdict before the deadline: the release stands, routed;
		// what it replaced stays for reconcile at the next start.
		detail = fmt.Sprintf("the engine did not answer during %s's window (%v); the release stands and the replaced containers are left for reconcile", w.c.Name, err)
		d.log.Error("watching a new release: no answer from the engine", "app", w.app, "release", w.release, "err", err)
	}
	var restored *store.App
	err = d.finishWatch(w, func(tx *store.Tx, rel *store.Release) error {
		if w.restart {
			return nil // a restart records nothing on the release
		}
		rel.Steps = append(rel.Steps, store.Step{Name: StepWatch, Status: jobs.StatusSucceeded, StartedAt: began.UTC(), FinishedAt: ptr(time.Now().UTC()), Detail: detail})
		var err error
		restored, err = d.settle(tx, rel, w.actor)
		return err
	})
	if err == nil && restored != nil && d.opts.Restored != nil {
		d.opts.Restored(*restored)
	}
}

// verdict reports whether a watch's failed wait says something of the
// container (it exited, restarted, stopped answering, or is gone) rather
// than of the engine.
func verdict(err error) bool {
	var we *runtime.WaitError
	return errors.As(err, &we) || errors.Is(err, runtime.ErrNotFound)
}

// settle does, once rel's window has passed, what a failure would have
// had to undo: a rollback's definition goes back on the app (unless the
// app was edited meanwhile), and the app's releases are pruned. It returns
// the app when its definition changed. Reconcile settles a release whose
// watch kaj did not see end.
func (d *Deployer) settle(tx *store.Tx, rel *store.Release, actor string) (*store.App, error) {
	u := rel.Unsettled
	rel.Unsettled = nil
	if _, err := tx.PruneReleases(rel.App, d.opts.KeepReleases); err != nil {
		return nil, err
	}
	if rel.Rollback == 0 {
		return nil, nil
	}
	cur, err := tx.App(rel.App)
	if err != nil {
		return nil, err
	}
	if u != nil && cur.Version != u.AppVersion {
		_, err := tx.AddEvent(store.Event{Actor: actor, Action: store.ActionRestored, Target: rel.App,
			Detail: fmt.Sprintf("rolled back to #%d; its settings were not put back on the app, which was changed while the release was watched", rel.Rollback)})
		return nil, err
	}
	a, err := tx.RestoreRelease(rel.App, rel.Number)
	if err != nil {
		return nil, err
	}
	_, err = tx.AddEvent(store.Event{Actor: actor, Action: store.ActionRestored, Target: rel.App, Detail: fmt.Sprintf("rolled back to #%d: settings restored", rel.Rollback)})
	return &a, err
}

// retire drains the upstreams served before (but up) and removes the
// app containers in old, saying what it did. It has its own deadline:
// the watch may have spent its own waiting for the engine.
func (d *Deployer) retire(app, up string, prev []string, old []runtime.Status) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
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
func (d *Deployer) revert(w *watch, after time.Duration, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
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
	// Masked whole before it is cut: a secret cut at a line break would
	// no longer be recognised.
	what, tail := firstLine(w.red.String(cause.Error())), ""
	var we *runtime.WaitError
	if errors.As(cause, &we) {
		what = we.Reason
		if !we.Exited && we.Err != nil {
			what += ": " + we.Err.Error()
		}
		what = firstLine(w.red.String(what))
		if len(we.Logs) > 0 {
			tail = w.red.String("; last log lines:\n  " + strings.Join(we.Logs, "\n  "))
		}
	}
	var msg string
	if w.unrecorded != nil {
		msg = fmt.Sprintf("%s went live, but the release could not be recorded (%s); %s", w.c.Name, what, back)
	} else {
		msg = fmt.Sprintf("%s went live, then %s %s into its %s watch; %s", w.c.Name, what, after.Round(10*time.Millisecond), d.window(), back)
	}
	now := time.Now().UTC()
	d.finishWatch(w, func(tx *store.Tx, rel *store.Release) error {
		if w.restart {
			rel.ContainerID = w.serving
			return nil
		}
		rel.Unsettled = nil
		rel.Steps = append(rel.Steps, store.Step{Name: StepWatch, Status: jobs.StatusFailed, StartedAt: now.Add(-after), FinishedAt: &now, Detail: msg})
		rel.Status, rel.Error, rel.FinishedAt = store.ReleaseFailed, msg+tail, &now
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
	action, title := store.ActionDeployFail, fmt.Sprintf("release %d of %s was reverted", w.release, w.app)
	if w.restart {
		action, title = store.ActionRestartFail, fmt.Sprintf("restart of %s was reverted", w.app)
	}
	if _, err := d.st.AddEvent(store.Event{Actor: w.actor, Action: action, Target: w.app, Detail: fmt.Sprintf("release %d: %s", w.release, msg)}); err != nil {
		d.log.Warn("recording a failed watch", "app", w.app, "err", err)
	}
	if d.opts.Observe != nil && !w.restart {
		d.opts.Observe("reverted", time.Since(w.started))
	}
	if d.opts.Reverted != nil {
		d.opts.Reverted(w.app, title, msg)
	}
	d.log.Warn("reverted after going live", "app", w.app, "release", w.release, "restart", w.restart, "err", msg)
}

// finishWatch records the watch's end on its release, if it still
// exists, with edit.
func (d *Deployer) finishWatch(w *watch, edit func(*store.Tx, *store.Release) error) error {
	err := d.st.Update(func(tx *store.Tx) error {
		rel, err := tx.Release(w.app, w.release)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := edit(tx, &rel); err != nil {
			return err
		}
		_, err = tx.UpdateRelease(rel)
		return err
	})
	if err != nil {
		d.log.Error("recording the end of a release's watch", "app", w.app, "release", w.release, "err", err)
	}
	return err
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

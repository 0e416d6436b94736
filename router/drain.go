package router

import (
	"context"
	"fmt"
	"time"
)

// Drain lets an upstream that no route sends to anymore finish its work:
// it waits until no request is in flight to upstream and no upgraded
// connection (websocket) is open to it, or until the drain timeout or ctx
// ends, and then closes the upgraded connections still open, so that the
// container can be stopped. An app with websockets open therefore drains
// for the whole timeout: its clients get that long to leave on their own.
//
// It returns nil when no plain request was left in flight (upgraded
// connections closed at the end are expected), an error wrapping
// ErrDrainTimeout or ctx's error when requests were still in flight (they
// are left to fail when the container stops), and ErrStillRouted, closing
// nothing, when a route still names the upstream. An address the router
// never saw is idle: Drain returns nil at once.
func (r *Router) Drain(ctx context.Context, upstream string) error {
	start := r.now()
	r.mu.Lock()
	u := r.ups[upstream]
	t := r.table.Load()
	r.mu.Unlock()
	if t.routedAnywhere(upstream) {
		return fmt.Errorf("draining %s: %w", upstream, ErrStillRouted)
	}
	if u == nil {
		return nil
	}
	timer := time.NewTimer(r.opts.DrainTimeout)
	defer timer.Stop()
	var err error
	select {
	case <-u.idleCh():
	case <-timer.C:
		if n := u.requests(); n > 0 {
			err = fmt.Errorf("draining %s: %d requests still in flight after %s: %w", upstream, n, r.opts.DrainTimeout, ErrDrainTimeout)
		}
	case <-ctx.Done():
		if n := u.requests(); n > 0 {
			err = fmt.Errorf("draining %s: %d requests still in flight: %w", upstream, n, ctx.Err())
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.table.Load().routedAnywhere(upstream) {
		// Routed again while we waited (a rollback to the same address):
		// its connections are wanted.
		return err
	}
	closed := u.closeHijacked()
	if r.pool != nil {
		r.pool.closeIdleTo(upstream)
	}
	r.pruneLocked(r.table.Load())
	r.log.Info("upstream drained", "upstream", upstream, "took", r.now().Sub(start).Round(time.Millisecond),
		"upgraded_closed", closed, "err", err)
	return err
}

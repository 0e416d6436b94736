package logstream

import (
	"context"
	"sync/atomic"
	"time"
)

// watch is what the watchdog knows of a follow: when it last delivered,
// and the newest line time it delivered.
type watch struct {
	at     atomic.Int64 // wall clock of the last batch, unix ns
	latest atomic.Int64 // newest line time seen, unix ns
}

func (w *watch) saw(batch []Line) {
	w.at.Store(time.Now().UnixNano())
	for i := range batch {
		if t := batch[i].Time.UnixNano(); t > w.latest.Load() {
			w.latest.Store(t)
		}
	}
}

func (w *watch) newest() time.Time { return time.Unix(0, w.latest.Load()) }

// watchdog checks, while the follow is quiet, whether the engine's log
// has lines newer than the follow delivered; then it cancels the follow
// through restart. It sends on stalled once, when it ends: whether it
// restarted the follow.
func (st *stream) watchdog(ctx context.Context, w *watch, restart context.CancelFunc, stalled chan<- bool) {
	every := st.hub.opts.StallCheck
	if every < 0 {
		<-ctx.Done()
		stalled <- false
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			stalled <- false
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, w.at.Load())) < every || w.latest.Load() == 0 {
			continue // delivering, or nothing to compare with yet
		}
		tail, err := st.hub.src.Tail(ctx, st.key, 1)
		if err != nil || len(tail) == 0 || !tail[len(tail)-1].Time.After(w.newest()) {
			continue
		}
		stalled <- true
		restart()
		return
	}
}

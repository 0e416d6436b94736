package notify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// Events is the engine's event stream for kaj's containers.
type Events interface {
	WatchEvents(ctx context.Context, emit func(runtime.ContainerEvent)) error
}

var _ Events = (*runtime.Docker)(nil)

// Loop says when a container restarts in a loop: Deaths within Window.
type Loop struct {
	Deaths int
	Window time.Duration
}

// DefaultLoop is three deaths in two minutes: a crash, a retry and
// another crash is a pattern, not bad luck.
var DefaultLoop = Loop{Deaths: 3, Window: 2 * time.Minute}

// Watch subscribes once to the engine's events for all of kaj and turns
// a container's unexpected exit into AppCrashed and repeated exits into
// AppRestarting (once per loop window), until ctx ends. A dropped event
// stream is reopened after retry. Containers kaj stops itself exit 0 or
// by SIGTERM/SIGKILL (143, 137) during a deploy's drain and are not
// crashes; an OOM kill is.
func (n *Notifier) Watch(ctx context.Context, src Events, loop Loop, retry time.Duration) {
	var mu sync.Mutex
	deaths := map[string][]time.Time{}
	warned := map[string]time.Time{}
	wait := retry
	for ctx.Err() == nil {
		began := time.Now()
		err := src.WatchEvents(ctx, func(e runtime.ContainerEvent) {
			if e.App == "" || (e.Action != "die" && e.Action != "oom") {
				return
			}
			if e.Action == "die" && (e.ExitCode == 0 || e.ExitCode == 143 || e.ExitCode == 137) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			now := e.Time
			ds := deaths[e.Container]
			for len(ds) > 0 && now.Sub(ds[0]) > loop.Window {
				ds = ds[1:]
			}
			ds = append(ds, now)
			deaths[e.Container] = ds
			what := fmt.Sprintf("container %s (%s, release %s)", e.Name, e.Role, e.Release)
			if len(ds) >= loop.Deaths {
				if now.Sub(warned[e.Container]) > loop.Window {
					warned[e.Container] = now
					n.Notify(Event{Kind: AppRestarting, App: e.App, Time: now,
						Title:  fmt.Sprintf("%s is restarting in a loop", e.App),
						Detail: fmt.Sprintf("%s exited %d times in %s, last with code %d; read its logs", what, len(ds), loop.Window, e.ExitCode)})
				}
				return
			}
			n.Notify(Event{Kind: AppCrashed, App: e.App, Time: now,
				Title:  fmt.Sprintf("%s crashed", e.App),
				Detail: fmt.Sprintf("%s exited with code %d (%s)", what, e.ExitCode, e.Action)})
		})
		// A stream that ran a while starts the wait over; one that keeps
		// failing (the engine is down) is retried less and less often,
		// up to once a minute, so the log does not fill with it.
		if time.Since(began) > time.Minute {
			wait = retry
		}
		if err != nil {
			n.log.Warn("engine events stream ended; reopening", "err", err, "in", wait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, max(retry, time.Minute))
	}
}

package apps

import (
	"context"
	"sync"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// listFresh is how long the engine's answer for the apps list is reused:
// a dashboard left open and API clients polling cost the engine one list
// a second, however many ask, while a crash elsewhere shows within it.
const listFresh = time.Second

// listCache holds the last list of every app's containers. kaj's own
// operations invalidate it, so they show at once; only changes kaj did
// not make (a crash, a docker command) wait up to listFresh. Concurrent
// misses share one engine call. It is safe for concurrent use.
type listCache struct {
	mu       sync.Mutex
	at       time.Time
	cs       []runtime.Status
	inflight chan struct{}
	gen      uint64 // bumped by invalidate: an answer begun before is not kept
}

func (c *listCache) get(ctx context.Context, fetch func(context.Context) ([]runtime.Status, error)) ([]runtime.Status, error) {
	for {
		c.mu.Lock()
		if !c.at.IsZero() && time.Since(c.at) < listFresh {
			cs := c.cs
			c.mu.Unlock()
			return cs, nil
		}
		if wait := c.inflight; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		gen := c.gen
		c.inflight = done
		c.mu.Unlock()

		cs, err := fetch(ctx)
		c.mu.Lock()
		c.inflight = nil
		if err == nil && gen == c.gen {
			c.cs, c.at = cs, time.Now()
		}
		c.mu.Unlock()
		close(done)
		return cs, err
	}
}

// invalidate makes the next get ask the engine.
func (c *listCache) invalidate() {
	c.mu.Lock()
	c.at = time.Time{}
	c.gen++
	c.mu.Unlock()
}

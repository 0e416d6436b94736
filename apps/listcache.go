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
// operations invalidate it, so the next list asks the engine while its
// caller waits and shows them at once. An answer merely older than
// listFresh (only changes kaj did not make can be missing from it) is
// still given at once while one refresh runs behind it, so no request
// waits on the engine for those. It is safe for concurrent use.
type listCache struct {
	mu       sync.Mutex
	at       time.Time
	cs       []runtime.Status
	dirty    bool
	inflight chan struct{}
	gen      uint64 // bumped by invalidate: an answer begun before is not kept
	lastErr  error
}

// get returns the list and when the engine gave it.
func (c *listCache) get(ctx context.Context, fetch func(context.Context) ([]runtime.Status, error)) ([]runtime.Status, time.Time, error) {
	for {
		c.mu.Lock()
		have := !c.at.IsZero() && !c.dirty && c.lastErr == nil
		if have && time.Since(c.at) < listFresh {
			cs, at := c.cs, c.at
			c.mu.Unlock()
			return cs, at, nil
		}
		if have {
			cs, at := c.cs, c.at
			if c.inflight == nil {
				c.startLocked(fetch)
			}
			c.mu.Unlock()
			return cs, at, nil
		}
		wait := c.inflight
		if wait == nil {
			wait = c.startLocked(fetch)
		}
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		}
		c.mu.Lock()
		err := c.lastErr
		fresh := !c.at.IsZero() && !c.dirty
		cs, at := c.cs, c.at
		c.mu.Unlock()
		if err != nil && !fresh {
			return nil, time.Time{}, err
		}
		if fresh {
			return cs, at, nil
		}
		// Invalidated while the answer was on its way: ask again.
	}
}

// startLocked runs one fetch in the background, bounded by its own
// deadline so that no caller's cancellation cuts it short; c.mu is held.
func (c *listCache) startLocked(fetch func(context.Context) ([]runtime.Status, error)) chan struct{} {
	done := make(chan struct{})
	c.inflight = done
	gen := c.gen
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), engineWait)
		defer cancel()
		cs, err := fetch(ctx)
		c.mu.Lock()
		c.inflight, c.lastErr = nil, err
		if err == nil && gen == c.gen {
			c.cs, c.at, c.dirty = cs, time.Now(), false
		}
		c.mu.Unlock()
		close(done)
	}()
	return done
}

// invalidate makes the next get ask the engine and wait for its answer.
func (c *listCache) invalidate() {
	c.mu.Lock()
	c.dirty = true
	c.gen++
	c.mu.Unlock()
}

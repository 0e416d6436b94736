package runtime

import (
	"context"
	"errors"
	"sync"
	"time"

	mclient "github.com/moby/moby/client"
)

// EngineState is what kaj knows of its engine now, from the watcher's
// checks and from every call's outcome.
type EngineState struct {
	// Host is the engine's address.
	Host string `json:"host"`
	// Known is false until the engine first answered or failed to.
	Known bool `json:"known"`
	// Answering is true while the engine answers in time.
	Answering bool `json:"answering"`
	// Err says why it does not: it matches ErrEngineTimeout (a hung
	// engine) or ErrEngineUnreachable (nothing listens). Nil while it
	// answers.
	Err error `json:"-"`
	// Since is when the current condition (answering or not) began.
	Since time.Time `json:"since,omitzero"`
	// Info is what the engine last said of itself; zero before it did.
	Info EngineInfo `json:"info,omitzero"`
}

// Condition says the state in words: "answering", "not answering"
// (connections accepted, no answer in time), "unreachable" or "unknown".
func (s EngineState) Condition() string {
	switch {
	case !s.Known:
		return "unknown"
	case s.Answering:
		return "answering"
	case errors.Is(s.Err, ErrEngineTimeout):
		return "not answering"
	}
	return "unreachable"
}

// engineHealth holds the engine's state; safe for concurrent use.
type engineHealth struct {
	mu sync.Mutex
	s  EngineState
}

func (h *engineHealth) answered() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.s.Known || !h.s.Answering {
		h.s.Known, h.s.Answering, h.s.Err, h.s.Since = true, true, nil, time.Now()
	}
}

func (h *engineHealth) failed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.s.Known || h.s.Answering {
		h.s.Since = time.Now()
	}
	h.s.Known, h.s.Answering, h.s.Err = true, false, err
}

func (h *engineHealth) info(i EngineInfo) {
	h.mu.Lock()
	h.s.Info = i
	h.mu.Unlock()
}

func (h *engineHealth) state() EngineState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.s
}

// hung reports whether the engine is known to hang (its last call or
// check timed out), and since when.
func (h *engineHealth) hung() (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.s.Known && !h.s.Answering && errors.Is(h.s.Err, ErrEngineTimeout) {
		return h.s.Since, true
	}
	return time.Time{}, false
}

// State is the engine's state as last seen. It never calls the engine.
func (d *Docker) State() EngineState { return d.health.state() }

// Timeout is how long an engine call may go without an answer.
func (d *Docker) Timeout() time.Duration { return d.dl.timeout }

// Watch checks the engine every interval until ctx ends, so State stays
// current while kaj makes no calls, and notices an engine that came back.
func (d *Docker) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		d.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check asks the engine whether it answers, within the timeout, and
// returns the state that results.
func (d *Docker) Check(ctx context.Context) EngineState {
	pctx, cancel := context.WithTimeout(asProbe(ctx), d.dl.timeout+time.Second)
	defer cancel()
	_, err := d.cli.Ping(pctx, mclient.PingOptions{})
	if err == nil && d.health.state().Info.Version == "" {
		// The first answer: learn who the engine is (which also settles
		// the API version while the engine is known to answer).
		_, err = d.Info(pctx)
	}
	if err != nil && ctx.Err() == nil {
		switch {
		case errors.Is(err, ErrEngineTimeout):
		case errors.Is(err, context.DeadlineExceeded):
			err = &TimeoutError{Call: "HEAD /_ping", Host: d.dl.host, After: d.dl.timeout}
		default:
			err = engineError("reaching the docker engine at "+d.dl.host, err)
		}
		if errors.Is(err, ErrEngineTimeout) || errors.Is(err, ErrEngineUnreachable) {
			d.health.failed(err)
		}
	}
	return d.State()
}

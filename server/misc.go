package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/internal/buildinfo"
	"github.com/kajhq/kaj/runtime"
)

func (s *Server) version(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"version": buildinfo.Version(), "instance": s.opts.Instance})
}

// recoverer turns a handler's panic into a 500 with the stack in the log,
// so one bad request cannot take kaj down.
func recoverer(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic serving request", "path", c.Path(), "panic", r, "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return c.Next()
	}
}

// securityHeaders keeps kaj's pages out of frames and its answers from
// being sniffed or cached by shared caches.
func securityHeaders(c *fiber.Ctx) error {
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	return c.Next()
}

// firstCheck bounds /healthz's own check of the engine, before the
// watcher's first: a healthy engine answers in milliseconds, and a health
// check must answer even when the engine never does.
const firstCheck = 500 * time.Millisecond

type healthReport struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	// Instance is this kaj's instance ID (see README, Isolation).
	Instance string `json:"instance,omitempty"`
	// Starting is true until kaj's start-up work with the engine
	// (reconcile, routes) is done: kaj serves meanwhile, and refuses
	// changes to apps (503).
	Starting bool `json:"starting"`
	// LogStreams is how many container log streams kaj holds open
	// against the engine, however many viewers share them.
	LogStreams int          `json:"log_streams"`
	Store      healthPart   `json:"store"`
	Engine     engineHealth `json:"engine"`
}

type healthPart struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type engineHealth struct {
	Reachable bool `json:"reachable"`
	// State is answering, not answering (a hung engine: connections
	// taken, no answer within docker.timeout), unreachable, or unknown
	// (not yet checked: the first seconds after start).
	State string `json:"state"`
	// Since is when the engine began to be in that state.
	Since time.Time `json:"since,omitzero"`
	Host  string    `json:"host"`
	runtime.EngineInfo
	Error string `json:"error,omitempty"`
}

// healthz reports kaj, the store and the engine. It answers 200 whenever
// kaj itself can serve, so a dead or hung engine shows up in the body
// ("status": "degraded", "engine": {"state": "not answering"}) rather
// than as kaj being down, which a restart would not mend; the store
// failing is kaj failing (503). The engine part is the watcher's last
// finding; only in kaj's first moments, before the watcher's first check,
// does it ask the engine itself, for firstCheck at most.
func (s *Server) healthz(c *fiber.Ctx) error {
	rep := healthReport{Status: "ok", Version: buildinfo.Version(), Instance: s.opts.Instance, LogStreams: s.opts.Hub.OpenStreams()}
	if err := s.opts.Store.Ping(); err != nil {
		rep.Store.Error = err.Error()
		rep.Status = "unavailable"
	} else {
		rep.Store.OK = true
	}
	st := s.opts.Engine.State()
	// An engine that answered some call before the watcher's first
	// check has not said who it is yet: ask, as in kaj's first moments.
	if !st.Known || st.Answering && st.Info.Version == "" {
		ctx, cancel := context.WithTimeout(c.UserContext(), firstCheck)
		st = s.opts.Engine.Check(ctx)
		cancel()
	}
	rep.Engine = engineHealth{Reachable: st.Answering, State: st.Condition(), Since: st.Since, Host: st.Host, EngineInfo: st.Info}
	if !st.Answering {
		switch {
		case st.Err != nil:
			rep.Engine.Error = st.Err.Error()
		case !st.Known:
			rep.Engine.Error = "not checked yet"
		}
		if rep.Status == "ok" {
			rep.Status = "degraded"
		}
	}
	if s.opts.Started != nil {
		select {
		case <-s.opts.Started:
		default:
			rep.Starting = true
		}
	}
	code := fiber.StatusOK
	if !rep.Store.OK {
		code = fiber.StatusServiceUnavailable
	}
	return c.Status(code).JSON(rep)
}

// engineCondition names what an engine error says of the engine, as
// EngineState.Condition does.
func engineCondition(err error) string {
	switch {
	case err == nil:
		return "answering"
	case errors.Is(err, runtime.ErrEngineTimeout):
		return "not answering"
	}
	return "unreachable"
}

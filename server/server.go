// Package server is kaj's HTTP face: the REST API under /api/v1, the
// dashboard, and the live streams. It speaks HTTP and nothing else: the
// work is done by the packages it is given.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/internal/buildinfo"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Engine is what the server asks of the container engine directly: only
// whether it answers.
type Engine interface {
	Info(ctx context.Context) (runtime.EngineInfo, error)
}

// Options are the server's dependencies.
type Options struct {
	Store  *store.Store
	Engine Engine
	Logger *slog.Logger
	// ShutdownTimeout bounds how long in-flight requests may run after
	// the context given to Serve ends.
	ShutdownTimeout time.Duration
}

// Server serves kaj's HTTP API and dashboard.
type Server struct {
	app  *fiber.App
	opts Options
	log  *slog.Logger
}

// New builds a server with every route registered.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Engine == nil {
		return nil, errors.New("server: a store and an engine are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	s := &Server{opts: opts, log: opts.Logger}
	s.app = fiber.New(fiber.Config{
		AppName:               "kaj",
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           2 * time.Minute,
	})
	s.routes()
	return s, nil
}

// App is the Fiber application, for tests (app.Test) and embedding.
func (s *Server) App() *fiber.App { return s.app }

func (s *Server) routes() {
	s.app.Get("/healthz", s.healthz)
}

// Serve accepts connections on ln until ctx ends, then stops accepting
// and waits up to ShutdownTimeout for in-flight requests.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving http: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", s.opts.ShutdownTimeout)
	if err := s.app.ShutdownWithTimeout(s.opts.ShutdownTimeout); err != nil {
		return fmt.Errorf("shutting down http: %w", err)
	}
	return nil
}

type healthReport struct {
	Status  string       `json:"status"`
	Version string       `json:"version"`
	Store   healthPart   `json:"store"`
	Engine  engineHealth `json:"engine"`
}

type healthPart struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type engineHealth struct {
	Reachable bool `json:"reachable"`
	runtime.EngineInfo
	Error string `json:"error,omitempty"`
}

// healthz reports kaj, the store and the engine. It answers 200 whenever
// kaj itself can serve, so a dead engine shows up in the body rather than
// as kaj being down; the store failing is kaj failing (503).
func (s *Server) healthz(c *fiber.Ctx) error {
	rep := healthReport{Status: "ok", Version: buildinfo.Version()}
	if err := s.opts.Store.Ping(); err != nil {
		rep.Store.Error = err.Error()
		rep.Status = "unavailable"
	} else {
		rep.Store.OK = true
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	if info, err := s.opts.Engine.Info(ctx); err != nil {
		rep.Engine.Error = err.Error()
		if rep.Status == "ok" {
			rep.Status = "degraded"
		}
	} else {
		rep.Engine.Reachable, rep.Engine.EngineInfo = true, info
	}
	code := fiber.StatusOK
	if !rep.Store.OK {
		code = fiber.StatusServiceUnavailable
	}
	return c.Status(code).JSON(rep)
}

// handleError is the one place errors become HTTP answers.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	code := fiber.StatusInternalServerError
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code = fe.Code
	}
	if code >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
		return c.Status(code).JSON(fiber.Map{"error": "internal error", "detail": "see kaj's log"})
	}
	return c.Status(code).JSON(fiber.Map{"error": err.Error()})
}

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
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/kajhq/kaj/apps"
	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/dockerfile"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/logstream"
	"github.com/kajhq/kaj/notify"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/stats"
	"github.com/kajhq/kaj/store"
)

// Engine is what the server asks of the container engine directly: only
// whether it answers.
type Engine interface {
	// State is the engine's health as last seen, without calling it.
	State() runtime.EngineState
	// Check asks the engine now, within ctx.
	Check(ctx context.Context) runtime.EngineState
}

// Registry is what the server uses of image transfers.
type Registry interface {
	TestCredentials(ctx context.Context, host, username, password string) error
	ListLocal(ctx context.Context, labels map[string]string) ([]registry.LocalImage, error)
	Push(ctx context.Context, local, target string, progress registry.ProgressFunc) (*registry.PushResult, error)
}

// LogReader reads a container's log once (not following).
type LogReader interface {
	Logs(ctx context.Context, id string, opts runtime.LogOptions, emit func(runtime.LogLine) error) error
}

// Options are the server's dependencies and settings.
type Options struct {
	// Instance is this kaj's instance ID, shown on every page and in
	// /healthz.
	Instance string
	Store    *store.Store
	Engine   Engine
	Apps     *apps.Service
	Registry Registry
	Catalog  *catalog.Catalog
	Jobs     *jobs.Manager
	Hub      *logstream.Hub
	Logs     LogReader
	Lint     dockerfile.Options
	Logger   *slog.Logger
	// SessionTTL is how long a login lasts; SecureCookies marks the
	// session cookie Secure (behind HTTPS).
	SessionTTL    time.Duration
	SecureCookies bool
	// ConfirmWindow is how long after typing their password a session's
	// user may do sensitive actions without typing it again; zero means
	// 5 minutes.
	ConfirmWindow time.Duration
	// Now is the clock for confirmations and new sessions; nil is
	// time.Now.
	Now func() time.Time
	// AllowedOrigins may open websockets besides kaj's own origin, e.g.
	// the public URL behind a proxy.
	AllowedOrigins []string
	// TrustedProxies may set X-Forwarded-For for the client's address.
	TrustedProxies []string
	// ShutdownTimeout bounds how long in-flight requests may run after
	// the context given to Serve ends.
	ShutdownTimeout time.Duration
	// Metrics serves Prometheus's text format at /metrics; nil serves
	// none. MetricsToken, when set, lets a scraper in without a login.
	Metrics      http.Handler
	MetricsToken string
	// Stats fans containers' resource readings out; Host and Terminals
	// reach the engine for host totals, pruning and terminals; Notifier
	// sends notifications. Each may be nil: those routes then say so.
	Stats     *stats.Hub
	Host      Host
	Terminals Terminals
	Notifier  *notify.Notifier
	// Nodes lists and changes the swarm's nodes when kaj's engine is a
	// swarm manager; nil: those routes say so.
	Nodes Nodes
	// XtermDir is where the host keeps xterm.js (Debian's libjs-xterm);
	// the terminal uses kaj's own line console when it is missing.
	XtermDir string
	// DataDir is kaj's data directory; the login page names the first
	// admin's password file in it on first start. Empty: the page
	// describes the file without its full path.
	DataDir string
	// Started is closed once kaj's start-up work with the engine
	// (reconcile, routes) is done; /healthz says "starting": true before.
	// Nil means started.
	Started <-chan struct{}
}

// Server serves kaj's HTTP API and dashboard.
type Server struct {
	app  *fiber.App
	opts Options
	log  *slog.Logger
	// loginLimit is the one budget of password attempts per client
	// address, shared by every route that takes a password.
	loginLimit fiber.Handler
	// ctx lives as long as the server: background jobs and websocket
	// streams end with it, not with the request that started them.
	ctx    context.Context
	cancel context.CancelFunc
	// swarm is whether the engine is a swarm manager, for the navigation.
	swarm swarmState
	// appsJSON is the last apps list answer and its version.
	appsJSON struct {
		sync.Mutex
		version    string
		body, gzip []byte
	}
}

// New builds a server with every route registered.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Engine == nil || opts.Apps == nil || opts.Registry == nil || opts.Catalog == nil || opts.Hub == nil || opts.Logs == nil {
		return nil, errors.New("server: store, engine, apps, registry, catalog, log hub and log reader are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Jobs == nil {
		opts.Jobs = jobs.NewManager(100)
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.ConfirmWindow == 0 {
		opts.ConfirmWindow = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger, loginLimit: loginLimiter()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.app = fiber.New(fiber.Config{
		AppName:               "kaj",
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		BodyLimit:             bodyLimit,
		// Bodies over BodyLimit are streamed rather than refused: a dump
		// upload reads its own; limitBody bounds every other route's.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		// Values from a request are kept past the handler (jobs, audit
		// events), so they must not alias Fiber's reused buffers.
		Immutable:               true,
		EnableTrustedProxyCheck: len(opts.TrustedProxies) > 0,
		TrustedProxies:          opts.TrustedProxies,
		ProxyHeader:             proxyHeader(opts.TrustedProxies),
	})
	s.routes()
	return s, nil
}

func (s *Server) now() time.Time { return s.opts.Now() }

// App is the Fiber application, for tests (app.Test) and embedding.
func (s *Server) App() *fiber.App { return s.app }

// Close ends background jobs and streams. Serve calls it on shutdown.
func (s *Server) Close() { s.cancel() }

// routes registers every route; this is the whole HTTP surface.
func (s *Server) routes() {
	s.app.Use(recoverer(s.log), securityHeaders, limitBody(isUpload))
	s.app.Get("/healthz", s.healthz)
	if s.opts.Metrics != nil {
		s.app.Get("/metrics", s.metrics(), adaptor.HTTPHandler(s.opts.Metrics))
	}
	s.pages()

	api := s.app.Group("/api/v1")
	api.Get("/version", s.version)
	api.Post("/auth/login", s.loginLimit, s.login)
	api.Post("/auth/logout", s.logout)
	// A forge's push webhook: authenticated by its signature, not a login.
	api.Post("/hooks/:name", s.webhook)

	// Everything below needs a login, and each route names the least
	// role that may use it: this table is where access is decided.
	api.Use(s.requireAuth)
	// Sensitive routes also need the password typed in the last few
	// minutes (confirmed, in authn.go).
	viewer, deployer, admin := s.need(auth.Viewer), s.need(auth.Deployer), s.need(auth.Admin)
	api.Get("/auth/me", viewer, s.me)
	api.Post("/auth/password", viewer, s.loginLimit, s.changePassword)
	api.Post("/session/confirm", viewer, s.loginLimit, s.confirmSession)
	api.Get("/users", admin, s.listUsers)
	api.Post("/users", admin, s.confirmed, s.createUser)
	api.Put("/users/:name", admin, s.confirmed, s.updateUser)
	api.Delete("/users/:name", admin, s.confirmed, s.deleteUser)
	api.Get("/tokens", deployer, s.listTokens)
	api.Post("/tokens", deployer, s.confirmed, s.createToken)
	api.Delete("/tokens/:id", deployer, s.deleteToken)

	api.Get("/apps", viewer, s.listApps)
	api.Post("/apps", deployer, s.createApp)
	api.Get("/apps/:name", viewer, s.getApp)
	api.Put("/apps/:name", deployer, s.updateApp)
	api.Delete("/apps/:name", admin, s.deleteApp)
	api.Post("/apps/:name/deploy", deployer, s.deployApp)
	api.Post("/apps/:name/rollback", deployer, s.rollbackApp)
	api.Post("/apps/:name/build", deployer, s.buildApp)
	api.Post("/apps/:name/upload", deployer, s.uploadApp)
	api.Get("/apps/:name/webhook", admin, s.confirmed, s.revealWebhook)
	api.Post("/apps/:name/:action<regex(^(stop|start|restart)$)>", deployer, s.appAction)
	api.Get("/apps/:name/releases", viewer, s.listReleases)
	api.Get("/apps/:name/database/password", admin, s.confirmed, s.revealDatabasePassword)
	api.Get("/apps/:name/logs", viewer, s.checkOrigin, s.wsOnly, websocket.New(s.wsLogs))
	api.Get("/apps/:name/stats", viewer, s.checkOrigin, s.wsOnly, websocket.New(s.wsStats))
	api.Get("/apps/:name/terminal", admin, s.confirmed, s.checkOrigin, s.wsOnly, websocket.New(s.wsTerminal))
	api.Get("/apps/:name/notifications", admin, s.listNotifyTargets)
	api.Post("/apps/:name/notifications", admin, s.putNotifyTarget)
	api.Get("/apps/:name/backups", viewer, s.listBackups)
	api.Post("/apps/:name/backups", deployer, s.createBackup)
	api.Get("/apps/:name/backups/:id/download", admin, s.confirmed, s.downloadBackup)
	api.Post("/apps/:name/backups/:id/verify", deployer, s.verifyBackup)
	api.Post("/apps/:name/backups/:id/restore", admin, s.restoreBackup)
	api.Delete("/apps/:name/backups/:id", admin, s.deleteBackup)
	api.Post("/apps/:name/restore", admin, s.restoreUpload)

	api.Get("/certificates", viewer, s.listCertificates)
	api.Post("/certificates", admin, s.addCertificate)
	api.Delete("/certificates/:name", admin, s.deleteCertificate)

	api.Get("/templates", viewer, s.listTemplates)
	api.Post("/templates/:id", deployer, s.instantiateTemplate)

	api.Get("/registries", viewer, s.listCredentials)
	api.Post("/registries", admin, s.putCredential)
	api.Put("/registries/:host", admin, s.putCredential)
	api.Delete("/registries/:host", admin, s.deleteCredential)
	api.Post("/registries/:host/test", admin, s.testCredential)

	api.Get("/images", viewer, s.listImages)
	api.Post("/images/push", deployer, s.pushImage)
	api.Post("/images/prune", admin, s.pruneImages)
	api.Get("/host", viewer, s.hostUsage)
	api.Get("/stats", viewer, s.latestStats)
	api.Get("/stats/stream", viewer, s.checkOrigin, s.wsOnly, websocket.New(s.wsUsage))

	api.Get("/notifications", admin, s.listNotifyTargets)
	api.Post("/notifications", admin, s.putNotifyTarget)
	api.Delete("/notifications/:id", admin, s.deleteNotifyTarget)
	api.Post("/notifications/:id/test", admin, s.testNotifyTarget)

	api.Get("/jobs/:id", viewer, s.getJob)
	api.Delete("/jobs/:id", deployer, s.cancelJob)
	api.Get("/jobs/:id/stream", viewer, s.checkOrigin, s.wsOnly, websocket.New(s.wsJob))

	api.Get("/events", viewer, s.listEvents)
	api.Get("/events/stream", viewer, s.checkOrigin, s.wsOnly, websocket.New(s.wsEvents))

	api.Get("/nodes", viewer, s.listNodes)
	api.Get("/nodes/join", admin, s.revealJoin)
	api.Post("/nodes/:id/drain", admin, s.nodeAvailability(runtime.NodeDrain, store.ActionNodeDrain))
	api.Post("/nodes/:id/activate", admin, s.nodeAvailability(runtime.NodeActive, store.ActionNodeActivate))

	api.Post("/lint", viewer, s.lint)
	api.Get("/lint/rules", viewer, s.lintRules)

	api.Use(func(c *fiber.Ctx) error {
		return &apiError{Code: fiber.StatusNotFound, Msg: "no such API route: " + c.Method() + " " + c.Path()}
	})
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
	s.cancel()
	if err := s.app.ShutdownWithTimeout(s.opts.ShutdownTimeout); err != nil {
		return fmt.Errorf("shutting down http: %w", err)
	}
	// Canceled deploys clean up what they started before the store and
	// the engine client close under them.
	wctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := s.opts.Jobs.Wait(wctx); err != nil {
		s.log.Warn("jobs still running at shutdown; reconcile finishes them on the next start", "err", err)
	}
	return nil
}

// proxyHeader is where the client's address is read behind trusted
// proxies; without them, from the connection alone.
func proxyHeader(trusted []string) string {
	if len(trusted) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}

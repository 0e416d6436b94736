// Package app is the microblog program: it reads the environment, brings
// the database schema up to date (waiting for the database if need be),
// serves HTTP until its context ends, then shuts down gracefully.
//
// It is written to run as PID 1 in a container: the caller cancels the
// context on SIGTERM or SIGINT, in-flight requests get shutdownTimeout to
// finish, and Run returns so the process exits before the engine's SIGKILL.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/kajhq/kaj/microblog/config"
	"github.com/kajhq/kaj/microblog/store"
	"github.com/kajhq/kaj/microblog/web"
)

// shutdownTimeout is shorter than the 10 s docker stop waits before it
// kills, so the server closes its connections and database itself.
const shutdownTimeout = 8 * time.Second

const usage = `usage: microblog [serve | healthcheck]

  serve        run the web app (the default)
  healthcheck  GET /healthz on this host's PORT; exit 0 when it answers 200

Settings come from the environment: SECRET_KEY, DATABASE_URL, SQLITE_PATH,
LOG_TO_STDOUT, PORT, MIGRATE_RETRIES, MIGRATE_RETRY_DELAY.`

// Run runs the command named by args (serve when empty) with settings from
// getenv. It returns nil after a graceful shutdown.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	p := program{getenv: getenv, stdout: stdout, stderr: stderr, sleep: sleep, listen: net.Listen}
	return p.run(ctx, args)
}

// program holds what Run's tests replace: the clock's sleep and the listener.
type program struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	sleep          func(context.Context, time.Duration) error
	listen         func(network, addr string) (net.Listener, error)
	// bcryptCost, if set, overrides web's default so tests run fast.
	bcryptCost int
}

func (p program) run(ctx context.Context, args []string) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if len(args) > 1 {
		return fmt.Errorf("unexpected arguments %q\n%s", args[1:], usage)
	}
	switch cmd {
	case "serve":
		return p.serve(ctx)
	case "healthcheck":
		return healthcheck(ctx, p.getenv)
	case "help", "-h", "-help", "--help":
		_, err := fmt.Fprintln(p.stdout, usage)
		return err
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

func (p program) serve(ctx context.Context) error {
	cfg, err := config.FromEnv(p.getenv)
	if err != nil {
		return err
	}
	logOut := p.stderr
	if cfg.LogToStdout {
		logOut = p.stdout
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	if cfg.SecretKeyGenerated {
		log.Warn("SECRET_KEY is not set: using a random key, so logins end when the server restarts; set SECRET_KEY to keep them")
	}

	st, err := store.Open(cfg.Database)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("upgrading database", "database", cfg.Database.Display)
	err = upgrade(ctx, st, retryPolicy{retries: cfg.MigrateRetries, delay: cfg.MigrateRetryDelay, sleep: p.sleep}, log)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		log.Info("stopped while waiting for the database")
		return nil
	}
	if err != nil {
		return err
	}

	h, err := web.New(st, web.Options{
		SecretKey:  []byte(cfg.SecretKey),
		Log:        log,
		AccessLog:  p.stdout,
		BcryptCost: p.bcryptCost,
	})
	if err != nil {
		return err
	}
	ln, err := p.listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("listening on port %d: %w", cfg.Port, err)
	}
	return serveHTTP(ctx, ln, h.Handler(), log)
}

// serveHTTP serves on ln until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelError),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serving http: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	<-errc // http.ErrServerClosed
	log.Info("stopped")
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

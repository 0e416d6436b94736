package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/server"
	"github.com/kajhq/kaj/store"
)

func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kaj serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("KAJ_CONFIG"), "TOML config `file` (also KAJ_CONFIG); none needed")
	listen := fs.String("listen", "", "listen `address`, overrides server.listen (also KAJ_LISTEN)")
	data := fs.String("data", "", "data `directory`, overrides data.dir (also KAJ_DATA)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return exitCode(2)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	cfg, err := config.Load(*configPath, os.Environ())
	if err != nil {
		return fmt.Errorf("loading config: %w", err)
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	if *data != "" {
		cfg.Data.Dir = *data
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)

	if err := os.MkdirAll(cfg.Data.Dir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	var key []byte
	if cfg.Data.SecretKey != "" {
		key, err = store.ParseKey(cfg.Data.SecretKey)
	} else {
		key, err = store.LoadOrCreateKey(cfg.SecretKeyPath())
	}
	if err != nil {
		return err
	}
	st, err := store.Open(filepath.Join(cfg.Data.Dir, "kaj.db"), store.Options{Key: key})
	if err != nil {
		return err
	}
	defer st.Close()

	engine, err := runtime.NewDocker(cfg.Docker.Host)
	if err != nil {
		return err
	}
	defer engine.Close()
	if info, err := engine.Info(ctx); err != nil {
		log.Warn("docker engine unreachable; kaj serves anyway and retries on use", "err", err)
	} else {
		log.Info("docker engine", "version", info.Version, "api", info.APIVersion, "host", info.Host)
	}

	srv, err := server.New(server.Options{Store: st, Engine: engine, Logger: log, ShutdownTimeout: cfg.Server.ShutdownTimeout.D()})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another kaj running? choose another with --listen)", cfg.Server.Listen, err)
	}
	log.Info("kaj is up", "version", version(), "url", "http://"+ln.Addr().String(), "data", cfg.Data.Dir)
	return srv.Serve(ctx, ln)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

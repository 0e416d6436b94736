package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajd"
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
	for _, name := range config.UnknownEnv(os.Environ()) {
		log.Warn("ignoring an environment variable that names no setting; see config.example.toml", "name", name)
	}
	// Listen first: a second kaj on the same address stops here, before
	// it opens anything or reconciles the engine.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another kaj running? choose another with --listen)", cfg.Server.Listen, err)
	}
	k, err := kajd.Open(ctx, cfg, kajd.Options{Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	defer k.Close()
	log.Info("kaj is up", "version", version(), "url", "http://"+ln.Addr().String(), "data", cfg.Data.Dir)
	return k.Serve(ctx, ln)
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

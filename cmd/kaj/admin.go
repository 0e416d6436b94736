package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajd"
	"github.com/kajhq/kaj/store"
)

const adminUsage = `Usage: kaj admin reset-password [--config FILE] [--data DIR] USER

Gives USER a new random password, prints it, and ends USER's sessions: the
way back in for a locked-out admin. It needs the data directory (and its
key), so run it as the user kaj runs as, on kaj's host, while kaj is
stopped (kaj holds its data file locked while it runs).
`

func adminCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reset-password" {
		fmt.Fprint(stderr, adminUsage)
		return exitCode(2)
	}
	fs := flag.NewFlagSet("kaj admin reset-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage) }
	configPath := fs.String("config", os.Getenv("KAJ_CONFIG"), "TOML config `file` (also KAJ_CONFIG)")
	data := fs.String("data", "", "data `directory`, overrides data.dir (also KAJ_DATA)")
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return exitCode(2)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitCode(2)
	}
	cfg, err := config.Load(*configPath, os.Environ())
	if err != nil {
		return fmt.Errorf("loading config: %w", err)
	}
	if *data != "" {
		cfg.Data.Dir = *data
	}
	if _, err := os.Stat(cfg.Data.Dir); err != nil {
		return fmt.Errorf("data directory %s: %w; pass the one kaj uses with --data", cfg.Data.Dir, err)
	}
	st, err := kajd.OpenStore(cfg)
	if err != nil {
		if errors.Is(err, store.ErrInUse) {
			return fmt.Errorf("%w: stop kaj first, then run this again", err)
		}
		return err
	}
	defer st.Close()
	user := fs.Arg(0)
	pw, err := auth.ResetPassword(st, user, "kaj admin")
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %q in %s; the users are listed under Users in the dashboard", user, cfg.Data.Dir)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "New password for %s: %s\nTheir sessions have ended; log in with it and change it under Account.\n", user, pw)
	return nil
}

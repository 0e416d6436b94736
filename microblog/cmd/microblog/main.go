// Command microblog is the Microblog sample web app.
//
// Usage:
//
//	microblog [serve]      run the web app on PORT (default 5000)
//	microblog healthcheck  exit 0 if the local server's /healthz answers 200
//
// All settings come from the environment; see package config.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kajhq/kaj/microblog/app"
)

func main() {
	// As PID 1 in a container the process gets no default signal handling
	// from the kernel; NotifyContext turns SIGTERM into a graceful stop.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "microblog:", err)
		os.Exit(1)
	}
}

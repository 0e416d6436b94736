// Command routerbench runs the two programs scripts/bench-router measures
// on loopback:
//
//	routerbench app -listen 127.0.0.1:9001
//	    a small HTTP app answering every request with a short text body
//	routerbench router -listen 127.0.0.1:9002 -app NAME -upstream 127.0.0.1:9001
//	    kaj's router with one route, NAME.localhost → upstream
//
// Both run until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/kajhq/kaj/router"
	"github.com/prometheus/client_golang/prometheus"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "routerbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: routerbench app|router [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	app := fs.String("app", "bench", "app name of the route (router)")
	upstream := fs.String("upstream", "", "upstream address (router)")
	accessLog := fs.Bool("access-log", false, "give the router an access-log callback that formats each entry (router)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	fmt.Println("listening on", ln.Addr())
	switch args[0] {
	case "app":
		return serveApp(ctx, ln)
	case "router":
		return serveRouter(ctx, ln, *app, *upstream, *accessLog)
	}
	return fmt.Errorf("unknown program %q: want app or router", args[0])
}

var body = []byte("hello from the bench app\n")

func serveApp(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func serveRouter(ctx context.Context, ln net.Listener, app, upstream string, accessLog bool) error {
	opts := router.Options{
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Metrics: prometheus.NewRegistry(),
	}
	if accessLog {
		opts.AccessLog = func(e router.Entry) {
			fmt.Fprintf(io.Discard, "%s %s %s %s %d %d %s %s\n", e.Time.Format("2006-01-02T15:04:05.000Z07:00"), e.App, e.Method, e.Path, e.Status, e.Bytes, e.Duration, e.Upstream)
		}
	}
	r, err := router.New(opts)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.SetRoutes([]router.Route{{App: app, Upstreams: []string{upstream}}}); err != nil {
		return err
	}
	return r.Serve(ctx, ln, nil)
}

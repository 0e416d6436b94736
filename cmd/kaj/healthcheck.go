package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"time"

	"github.com/kajhq/kaj/config"
)

const healthcheckUsage = `Usage: kaj healthcheck [--url URL] [--timeout DURATION] [--config FILE]

Asks a running kaj's /healthz and exits 0 when kaj reports "ok": its store
is open and the Docker Engine answers. It is the HEALTHCHECK of kaj's image,
which has no shell and no curl. Without --url it asks the address kaj
serve listens on (server.listen, from the config file and KAJ_LISTEN), over
loopback when that address is every interface.

Exit status: 0 healthy, 1 unhealthy or unreachable, 2 wrong command line.

Flags:
`

// healthReport is what kaj's /healthz answers.
type healthReport struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Store   struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"store"`
	Engine struct {
		Reachable bool   `json:"reachable"`
		Version   string `json:"version"`
		Error     string `json:"error"`
	} `json:"engine"`
}

// healthcheckCommand runs `kaj healthcheck`.
func healthcheckCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kaj healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", os.Getenv("KAJ_CONFIG"), "TOML config `file` kaj serve reads (also KAJ_CONFIG)")
	base := fs.String("url", "", "kaj's base `URL`, like http://127.0.0.1:8080 (default: from server.listen)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this `duration`")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), healthcheckUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitCode(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kaj healthcheck: takes no arguments, got %q\n", fs.Args())
		return exitCode(2)
	}
	if *base == "" {
		cfg, err := config.Load(*configPath, os.Environ())
		if err != nil {
			return fmt.Errorf("loading config: %w", err)
		}
		if *base, err = localURL(cfg.Server.Listen); err != nil {
			return err
		}
	}
	rep, err := checkHealth(ctx, *base, *timeout)
	if err != nil {
		fmt.Fprintln(stderr, "kaj healthcheck:", err)
		return exitCode(1)
	}
	fmt.Fprintf(stdout, "kaj %s at %s is healthy; engine %s\n", rep.Version, *base, rep.Engine.Version)
	return nil
}

// localURL turns a listen address into a URL this host can ask: a
// wildcard address (0.0.0.0, ::, or none) is asked over loopback.
func localURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("server.listen: %q is not host:port: %w", listen, err)
	}
	if host == "" {
		host = "127.0.0.1"
	} else if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.Is6() {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// checkHealth asks base's /healthz and returns the report when it says
// "ok"; otherwise the error says what is wrong.
func checkHealth(ctx context.Context, base string, timeout time.Duration) (healthReport, error) {
	var rep healthReport
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return rep, fmt.Errorf("%q is not an http(s) URL", base)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.JoinPath("/healthz").String(), nil)
	if err != nil {
		return rep, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rep, fmt.Errorf("asking kaj: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&rep); err != nil {
		return rep, fmt.Errorf("%s answered %s, not kaj's health report: %w", req.URL, resp.Status, err)
	}
	switch {
	case !rep.Store.OK:
		return rep, fmt.Errorf("kaj is %s (%s): its store fails: %s", rep.Status, resp.Status, rep.Store.Error)
	case !rep.Engine.Reachable:
		return rep, fmt.Errorf("kaj is %s: the Docker Engine does not answer: %s", rep.Status, rep.Engine.Error)
	case resp.StatusCode != http.StatusOK || rep.Status != "ok":
		return rep, fmt.Errorf("kaj is %q (%s)", rep.Status, resp.Status)
	}
	return rep, nil
}

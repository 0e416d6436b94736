package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/moby/moby/api/types/container"
)

// Defaults of the waits.
const (
	DefaultDatabaseTimeout = 2 * time.Minute
	DefaultHealthTimeout   = time.Minute
)

// logLinesOnFailure is how many log lines a WaitError carries: enough to
// show a stack trace's head or a server's last complaint.
const logLinesOnFailure = 20

// WaitOptions tune WaitDatabase.
type WaitOptions struct {
	// Timeout bounds the wait; zero means DefaultDatabaseTimeout.
	Timeout time.Duration
	// Backoff spaces the probes; its zero value is 10ms growing by half each time to 100ms.
	Backoff Backoff
	// Dial opens the probe's connection to the database's address on its
	// app network; nil means a plain net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// User and Password, when set, make the probe of a MySQL or MariaDB
	// server log in and quit: no warning in the server's log, and wrong
	// credentials are ErrCredentials at once rather than an app that
	// cannot connect later.
	User, Password string
}

// HealthOptions tune WaitHealthy.
type HealthOptions struct {
	// Path is the app's HTTP health path ("/healthz"): healthy when it
	// answers 2xx or 3xx (redirects are not followed). Empty means the
	// default check: the port accepts TCP connections and, when it speaks
	// HTTP, answers "GET /" with anything but a 5xx.
	Path string
	// Port is the port the app listens on in its container, asked on the
	// container's address on its app network. Zero means the port the
	// container publishes.
	Port int
	// Timeout bounds the whole wait; zero means DefaultHealthTimeout.
	Timeout time.Duration
	// ProbeTimeout bounds one probe; zero means 2s.
	ProbeTimeout time.Duration
	// Retries is how many failed probes in a row, once StartPeriod has
	// passed, fail the wait early; zero means probes go on until Timeout.
	Retries int
	// StartPeriod is how long after the container's start failures do
	// not count towards Retries.
	StartPeriod time.Duration
	// StableFor is how long the container must have been running, without
	// a restart, before it counts as healthy: a server that answers once
	// and crashes a moment later is not healthy. Zero means
	// DefaultStableFor; negative means no window.
	StableFor time.Duration
	// SinceCreated counts every restart the container had, not only
	// those during the wait: for a wait that follows an earlier one on
	// a new container, where a restart in between is a crash too.
	SinceCreated bool
	// Backoff spaces the probes; its zero value is 10ms growing by half each time to 100ms.
	Backoff Backoff
}

// DefaultStableFor is the default stability window: long enough to
// catch a server that crashes right after it first answers (a missing
// file, a failed migration), short enough not to slow a deploy.
const DefaultStableFor = time.Second

// exitedError ends a wait early: the container stopped, or the engine
// restarted it.
type exitedError struct {
	exited bool // false: unhealthy, still running
	code   int
	reason string
	cause  error
}

func (e *exitedError) Error() string { return e.reason }

// checkAlive fails when c stopped or restarted since the wait began with
// restarts restarts.
func checkAlive(c container.InspectResponse, restarts int) error {
	st := c.State
	switch {
	case st == nil:
		return retryable{errors.New("container has no state yet")}
	case st.Restarting:
		return &exitedError{exited: true, code: st.ExitCode, reason: fmt.Sprintf("exited with code %d and is restarting", st.ExitCode)}
	case c.RestartCount > restarts:
		return &exitedError{exited: true, code: -1, reason: fmt.Sprintf("exited and was restarted by the engine (%d restarts)", c.RestartCount)}
	case st.Status == container.StateExited || st.Status == container.StateDead:
		r := fmt.Sprintf("exited with code %d", st.ExitCode)
		if st.OOMKilled {
			r += " (out of memory)"
		}
		if st.Error != "" {
			r += ": " + st.Error
		}
		return &exitedError{exited: true, code: st.ExitCode, reason: r}
	case !st.Running:
		return retryable{fmt.Errorf("container is %s", st.Status)}
	}
	return nil
}

// WaitDatabase waits until db's server accepts connections: its protocol
// greeting arrives (a MySQL handshake, a Postgres authentication request)
// on the container's address on the app network, not merely a TCP
// connect. It probes with bounded exponential backoff until the timeout.
// When the container exits or the deadline passes first, the error is a
// *WaitError with the container's last log lines.
func (d *Docker) WaitDatabase(ctx context.Context, db Container, opts WaitOptions) error {
	k, ok := kinds[db.Kind]
	if !ok {
		return invalid("Container.Kind", string(db.Kind), "WaitDatabase needs a database container, as EnsureDatabase returns it")
	}
	if db.ID == "" {
		return invalid("Container.ID", "", "WaitDatabase needs a database container, as EnsureDatabase returns it")
	}
	dial := opts.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	timeout := orDefault(opts.Timeout, DefaultDatabaseTimeout)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := d.pollAlive(wctx, db.ID, -1, opts.Backoff, func(ctx context.Context, c container.InspectResponse) error {
		ip := d.containerOf(c).IP
		if !ip.IsValid() {
			return retryable{fmt.Errorf("no address on network %s yet", d.Names(db.App).Network)}
		}
		addr := netip.AddrPortFrom(ip, uint16(k.port)).String()
		if err := probeDatabase(ctx, dial, db.Kind, addr, opts.User, opts.Password); err != nil {
			if errors.Is(err, ErrCredentials) {
				return err
			}
			return retryable{err}
		}
		return nil
	})
	return d.waitFailed(ctx, wctx, db, timeout, err)
}

// CheckHealthPath checks a health path as the probe sends it: empty (no
// HTTP probe) or a request path starting with "/", without spaces, control
// characters or a fragment.
func CheckHealthPath(p string) error {
	switch {
	case p == "":
		return nil
	case !strings.HasPrefix(p, "/"):
		return invalid("HealthOptions.Path", p, `a health path starts with "/", e.g. "/healthz"`)
	case strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f || unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		return invalid("HealthOptions.Path", p, "a health path has no spaces or control characters (write a space as %20)")
	case strings.ContainsRune(p, '#'):
		return invalid("HealthOptions.Path", p, "a health path has no fragment ('#'); the probe would not send it")
	}
	if _, err := url.ParseRequestURI(p); err != nil {
		return invalid("HealthOptions.Path", p, "not a request path: "+err.Error())
	}
	return nil
}

// WaitHealthy waits until app passes its health check (see
// HealthOptions): the probe passes, the image's own HEALTHCHECK (when it
// has one) reports healthy, and the container has run for the stability
// window without a restart. It probes with bounded exponential backoff.
// When the container exits, is restarted, turns unhealthy, fails
// Retries probes in a row, or the deadline passes first, the error is a
// *WaitError with its exit code, last log lines, and, when the logs show
// the app listening on another port, a hint saying so.
func (d *Docker) WaitHealthy(ctx context.Context, app Container, opts HealthOptions) error {
	if app.ID == "" {
		return invalid("Container.ID", "", "WaitHealthy needs a container, as StartApp returns it")
	}
	if err := CheckHealthPath(opts.Path); err != nil {
		return err
	}
	stable := opts.StableFor
	if stable == 0 {
		stable = DefaultStableFor
	}
	probeTimeout := orDefault(opts.ProbeTimeout, 2*time.Second)
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// The container may be gone a moment later: keep no connections.
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	timeout := orDefault(opts.Timeout, DefaultHealthTimeout)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	failures := 0
	baseline := -1
	if opts.SinceCreated {
		baseline = 0
	}
	err := d.pollAlive(wctx, app.ID, baseline, opts.Backoff, func(ctx context.Context, c container.InspectResponse) error {
		addr := d.probeAddr(c, opts.Port)
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		var err error
		if opts.Path != "" {
			err = probeHTTP(pctx, client, addr, opts.Path)
		} else {
			err = probeDefault(pctx, addr)
		}
		if err == nil && c.State.Health != nil && c.State.Health.Status != container.NoHealthcheck {
			err = healthState(c.State.Health)
		}
		started := stableSince(c.State.StartedAt)
		if err != nil {
			var r retryable
			if errors.As(err, &r) && opts.Retries > 0 && time.Since(started) >= opts.StartPeriod {
				if failures++; failures >= opts.Retries {
					return &exitedError{code: -1, reason: fmt.Sprintf("failed %d health probes in a row", failures), cause: r.error}
				}
			}
			return err
		}
		failures = 0
		if up := time.Since(started); stable > 0 && up < stable {
			return retryable{fmt.Errorf("answering, and watched for %s of the %s it must run without a restart", up.Round(time.Millisecond), stable)}
		}
		return nil
	})
	err = d.waitFailed(ctx, wctx, app, timeout, err)
	var we *WaitError
	if errors.As(err, &we) && opts.Port != 0 {
		we.Hint = portHint(we.Logs, opts.Port)
	}
	return err
}

// pollAlive runs probe on the container's latest state until it passes,
// failing at once when the container stops, or restarts more often than
// restarts times (-1: than when the wait began).
func (d *Docker) pollAlive(ctx context.Context, id string, restarts int, b Backoff, probe func(context.Context, container.InspectResponse) error) error {
	return poll(ctx, b, func(ctx context.Context) error {
		c, err := d.inspect(ctx, id)
		if err != nil {
			return inspectError{err}
		}
		if restarts < 0 {
			restarts = c.RestartCount
		}
		if err := checkAlive(c, restarts); err != nil {
			return err
		}
		return probe(ctx, c)
	})
}

// probeAddr is where a health check reaches the app: its address on the
// app network and its port there, which is where the router reaches it
// too. Without that address (a container on another network driver), or
// without a port to ask, the port it publishes on the host.
func (d *Docker) probeAddr(c container.InspectResponse, port int) netip.AddrPort {
	out := d.containerOf(c)
	if out.IP.IsValid() {
		if port == 0 && c.NetworkSettings != nil {
			for p := range c.NetworkSettings.Ports {
				port = int(p.Num())
				break
			}
		}
		if port != 0 {
			return netip.AddrPortFrom(out.IP, uint16(port))
		}
	}
	return out.HostPort
}

func probeHTTP(ctx context.Context, client *http.Client, hp netip.AddrPort, path string) error {
	if !hp.IsValid() {
		return fmt.Errorf("the container publishes no port to ask %s on: give AppSpec.Port", path)
	}
	ip := hp.Addr()
	if ip.IsUnspecified() {
		ip = netip.IPv6Loopback()
		if hp.Addr().Is4() {
			ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
	}
	url := "http://" + netip.AddrPortFrom(ip, hp.Port()).String() + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return retryable{err}
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return retryable{fmt.Errorf("GET %s: %s", path, resp.Status)}
	}
	return nil
}

func healthState(h *container.Health) error {
	switch h.Status {
	case container.Healthy:
		return nil
	case container.Unhealthy:
		msg := "health check failed"
		if n := len(h.Log); n > 0 && h.Log[n-1] != nil {
			msg += ": " + strings.TrimSpace(h.Log[n-1].Output)
		}
		return &exitedError{code: -1, reason: "unhealthy: " + msg}
	}
	return retryable{fmt.Errorf("health check is %s", h.Status)}
}

// inspectError is a wait's failure to read the container's state: the
// engine's, not the container's.
type inspectError struct{ err error }

func (e inspectError) Error() string { return e.err.Error() }
func (e inspectError) Unwrap() error { return e.err }

// waitFailed turns a failed wait into a *WaitError with the container's
// last logs; the caller's own cancellation passes through unchanged, and
// so does a failure of the engine rather than the container (an inspect
// that failed, or outlived the wait: ErrEngineTimeout), which says
// nothing of the container.
func (d *Docker) waitFailed(ctx, wctx context.Context, c Container, timeout time.Duration, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("waiting for %s: %w", c.Name, ctx.Err())
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrEngineUnreachable) || errors.Is(err, ErrEngineTimeout) {
		return fmt.Errorf("waiting for %s: %w", c.Name, err)
	}
	var ie inspectError
	if errors.As(err, &ie) {
		return fmt.Errorf("waiting for %s: %w: reading its state: %v", c.Name, ErrEngineTimeout, ie.err)
	}
	we := &WaitError{Name: c.Name}
	var ex *exitedError
	switch {
	case errors.As(err, &ex):
		we.Reason, we.Exited, we.ExitCode, we.Err = ex.reason, ex.exited, ex.code, ex.cause
	case wctx.Err() != nil:
		we.Reason = fmt.Sprintf("timed out after %s", timeout)
		we.Err = err
	default:
		we.Reason, we.Err = "probe failed", err
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	we.Logs = d.lastLogs(lctx, c.ID, logLinesOnFailure)
	return we
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

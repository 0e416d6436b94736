package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors the proxy transport hands to the error handler.
var (
	errNoUpstream      = errors.New("no upstream available")
	errUpstreamTimeout = errors.New("upstream did not answer in time")
)

// exchange is one request's state, shared by ServeHTTP, the proxy
// transport and the error handler through the request's context. It is
// also the response recorder, so that a request costs one allocation.
type exchange struct {
	recorder
	app      *appRoute
	upstream string
	upgraded bool
	body     *replayableBody // nil when the request has no body
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// rewrite prepares the outbound request. The upstream address is chosen
// later, by proxyTransport, so that a failed dial can be retried on
// another upstream. Forwarding headers from the client are dropped by
// ReverseProxy before Rewrite runs: the router is the edge and sets them
// afresh.
func rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = "upstream.invalid" // replaced in proxyTransport
	pr.Out.Host = pr.In.Host             // apps see the host the client asked for
	pr.SetXForwarded()
	pr.Out.Header["Forwarded"] = []string{forwarded(pr.In)}
}

// forwarded builds the RFC 7239 Forwarded header for one hop.
func forwarded(in *http.Request) string {
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	node := "unknown"
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		node = ip
		if strings.Contains(ip, ":") {
			node = `"[` + ip + `]"`
		}
	}
	return "for=" + node + ";host=" + quoteForwarded(in.Host) + ";proto=" + proto
}

// quoteForwarded quotes a value unless it is an RFC 7230 token.
func quoteForwarded(v string) string {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			if strings.ContainsAny(v, `"\`) {
				return strconv.Quote(v) // escapes more than RFC 7230 asks, never less
			}
			return `"` + v + `"`
		}
	}
	return v
}

// proxyTransport chooses the upstream for each request, counts it in
// flight there, bounds the wait for response headers, and sends a request
// whose dial failed once more to another upstream.
type proxyTransport struct {
	r    *Router
	base http.RoundTripper
	// ownTimeouts is true when base bounds each route's response-header
	// wait itself; otherwise each request gets a timer.
	ownTimeouts bool
}

var _ http.RoundTripper = (*proxyTransport)(nil)

func (t *proxyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := exchangeFrom(req.Context())
	if ex == nil {
		return nil, fmt.Errorf("proxying %s: request did not come through the router", req.URL)
	}
	var failed *upstream
	var dialErr error
	for {
		u, err := t.r.acquire(ex.app.App, failed)
		if err != nil {
			if failed != nil {
				return nil, dialErr // no other upstream: a 502, not "not running"
			}
			return nil, err
		}
		ex.upstream = u.addr
		body := req.Body
		if failed != nil && body != nil {
			// ReverseProxy's wrapper was closed by the failed attempt;
			// the body under it was never read.
			body = io.NopCloser(ex.body)
		}
		resp, err := t.send(req, body, u, ex)
		if err == nil {
			return resp, nil
		}
		if !isDialError(err) {
			return nil, err
		}
		u.markFailed(t.r.now())
		t.r.log.Warn("upstream unreachable", "app", ex.app.App, "upstream", u.addr, "err", err)
		// Nothing reached the upstream; a body not yet read can go
		// elsewhere unchanged. Retry only once: a second failure means
		// the app is down, and the client should hear it promptly.
		if failed != nil || (ex.body != nil && ex.body.read.Load()) {
			return nil, err
		}
		failed, dialErr = u, err
	}
}

// send sends req to u. u stays counted in flight until the response body
// is closed, or, for an upgrade, until the connection is closed.
//
// req is ReverseProxy's outbound request, made for this exchange alone,
// so send points it at u in place rather than copying it.
func (t *proxyTransport) send(req *http.Request, body io.ReadCloser, u *upstream, ex *exchange) (*http.Response, error) {
	req.URL.Host = u.addr
	req.Body = body
	timeout := ex.app.Timeout
	var (
		cancel   context.CancelFunc
		timer    *time.Timer
		timedOut atomic.Bool
	)
	if !t.ownTimeouts {
		var ctx context.Context
		ctx, cancel = context.WithCancel(req.Context())
		timer = time.AfterFunc(timeout, func() {
			timedOut.Store(true)
			cancel()
		})
		req = req.WithContext(ctx)
	}
	resp, err := t.base.RoundTrip(req)
	if timer != nil {
		timer.Stop()
	}
	var ne net.Error
	if timedOut.Load() || err != nil && errors.As(err, &ne) && ne.Timeout() && !isDialError(err) {
		if err == nil {
			resp.Body.Close()
		}
		err = fmt.Errorf("%s after %s: %w", u.addr, timeout, errUpstreamTimeout)
	}
	if err != nil {
		if cancel != nil {
			cancel()
		}
		u.end()
		return nil, err
	}
	u.markHealthy()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection stays counted until it is closed, so
		// that a drain gives it the drain timeout to end on its own. Its
		// context must live as long as it does.
		ex.upgraded = true
		if rwc, ok := resp.Body.(io.ReadWriteCloser); ok {
			resp.Body = &upgradedBody{hijackedConn: u.track(rwc), cancel: cancel}
			return resp, nil
		}
		u.end()
		return resp, nil
	}
	resp.Body = &doneBody{ReadCloser: resp.Body, u: u, cancel: cancel}
	return resp, nil
}

// acquire picks an upstream of app other than skip and counts a request
// in flight there. It re-checks the table afterwards, so that a Drain that
// starts after SetRoute either sees the request or the request sees the
// new table and goes elsewhere.
func (r *Router) acquire(app string, skip *upstream) (*upstream, error) {
	for {
		t := r.table.Load()
		ar := t.apps[app]
		if ar == nil {
			return nil, fmt.Errorf("app %q: %w", app, errNoUpstream)
		}
		u := ar.pick(r.now(), skip)
		if u == nil {
			return nil, fmt.Errorf("app %q: %w", app, errNoUpstream)
		}
		u.begin()
		if t2 := r.table.Load(); t2 == t || t2.routed(app, u) {
			return u, nil
		}
		u.end()
	}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// doneBody ends the request in flight to u, once, when the response
// body is closed.
type doneBody struct {
	io.ReadCloser
	u      *upstream
	cancel context.CancelFunc // nil when no per-request context was made
	done   atomic.Bool
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	if b.done.CompareAndSwap(false, true) {
		if b.cancel != nil {
			b.cancel()
		}
		b.u.end()
	}
	return err
}

// upgradedBody is an upgraded connection whose request context ends
// when it is closed.
type upgradedBody struct {
	*hijackedConn
	cancel context.CancelFunc
}

func (b *upgradedBody) Close() error {
	err := b.hijackedConn.Close()
	if b.cancel != nil {
		b.cancel()
	}
	return err
}

// replayableBody is a request body that can be sent again as long as
// nobody read from it.
type replayableBody struct {
	io.ReadCloser
	read     atomic.Bool
	tooLarge atomic.Bool // the body passed the route's limit
}

func (b *replayableBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if err != nil && errors.As(err, &mbe) {
		// Noted here because Request.Write hides the error in a type
		// errors.As cannot open.
		b.tooLarge.Store(true)
	}
	return n, err
}

// proxyError answers a request the upstream did not.
func (r *Router) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	ex := exchangeFrom(req.Context())
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge), ex.body != nil && ex.body.tooLarge.Load():
		tooLargePage(w)
	case errors.Is(err, errNoUpstream):
		unavailablePage(w)
	case req.Context().Err() != nil:
		ex.status = statusClientClosed // the client left; nobody to answer
	case errors.Is(err, errUpstreamTimeout):
		r.log.Warn("upstream timed out", "app", ex.app.App, "upstream", ex.upstream, "err", err)
		gatewayTimeoutPage(w)
	default:
		if u := r.lookupUpstream(ex.upstream); u != nil {
			u.markFailed(r.now())
		}
		r.log.Warn("upstream failed", "app", ex.app.App, "upstream", ex.upstream, "err", err)
		badGatewayPage(w)
	}
}

func (r *Router) lookupUpstream(addr string) *upstream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ups[addr]
}

// bufferPool lends ReverseProxy its copy buffers, so that a request does
// not allocate 32 KiB.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

var _ httputil.BufferPool = bufferPool{}

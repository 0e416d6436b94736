package runtime

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	mclient "github.com/moby/moby/client"
)

// DefaultTimeout is how long an engine call may go without an answer
// when NewDocker is given none. A healthy engine answers in milliseconds;
// a busy one (a large image list, an overloaded disk) in seconds. Thirty
// seconds leaves room for those and still tells a hung engine apart
// before an operator gives up on the page.
const DefaultTimeout = 30 * time.Second

// A hung engine accepts connections and never answers: nothing in the
// engine client gives up on it, so every call would wait forever, and a
// caller holding a lock (an app's deploy lock) would hold it as long.
// deadlines bounds every call in one place, the client's request hook,
// whoever makes it (kaj's runtime, the registry and build packages
// through Client):
//
//   - sending the request may go no longer than the timeout without
//     progress: a large upload (a build context, an image load) that
//     keeps moving is never cut;
//   - once sent, the engine has the timeout to start its answer (the
//     response headers). Calls the engine answers only after waiting on
//     purpose get more (see withCallTimeout: a stop waits out its grace
//     period first);
//   - streams (logs, events, stats, pulls, builds, waits) are bounded
//     only until they start: they may then stay quiet as long as their
//     caller listens. Other answers must also arrive whole within the
//     timeout.
//
// A call that runs out of time has its context canceled with an error
// matching ErrEngineTimeout, which closes its connection: the request is
// dropped, never delivered later when the engine recovers. Hijacked
// connections (exec attach) are bounded by their callers, since the
// client writes their handshake outside the HTTP transport.
type deadlines struct {
	timeout time.Duration
	host    string
	health  *engineHealth
}

type ctxKey int

const (
	callTimeoutKey ctxKey = iota
	probeKey
)

// withCallTimeout gives the calls made with ctx d to answer instead of
// the client's timeout.
func withCallTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, callTimeoutKey, d)
}

// asProbe marks ctx's calls as the health watcher's: they reach the
// engine even while it is known not to answer.
func asProbe(ctx context.Context) context.Context { return context.WithValue(ctx, probeKey, true) }

// streaming matches the API paths whose answers last as long as their
// caller listens, after a prompt start.
var streaming = regexp.MustCompile(`/(containers/[^/]+/(logs|stats|wait|attach|archive|export)|events|build|images/create|images/load|images/get|images/.+/(push|get)|exec/[^/]+/start)$`)

// hook is the client's request hook: it gives the request a context that
// ends when the engine takes too long.
func (dl *deadlines) hook(req *http.Request) error {
	ctx := req.Context()
	if req.Header.Get("Upgrade") != "" {
		// A hijack (exec attach): the client writes it outside the
		// transport, so no trace would ever tell the guard it was
		// answered; its caller bounds it instead (execAttach).
		return nil
	}
	d := dl.timeout
	if v, ok := ctx.Value(callTimeoutKey).(time.Duration); ok && v > 0 {
		d = v
	}
	// While the engine is known to hang, calls fail at once instead of
	// each waiting out its timeout, until the watcher's probe (which
	// still goes through) sees it answer again. This also keeps callers
	// from queuing: the client negotiates the API version with a ping
	// under a lock on first use, and every caller waiting for that lock
	// would ping in turn; and a call that went on without a version
	// would reach a recovered engine with one it may refuse.
	if ctx.Value(probeKey) == nil {
		if since, ok := dl.health.hung(); ok {
			return &TimeoutError{Call: req.Method + " " + apiPath(req.URL.Path), Host: dl.host, Since: since}
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	g := &guard{d: d, stream: streaming.MatchString(req.URL.Path), cancel: cancel, health: dl.health,
		cause: &TimeoutError{Call: req.Method + " " + apiPath(req.URL.Path), Host: dl.host, After: d}}
	g.start()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn:              g.gotConn,
		WroteRequest:         func(httptrace.WroteRequestInfo) { g.sent() },
		GotFirstResponseByte: g.answered,
	})
	*req = *req.WithContext(ctx)
	return nil
}

// TimeoutError is a call the engine did not answer in time, or one not
// made because the engine is known not to answer. It matches
// ErrEngineTimeout.
type TimeoutError struct {
	// Call is the API call, like "POST /containers/1f2e/stop".
	Call string
	Host string
	// After is how long the call waited; zero when it was not made.
	After time.Duration
	// Since is when the engine stopped answering, for a call not made.
	Since time.Time
}

func (e *TimeoutError) Error() string {
	if e.After == 0 {
		return fmt.Sprintf("%v: %s not sent: %s has answered nothing since %s", ErrEngineTimeout, e.Call, e.Host, e.Since.Format(time.TimeOnly))
	}
	return fmt.Sprintf("%v: %s got no answer from %s within %s", ErrEngineTimeout, e.Call, e.Host, e.After)
}

// Is makes a *TimeoutError match ErrEngineTimeout.
func (e *TimeoutError) Is(target error) bool { return target == ErrEngineTimeout }

// apiPath drops the version prefix (/v1.51) for messages.
func apiPath(p string) string {
	if len(p) > 2 && p[1] == 'v' {
		for i := 2; i < len(p); i++ {
			if p[i] == '/' {
				return p[i:]
			}
		}
	}
	return p
}

// guard is one call's timer.
type guard struct {
	d      time.Duration
	stream bool
	cause  error
	cancel context.CancelCauseFunc
	health *engineHealth

	mu    sync.Mutex
	t     *time.Timer
	phase int
}

const (
	sending = iota
	waiting
	reading // a whole answer is still arriving
	done
)

func (g *guard) start() {
	g.mu.Lock()
	g.t = time.AfterFunc(g.d, g.fire)
	g.mu.Unlock()
}

// progress is called for every write on the call's connection: a send
// that moves is never cut.
func (g *guard) progress() {
	g.mu.Lock()
	if g.phase == sending {
		g.t.Reset(g.d)
	}
	g.mu.Unlock()
}

func (g *guard) gotConn(info httptrace.GotConnInfo) {
	if pc, ok := baseConn(info.Conn).(*progressConn); ok {
		pc.watch(g.progress)
	}
}

func (g *guard) sent() {
	g.mu.Lock()
	if g.phase == sending {
		g.phase = waiting
		g.t.Reset(g.d)
	}
	g.mu.Unlock()
}

func (g *guard) answered() {
	g.health.answered()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.phase > waiting {
		return
	}
	if g.stream {
		g.phase = done
		g.t.Stop()
		return
	}
	g.phase = reading
}

func (g *guard) fire() {
	g.mu.Lock()
	phase := g.phase
	g.phase = done
	g.mu.Unlock()
	if phase == done {
		return
	}
	if phase < reading {
		g.health.failed(g.cause)
	}
	// Canceling closes the call's connection, so the engine never gets
	// to act on a request kaj has given up on. After a whole answer
	// was read this is a no-op.
	g.cancel(g.cause)
}

// progressConn reports each write to the call using the connection.
type progressConn struct {
	net.Conn
	onWrite atomic.Pointer[func()]
}

func (c *progressConn) watch(f func()) { c.onWrite.Store(&f) }

func (c *progressConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		if f := c.onWrite.Load(); f != nil {
			(*f)()
		}
	}
	return n, err
}

// CloseWrite half-closes the connection, as the engine's stdin EOF for an
// attached exec: the client looks for it on the connection it dialed.
func (c *progressConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func baseConn(c net.Conn) net.Conn {
	if t, ok := c.(*tls.Conn); ok {
		return t.NetConn()
	}
	return c
}

// dialer connects to the engine at proto/addr within the timeout and
// wraps the connection so sends report progress. For unix sockets addr
// is the socket's path, whatever the transport asks for.
func (dl *deadlines) dialer(proto, addr string) func(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{Timeout: dl.timeout, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if proto == "unix" {
			network, address = "unix", addr
		}
		c, err := d.DialContext(ctx, network, address)
		if err != nil {
			if ctx.Err() == nil {
				dl.health.failed(fmt.Errorf("%w: %w", ErrEngineUnreachable, err))
			}
			return nil, err
		}
		return &progressConn{Conn: c}, nil
	}
}

// execAttach attaches to an exec within the timeout. The client writes
// the hijack's handshake outside the transport, so the request hook's
// deadline never reaches it; the connection it returns outlives this
// context.
func (d *Docker) execAttach(ctx context.Context, id string, opts mclient.ExecAttachOptions) (mclient.ExecAttachResult, error) {
	actx, cancel := context.WithTimeoutCause(ctx, d.dl.timeout,
		&TimeoutError{Call: "POST /exec/" + id + "/start", Host: d.dl.host, After: d.dl.timeout})
	defer cancel()
	res, err := d.cli.ExecAttach(actx, id, opts)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		err = context.Cause(actx)
		d.health.failed(err)
	}
	return res, err
}

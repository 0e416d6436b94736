package router

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connPool is the router's transport to upstreams: HTTP/1.1 over pooled
// keep-alive connections, each request written and its response read on
// the caller's goroutine.
//
// http.Transport hands every request to two goroutines of its own (one
// writes, one reads) and back; on a busy host each handoff is a wait for
// the scheduler, which cost the front door half of nginx's throughput on
// loopback. A proxy sends one request at a time per connection and reads
// the answer right after, so it needs neither.
//
// Limits: the request body is written before the response is read, so an
// upstream that answers early without reading a large body makes the
// request fail (502) rather than pass its early answer on; the router's
// own body limit answers 413 before that. Idle connections are checked
// for a close by the upstream when they are taken after a second or more
// of rest, not in the background.
type connPool struct {
	dialer      net.Dialer
	maxIdle     int           // per upstream
	idleTimeout time.Duration // idle connections older than this are closed when met

	mu   sync.Mutex
	idle map[string][]*pconn // by address, most recently used last
}

var _ http.RoundTripper = (*connPool)(nil)

// Pool defaults: enough idle connections to absorb a burst to one busy
// app without redialing; idle ones kept less long than the usual
// upstream keep-alive timeouts (Go 3 min when unset, nginx 75 s), so that
// the router rarely sends on a connection the app just closed.
const (
	poolMaxIdle     = 512
	poolIdleTimeout = 60 * time.Second
	poolDialTimeout = 5 * time.Second
)

func newConnPool() *connPool {
	return &connPool{
		dialer:      net.Dialer{Timeout: poolDialTimeout, KeepAlive: 30 * time.Second},
		maxIdle:     poolMaxIdle,
		idleTimeout: poolIdleTimeout,
		idle:        make(map[string][]*pconn),
	}
}

// pconn is one connection to an upstream.
type pconn struct {
	net.Conn
	addr     string
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
}

// RoundTrip sends req to req.URL.Host. The response header wait is
// bounded by the route's timeout (from the request's exchange), or
// DefaultTimeout. An idempotent request without a body that fails on a
// reused connection is sent once more on a new one: the upstream may have
// closed the idle connection just then (http.Transport's rule too).
func (p *connPool) RoundTrip(req *http.Request) (*http.Response, error) {
	timeout := DefaultTimeout
	if ex := exchangeFrom(req.Context()); ex != nil && ex.app != nil {
		timeout = ex.app.Timeout
	}
	for attempt := 0; ; attempt++ {
		pc, reused, err := p.get(req.Context(), req.URL.Host)
		if err != nil {
			return nil, err
		}
		resp, err := p.exchange(pc, req, timeout)
		if err == nil {
			return resp, nil
		}
		pc.Close()
		var te *headerTimeoutError
		if reused && attempt == 0 && replayable(req) && req.Context().Err() == nil && !errors.As(err, &te) {
			continue
		}
		return nil, err
	}
}

// replayable reports whether req may be sent twice: no body, and a method
// RFC 9110 calls idempotent, or an Idempotency-Key.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

// headerTimeoutError is returned when an upstream sent no response
// headers within the route's timeout.
type headerTimeoutError struct{ after time.Duration }

func (e *headerTimeoutError) Error() string {
	return fmt.Sprintf("no response headers after %s", e.after)
}
func (e *headerTimeoutError) Timeout() bool   { return true }
func (e *headerTimeoutError) Temporary() bool { return true }
func (e *headerTimeoutError) Unwrap() error   { return errUpstreamTimeout }

// exchange writes req on pc and reads the response headers.
func (p *connPool) exchange(pc *pconn, req *http.Request, timeout time.Duration) (*http.Response, error) {
	// Cancellation (the client left) interrupts any read or write.
	stop := context.AfterFunc(req.Context(), func() { pc.SetDeadline(time.Unix(1, 0)) })
	if err := req.Write(pc.bw); err != nil {
		stop()
		return nil, fmt.Errorf("sending request to %s: %w", pc.addr, err)
	}
	if err := pc.bw.Flush(); err != nil {
		stop()
		return nil, fmt.Errorf("sending request to %s: %w", pc.addr, err)
	}
	pc.SetReadDeadline(time.Now().Add(timeout))
	var resp *http.Response
	var err error
	for {
		resp, err = http.ReadResponse(pc.br, req)
		// Interim answers (100 Continue, 103 Early Hints) are dropped:
		// the body was sent already and hints are an optimization.
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	if err != nil {
		stop()
		var ne net.Error
		if req.Context().Err() == nil && errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("reading response from %s: %w", pc.addr, &headerTimeoutError{timeout})
		}
		return nil, fmt.Errorf("reading response from %s: %w", pc.addr, err)
	}
	pc.SetReadDeadline(time.Time{})
	if resp.StatusCode == http.StatusSwitchingProtocols {
		stop() // ReverseProxy closes the upgraded connection when the client leaves
		resp.Body = &upgradedConn{pc: pc}
		return resp, nil
	}
	resp.Body = &pooledBody{ReadCloser: resp.Body, p: p, pc: pc, stop: stop, reuse: !resp.Close && !req.Close}
	return resp, nil
}

// get takes an idle connection to addr, or dials one.
func (p *connPool) get(ctx context.Context, addr string) (pc *pconn, reused bool, err error) {
	now := time.Now()
	p.mu.Lock()
	for {
		conns := p.idle[addr]
		if len(conns) == 0 {
			break
		}
		pc = conns[len(conns)-1]
		conns[len(conns)-1] = nil
		p.idle[addr] = conns[:len(conns)-1]
		if idle := now.Sub(pc.lastUsed); idle < p.idleTimeout && pc.br.Buffered() == 0 {
			p.mu.Unlock()
			// A connection used within the last second was open then;
			// the peek (a syscall) is kept for those idle long enough
			// for an upstream's idle timeout to have closed them.
			if idle < time.Second || alive(pc.Conn) {
				return pc, true, nil
			}
			pc.Close()
			p.mu.Lock()
			continue
		}
		pc.Close()
	}
	p.mu.Unlock()
	c, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err // a *net.OpError with Op "dial": proxyTransport retries elsewhere
	}
	return &pconn{Conn: c, addr: addr, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 16<<10)}, false, nil
}

// put returns a connection whose response was read to its end.
func (p *connPool) put(pc *pconn) {
	pc.lastUsed = time.Now()
	p.mu.Lock()
	if conns := p.idle[pc.addr]; len(conns) < p.maxIdle {
		p.idle[pc.addr] = append(conns, pc)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	pc.Close()
}

// CloseIdleConnections closes every idle connection.
func (p *connPool) CloseIdleConnections() {
	p.mu.Lock()
	idle := p.idle
	p.idle = make(map[string][]*pconn)
	p.mu.Unlock()
	for _, conns := range idle {
		for _, pc := range conns {
			pc.Close()
		}
	}
}

// closeIdleTo closes the idle connections to one upstream, once drained.
func (p *connPool) closeIdleTo(addr string) {
	p.mu.Lock()
	conns := p.idle[addr]
	delete(p.idle, addr)
	p.mu.Unlock()
	for _, pc := range conns {
		pc.Close()
	}
}

// pooledBody is a response body that gives its connection back to the
// pool when it was read to the end, and closes it otherwise: draining an
// unread rest could wait forever on a stream.
type pooledBody struct {
	io.ReadCloser
	p      *connPool
	pc     *pconn
	stop   func() bool
	reuse  bool
	sawEOF bool
	closed atomic.Bool
}

func (b *pooledBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	if err == io.EOF {
		b.sawEOF = true
	}
	return n, err
}

func (b *pooledBody) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	notCanceled := b.stop()
	if !b.sawEOF || !b.reuse || !notCanceled {
		b.pc.Close()
		b.ReadCloser.Close()
		return nil
	}
	err := b.ReadCloser.Close()
	if err != nil {
		b.pc.Close()
		return nil
	}
	b.p.put(b.pc)
	return nil
}

// upgradedConn is the upstream side of an upgraded connection: what the
// reader buffered first, then the connection.
type upgradedConn struct{ pc *pconn }

func (u *upgradedConn) Read(p []byte) (int, error)  { return u.pc.br.Read(p) }
func (u *upgradedConn) Write(p []byte) (int, error) { return u.pc.Conn.Write(p) }
func (u *upgradedConn) Close() error                { return u.pc.Conn.Close() }

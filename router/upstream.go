package router

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// failCooloff is how long an upstream whose dial failed is passed over:
// long enough to spare every request a refused dial while a container is
// gone, short enough that a container that comes back is used again soon.
const failCooloff = 5 * time.Second

// upstream is the shared state of one upstream address: requests in
// flight, upgraded connections and passive health. One exists per address
// for as long as a route names it or a drain waits on it.
type upstream struct {
	addr string

	downUntil atomic.Int64 // unix nanoseconds; 0 = healthy

	mu       sync.Mutex
	inflight int
	idle     chan struct{} // closed when inflight drops to zero; nil while zero
	hijacked map[*hijackedConn]struct{}
}

func newUpstream(addr string) *upstream {
	return &upstream{addr: addr, hijacked: make(map[*hijackedConn]struct{})}
}

func (u *upstream) coolingOff(now time.Time) bool {
	d := u.downUntil.Load()
	return d != 0 && now.UnixNano() < d
}

func (u *upstream) markFailed(now time.Time) {
	u.downUntil.Store(now.Add(failCooloff).UnixNano())
}

func (u *upstream) markHealthy() {
	if u.downUntil.Load() != 0 {
		u.downUntil.Store(0)
	}
}

// begin counts a request in flight.
func (u *upstream) begin() {
	u.mu.Lock()
	if u.inflight == 0 {
		u.idle = make(chan struct{})
	}
	u.inflight++
	u.mu.Unlock()
}

// end counts a request finished.
func (u *upstream) end() {
	u.mu.Lock()
	u.inflight--
	if u.inflight == 0 {
		close(u.idle)
		u.idle = nil
	}
	u.mu.Unlock()
}

// idleCh returns a channel closed once no request is in flight and no
// upgraded connection open.
func (u *upstream) idleCh() <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.idle == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return u.idle
}

// requests reports the plain requests in flight, upgraded connections
// left out.
func (u *upstream) requests() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.inflight - len(u.hijacked)
}

// track wraps an upgraded connection so that a drain can close it. It
// takes over the request's count in flight, which its Close ends.
func (u *upstream) track(rwc io.ReadWriteCloser) *hijackedConn {
	hc := &hijackedConn{ReadWriteCloser: rwc, u: u}
	u.mu.Lock()
	u.hijacked[hc] = struct{}{}
	u.mu.Unlock()
	return hc
}

// closeHijacked closes every upgraded connection to u and reports how
// many there were.
func (u *upstream) closeHijacked() int {
	u.mu.Lock()
	conns := make([]*hijackedConn, 0, len(u.hijacked))
	for hc := range u.hijacked {
		conns = append(conns, hc)
	}
	u.mu.Unlock()
	for _, hc := range conns {
		hc.Close()
	}
	return len(conns)
}

// hijackedConn is an upgraded connection to an upstream (a websocket),
// the body of a 101 response that ReverseProxy copies both ways.
type hijackedConn struct {
	io.ReadWriteCloser
	u    *upstream
	once sync.Once
}

// Close closes the connection and forgets it; it is safe to call twice,
// from ReverseProxy and from a drain at the same time.
func (hc *hijackedConn) Close() error {
	var err error
	hc.once.Do(func() {
		hc.u.mu.Lock()
		delete(hc.u.hijacked, hc)
		hc.u.mu.Unlock()
		err = hc.ReadWriteCloser.Close()
		hc.u.end()
	})
	return err
}

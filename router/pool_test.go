package router

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestConnPool_staleConnection: an upstream that closes an idle
// connection (its keep-alive timeout) must not fail the next request.
func TestConnPool_staleConnection(t *testing.T) {
	ln := listenLoopback(t)
	defer ln.Close()
	// A bare HTTP/1.1 server that answers one request per connection
	// while claiming keep-alive, then closes: the worst case for a pool.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				req.Body.Close()
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
				time.Sleep(20 * time.Millisecond)
			}()
		}
	}()
	f := newFrontDoor(t, Options{}, Route{App: "a", Upstreams: []string{ln.Addr().String()}})
	for i := range 3 {
		if status, body, _ := f.get(t, "a.localhost", "/"); status != 200 || body != "ok" {
			t.Fatalf("GET %d: %d %q", i, status, body)
		}
		time.Sleep(50 * time.Millisecond) // the upstream has closed the idle connection
	}
	// A POST cannot be resent once written, so the pool must notice the
	// close before using the connection: idle over a second, it peeks.
	f.get(t, "a.localhost", "/")
	time.Sleep(1100 * time.Millisecond)
	req, _ := http.NewRequest(http.MethodPost, f.url+"/", strings.NewReader("data"))
	req.Host = "a.localhost"
	if status, body, _ := f.do(t, req); status != 200 || body != "ok" {
		t.Fatalf("POST on a connection the upstream closed: %d %q", status, body)
	}
}

func TestConnPool_closeIdleTo(t *testing.T) {
	p := newConnPool()
	a, b := listenLoopback(t), listenLoopback(t)
	defer a.Close()
	defer b.Close()
	for _, ln := range []net.Listener{a, b} {
		pc, _, err := p.get(t.Context(), ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		p.put(pc)
	}
	p.closeIdleTo(a.Addr().String())
	if len(p.idle[a.Addr().String()]) != 0 || len(p.idle[b.Addr().String()]) != 1 {
		t.Errorf("idle after closing a's: %v", p.idle)
	}
}

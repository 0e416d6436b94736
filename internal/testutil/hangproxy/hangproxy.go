// Package hangproxy puts a unix socket in front of the Docker engine that
// can play a hung engine: while hanging it accepts connections, reads
// what is sent and never answers. Switched to forwarding, it connects the
// connections it held to the real engine, sending what they had sent, as
// an engine that recovers would finally read them: a request its client
// abandoned without closing the connection then runs late. Replayed says
// which did.
package hangproxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Proxy is one socket; safe for concurrent use.
type Proxy struct {
	// Path is the socket's path; Host is it as a DOCKER_HOST.
	Path, Host string
	target     string
	ln         net.Listener

	mu       sync.Mutex
	hang     bool
	held     map[*held]bool
	replayed []string
	accepted int
	wg       sync.WaitGroup
}

type held struct {
	conn net.Conn
	buf  bytes.Buffer
	up   net.Conn // set once forwarded
}

// Start listens on a new socket in t's temporary directory, in front of
// the engine socket at target (a path), hanging from the start when hang
// is set. It closes with the test.
func Start(t testing.TB, target string, hang bool) *Proxy {
	t.Helper()
	dir, err := os.MkdirTemp("", "hangproxy")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "engine.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Path: path, Host: "unix://" + path, target: target, ln: ln, hang: hang, held: map[*held]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for h := range p.held {
			h.conn.Close()
			if h.up != nil {
				h.up.Close()
			}
		}
		p.mu.Unlock()
		p.wg.Wait()
		os.RemoveAll(dir)
	})
	return p
}

// Hang makes new connections hang; connections already forwarded keep
// going, as a real engine's open streams would.
func (p *Proxy) Hang() {
	p.mu.Lock()
	p.hang = true
	p.mu.Unlock()
}

// Forward connects every held connection still open to the engine,
// sending what it had sent, and forwards new connections.
func (p *Proxy) Forward() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hang = false
	for h := range p.held {
		if h.up != nil {
			continue
		}
		up, err := net.Dial("unix", p.target)
		if err != nil {
			return err
		}
		if first := requestLine(h.buf.Bytes()); first != "" {
			p.replayed = append(p.replayed, first)
		}
		if _, err := up.Write(h.buf.Bytes()); err != nil {
			up.Close()
			return err
		}
		h.up = up
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			io.Copy(h.conn, up)
			h.conn.Close()
		}()
	}
	return nil
}

// Replayed lists the request lines ("POST /v1.51/containers/x/stop
// HTTP/1.1") of the held connections Forward sent on to the engine.
func (p *Proxy) Replayed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.replayed...)
}

// Held is how many connections are held open now, unanswered.
func (p *Proxy) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for h := range p.held {
		if h.up == nil {
			n++
		}
	}
	return n
}

// Accepted is how many connections the proxy has taken.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepted++
		hang := p.hang
		h := &held{conn: c}
		if hang {
			p.held[h] = true
		}
		p.mu.Unlock()
		p.wg.Add(1)
		if hang {
			go p.hold(h)
		} else {
			go p.pipe(c)
		}
	}
}

// hold reads what the client sends, keeping it while the proxy hangs and
// passing it on once forwarded, until the client closes.
func (p *Proxy) hold(h *held) {
	defer p.wg.Done()
	b := make([]byte, 32<<10)
	for {
		n, err := h.conn.Read(b)
		p.mu.Lock()
		up := h.up
		if up == nil {
			h.buf.Write(b[:n])
		}
		p.mu.Unlock()
		if up != nil && n > 0 {
			up.Write(b[:n])
		}
		if err != nil {
			p.mu.Lock()
			delete(p.held, h)
			if h.up != nil {
				h.up.Close()
			}
			p.mu.Unlock()
			h.conn.Close()
			return
		}
	}
}

func (p *Proxy) pipe(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	up, err := net.Dial("unix", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		close(done)
	}()
	io.Copy(c, up)
	c.Close()
	<-done
}

func requestLine(b []byte) string {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		line, _, _ := bytes.Cut(b, []byte("\r\n"))
		return string(line)
	}
	return req.Method + " " + req.URL.RequestURI()
}

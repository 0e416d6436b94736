// Package hangproxy puts a unix socket in front of the Docker engine that
// can play a hung engine: it reads requests and passes them to the
// engine, except those it is told to hang, which it holds: it keeps
// their connection open, reads what comes and never answers. Switched to
// forwarding, it sends each held request to the engine with what
// followed it, as an engine that recovers would finally read them: a
// request whose client abandoned it without closing the connection then
// runs late. Replayed says which did.
package hangproxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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
	hang     func(line string) bool // nil forwards everything
	held     map[*held]bool
	conns    map[net.Conn]bool
	replayed []string
	wg       sync.WaitGroup
}

type held struct {
	line    string
	release chan struct{} // closed by Forward
}

func all(string) bool { return true }

// Start listens on a new socket in front of the engine socket at target
// (a path), hanging every request from the start when hang is set. It
// closes with the test.
func Start(t testing.TB, target string, hang bool) *Proxy {
	t.Helper()
	// A short path: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "hangproxy")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "engine.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Path: path, Host: "unix://" + path, target: target, ln: ln, held: map[*held]bool{}, conns: map[net.Conn]bool{}}
	if hang {
		p.hang = all
	}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
		os.RemoveAll(dir)
	})
	return p
}

// Hang holds every request from now on; answers under way (streams)
// keep going.
func (p *Proxy) Hang() { p.HangIf(all) }

// HangMatching holds the requests whose "METHOD /path" (the path without
// its API version, like "POST /containers/1f2e/stop") matches re, and
// forwards the others.
func (p *Proxy) HangMatching(re *regexp.Regexp) { p.HangIf(re.MatchString) }

// HangIf holds the requests for which hang, given "METHOD /path", says
// so, and forwards the others. hang is called for one request at a time.
func (p *Proxy) HangIf(hang func(line string) bool) {
	p.mu.Lock()
	p.hang = hang
	p.mu.Unlock()
}

// Forward sends every held request whose client is still connected to
// the engine, and forwards all requests from now on.
func (p *Proxy) Forward() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hang = nil
	for h := range p.held {
		p.replayed = append(p.replayed, h.line)
		close(h.release)
		delete(p.held, h)
	}
	return nil
}

// Replayed lists the held requests ("POST /containers/x/stop") that
// Forward sent on to the engine.
func (p *Proxy) Replayed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.replayed...)
}

// Held lists the requests held now, unanswered, whose clients are still
// connected.
func (p *Proxy) Held() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for h := range p.held {
		out = append(out, h.line)
	}
	return out
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serveConn(c)
	}
}

var version = regexp.MustCompile(`^/v[0-9.]+/`)

// serveConn passes one client connection's requests to the engine, one
// at a time as HTTP/1.1 keeps them, until one is to be held.
func (p *Proxy) serveConn(c net.Conn) {
	defer p.wg.Done()
	defer p.forget(c)
	br := bufio.NewReader(c)
	var up net.Conn
	var ubr *bufio.Reader
	defer func() {
		if up != nil {
			p.forget(up)
		}
	}()
	var peeking chan struct{} // a held request's watch on the client
	for {
		if peeking != nil {
			<-peeking
			peeking = nil
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		line := req.Method + " " + version.ReplaceAllString(req.URL.Path, "/")
		p.mu.Lock()
		hang := p.hang != nil && p.hang(line)
		p.mu.Unlock()
		var held []byte
		if hang {
			var buf bytes.Buffer
			req.Write(&buf)
			released, peek := p.hold(br, line)
			if !released {
				return
			}
			peeking = peek
			held = buf.Bytes()
		}
		if up == nil {
			if up, err = net.Dial("unix", p.target); err != nil {
				return
			}
			p.mu.Lock()
			p.conns[up] = true
			p.mu.Unlock()
			ubr = bufio.NewReader(up)
		}
		if held != nil {
			_, err = up.Write(held)
		} else {
			err = req.Write(up)
		}
		if err != nil {
			return
		}
		resp, err := http.ReadResponse(ubr, req)
		if err != nil {
			return
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			// A hijacked stream (exec attach): raw bytes both ways from
			// here on.
			resp.Write(c)
			go func() {
				io.Copy(up, br)
				up.Close()
			}()
			io.Copy(c, ubr)
			return
		}
		err = resp.Write(c)
		resp.Body.Close()
		if err != nil || resp.Close || req.Close {
			return
		}
	}
}

// hold keeps a request unanswered until its client closes the
// connection (false) or Forward releases it (true). br has read the
// request whole: a client waiting for its answer sends nothing more. br
// is watched for the client's close until the returned channel closes,
// which a client waiting for its answer does only after it.
func (p *Proxy) hold(br *bufio.Reader, line string) (bool, chan struct{}) {
	h := &held{line: line, release: make(chan struct{})}
	p.mu.Lock()
	p.held[h] = true
	p.mu.Unlock()
	closed := make(chan struct{})
	go func() {
		br.Peek(1)
		close(closed)
	}()
	select {
	case <-h.release:
		return true, closed
	case <-closed:
		p.mu.Lock()
		delete(p.held, h)
		p.mu.Unlock()
		return false, closed
	}
}

func (p *Proxy) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// Command testapp is the program inside kaj's test images. It is built
// static and loaded into the engine by the tests, because no image can be
// pulled. It behaves like a small web app whose behaviour the test picks
// through its environment and a few endpoints.
//
// Environment:
//
//	PORT            listen port (8080)
//	START_DELAY     wait this long before listening ("3s"): a slow boot
//	HEALTH_STATUS   status code of /healthz (200): a failing health check
//	LOG_EVERY       print "tick N" to stdout this often; odd ticks also to stderr
//	EXIT_AFTER      exit with EXIT_CODE (3) after this long: a crashing app
//	FAKE_MYSQL_PORT also serve a MySQL protocol greeting on this port
//	FAKE_POSTGRES_PORT also answer a Postgres startup message on this port
//	                with an authentication request
//
// "testapp check URL" exits 0 when URL answers 2xx, else 1: a HEALTHCHECK
// command for images that have no shell.
//
// Endpoints: /healthz, /env, /headers (the request's own headers, as
// JSON: what a browser sent the app), /dial?addr=host:port, /resolve?host=,
// POST /log?stream=stdout|stderr&n=N&text=T, PUT|GET /file?path=P,
// POST /flood?n=N (N numbered lines to stdout, as fast as possible),
// GET /slow?d=3s (answers after d), GET /ws (a websocket echo, each
// answer prefixed with $VERSION),
// POST /exit?code=N.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fasthttp/websocket"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "check" {
		os.Exit(check(os.Args[2]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if d := envDuration("START_DELAY"); d > 0 {
		fmt.Println("starting slowly:", d)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return
		}
	}
	if os.Getenv("PRINT_ENV") != "" {
		// An app that dumps its configuration while it fails: kaj must
		// not keep what it prints.
		env := os.Environ()
		slices.Sort(env)
		for _, e := range env {
			fmt.Println(e)
		}
	}
	if d := envDuration("EXIT_AFTER"); d > 0 {
		code, _ := strconv.Atoi(os.Getenv("EXIT_CODE"))
		if code == 0 {
			code = 3
		}
		time.AfterFunc(d, func() {
			fmt.Fprintln(os.Stderr, "exiting on purpose with code", code)
			os.Exit(code)
		})
	}
	if d := envDuration("LOG_EVERY"); d > 0 {
		go tick(ctx, d)
	}
	if p := os.Getenv("FAKE_MYSQL_PORT"); p != "" {
		go fakeMySQL(ctx, ":"+p)
	}
	if p := os.Getenv("FAKE_POSTGRES_PORT"); p != "" {
		go fakePostgres(ctx, ":"+p)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{Addr: ":" + port, Handler: routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		fmt.Println("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Println("listening on", srv.Addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

func envDuration(k string) time.Duration {
	d, _ := time.ParseDuration(os.Getenv(k))
	return d
}

func tick(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fmt.Printf("tick %d\n", n)
		if n%2 == 1 {
			fmt.Fprintf(os.Stderr, "tick %d err\n", n)
		}
	}
}

func routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(os.Getenv("HEALTH_STATUS"))
		if code == 0 {
			code = 200
		}
		w.WriteHeader(code)
		fmt.Fprintln(w, "health", code)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		fmt.Fprintln(w, "testapp on", host)
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			for i := 0; i < len(kv); i++ {
				if kv[i] == '=' {
					env[kv[:i]] = kv[i+1:]
					break
				}
			}
		}
		writeJSON(w, env)
	})
	mux.HandleFunc("GET /headers", func(w http.ResponseWriter, r *http.Request) {
		h := map[string]string{"Host": r.Host}
		for k, v := range r.Header {
			h[k] = strings.Join(v, ", ")
		}
		writeJSON(w, h)
	})
	mux.HandleFunc("GET /dial", func(w http.ResponseWriter, r *http.Request) {
		addr := r.URL.Query().Get("addr")
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			writeJSON(w, map[string]any{"ok": false, "error": err.Error()})
			return
		}
		remote := c.RemoteAddr().String()
		c.Close()
		writeJSON(w, map[string]any{"ok": true, "remote": remote})
	})
	mux.HandleFunc("GET /resolve", func(w http.ResponseWriter, r *http.Request) {
		addrs, err := net.LookupHost(r.URL.Query().Get("host"))
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			writeJSON(w, map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, map[string]any{"addrs": addrs})
	})
	mux.HandleFunc("POST /log", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		out := os.Stdout
		if q.Get("stream") == "stderr" {
			out = os.Stderr
		}
		n, _ := strconv.Atoi(q.Get("n"))
		if n < 1 {
			n = 1
		}
		for i := 1; i <= n; i++ {
			fmt.Fprintf(out, "%s %d\n", q.Get("text"), i)
		}
	})
	mux.HandleFunc("POST /flood", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		buf := make([]byte, 0, 64<<10)
		for i := 1; i <= n; i++ {
			buf = fmt.Appendf(buf, "flood %d %d\n", i, time.Now().UnixNano())
			if len(buf) > 60<<10 || i == n {
				os.Stdout.Write(buf)
				buf = buf[:0]
			}
		}
	})
	mux.HandleFunc("PUT /file", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := os.WriteFile(r.URL.Query().Get("path"), b, 0o644); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), 404)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		time.Sleep(d)
		fmt.Fprintln(w, "slept", d, "on", os.Getenv("VERSION"))
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			t, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(t, append([]byte(os.Getenv("VERSION")+": "), msg...)); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("POST /exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		go func() { time.Sleep(50 * time.Millisecond); os.Exit(code) }()
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// fakeMySQL sends the first packet a MySQL server sends: a protocol v10
// handshake. Enough for a readiness probe that reads the greeting.
func fakeMySQL(ctx context.Context, addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake mysql:", err)
		return
	}
	go func() { <-ctx.Done(); l.Close() }()
	fmt.Println("fake mysql listening on", addr)
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		payload := []byte{10}
		payload = append(payload, "8.0.0-testapp\x00"...)
		payload = binary.LittleEndian.AppendUint32(payload, 1)
		payload = append(payload, "abcdefgh\x00"...)
		payload = append(payload, 0xff, 0xf7, 0x21, 0x02, 0x00, 0xff, 0x81, 21)
		payload = append(payload, make([]byte, 10)...)
		payload = append(payload, "ijklmnopqrst\x00mysql_native_password\x00"...)
		hdr := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), 0}
		c.Write(append(hdr, payload...))
		go fakeLogin(c)
	}
}

// fakeLogin accepts whatever login a client sends after the greeting
// with an OK packet, then waits for the client's goodbye, as a real
// server does.
func fakeLogin(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
		return
	}
	ok := []byte{0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00}
	c.Write(append([]byte{byte(len(ok)), 0, 0, hdr[3] + 1}, ok...))
	io.Copy(io.Discard, c)
}

// fakePostgres answers what a Postgres server answers first: 'N' to an
// SSLRequest, and an AuthenticationCleartextPassword request to a startup
// message. Enough for a readiness probe.
func fakePostgres(ctx context.Context, addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake postgres:", err)
		return
	}
	go func() { <-ctx.Done(); l.Close() }()
	fmt.Println("fake postgres listening on", addr)
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			for {
				var hdr [8]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					return
				}
				n := int(binary.BigEndian.Uint32(hdr[:4])) - 8
				if n < 0 || n > 10000 {
					return
				}
				if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
					return
				}
				if binary.BigEndian.Uint32(hdr[4:]) == 80877103 { // SSLRequest
					c.Write([]byte{'N'})
					continue
				}
				c.Write([]byte{'R', 0, 0, 0, 8, 0, 0, 0, 3})
				io.Copy(io.Discard, c)
				return
			}
		}()
	}
}

// check is the HEALTHCHECK command: GET url, succeed on 2xx.
func check(url string) int {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		return 1
	}
	resp.Body.Close()
	fmt.Println("check:", resp.Status)
	if resp.StatusCode/100 != 2 {
		return 1
	}
	return 0
}

package router

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"
)

// acmeTLS1 is the ALPN protocol of the TLS-ALPN-01 challenge.
const acmeTLS1 = "acme-tls/1"

// Serve answers on httpLn (plain HTTP, and ACME's HTTP-01 challenges) and
// on httpsLn (HTTPS with HTTP/2, and TLS-ALPN-01) until ctx ends; either
// may be nil. Then it stops accepting, lets requests in flight finish for
// up to the drain timeout, closes upgraded connections, and returns nil.
// It returns early with an error when a listener fails.
func (r *Router) Serve(ctx context.Context, httpLn, httpsLn net.Listener) error {
	type served struct {
		name string
		err  error
	}
	done := make(chan served, 2)
	var servers []*http.Server
	newServer := func() *http.Server {
		s := &http.Server{
			Handler:           r,
			ReadHeaderTimeout: 10 * time.Second, // slowloris: headers must arrive promptly
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
		}
		servers = append(servers, s)
		return s
	}
	if httpLn != nil {
		s := newServer()
		go func() { done <- served{"http", s.Serve(httpLn)} }()
	}
	if httpsLn != nil {
		s := newServer()
		s.TLSConfig = r.tlsConfig()
		if a, ok := httpsLn.Addr().(*net.TCPAddr); ok {
			r.httpsPort.Store(int32(a.Port))
		}
		go func() { done <- served{"https", s.ServeTLS(httpsLn, "", "")} }()
	}
	if len(servers) == 0 {
		return errors.New("router: serve: no listener given")
	}
	var err error
	select {
	case <-ctx.Done():
	case s := <-done:
		err = fmt.Errorf("serving %s: %w", s.name, s.err)
	}
	r.httpsPort.Store(0)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.DrainTimeout)
	defer cancel()
	for _, s := range servers {
		if serr := s.Shutdown(sctx); serr != nil {
			r.log.Warn("router shutdown cut requests short", "err", serr)
		}
	}
	r.closeAllHijacked()
	return err
}

// closeAllHijacked closes every upgraded connection, which
// http.Server.Shutdown leaves open.
func (r *Router) closeAllHijacked() {
	r.mu.Lock()
	ups := make([]*upstream, 0, len(r.ups))
	for _, u := range r.ups {
		ups = append(ups, u)
	}
	r.mu.Unlock()
	for _, u := range ups {
		u.closeHijacked()
	}
}

// tlsConfig picks the certificate for a handshake: certmagic's challenge
// certificate for TLS-ALPN-01, else an uploaded one, else ACME's.
func (r *Router) tlsConfig() *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if r.acme != nil {
		protos = append(protos, acmeTLS1)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: protos,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			challenge := slices.Contains(hello.SupportedProtos, acmeTLS1)
			if !challenge {
				if c := r.certs.get(hello.ServerName); c != nil {
					return c.tls, nil
				}
			}
			if r.acme != nil {
				return r.acme.cfg.GetCertificate(hello)
			}
			return nil, fmt.Errorf("no certificate for %q", hello.ServerName)
		},
	}
}

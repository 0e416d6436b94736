package router

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// acmeChallengePrefix is the path HTTP-01 challenges are fetched at; it is
// never redirected to HTTPS nor sent to an app while ACME is on.
const acmeChallengePrefix = "/.well-known/acme-challenge/"

// ServeHTTP routes a request to its app. It is the handler of both
// listeners Serve runs, and can be mounted elsewhere.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := r.now()
	ex := &exchange{recorder: recorder{ResponseWriter: w}}
	r.metrics.inflight.Inc()
	defer r.finish(ex, req, start)

	if req.TLS == nil && r.acme != nil && strings.HasPrefix(req.URL.Path, acmeChallengePrefix) &&
		r.acme.handleHTTPChallenge(&ex.recorder, req) {
		return
	}
	host := canonicalHost(req.Host)
	ar := r.table.Load().match(host, req.URL.Path)
	if ar == nil {
		notFoundPage(&ex.recorder)
		return
	}
	ex.app = ar
	if ar.HTTPSRedirect && req.TLS == nil && r.redirects(host) {
		if port := r.httpsPort.Load(); port != 0 {
			redirectHTTPS(&ex.recorder, req, int(port))
			return
		}
	}
	if len(ar.ups) == 0 {
		unavailablePage(&ex.recorder)
		return
	}
	if limit := ar.MaxBodyBytes; limit > 0 {
		if req.ContentLength > limit {
			tooLargePage(&ex.recorder)
			return
		}
		if req.Body != nil && req.Body != http.NoBody {
			// Give the real writer, not the recorder: MaxBytesReader
			// asks it to close the connection after the 413.
			req.Body = http.MaxBytesReader(w, req.Body, limit)
		}
	}
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0 {
		ex.body = &replayableBody{ReadCloser: req.Body}
		req.Body = ex.body
	}
	req = req.WithContext(context.WithValue(req.Context(), exchangeKey{}, ex))
	r.proxy.ServeHTTP(&ex.recorder, req)
}

// finish records a request in the metrics and the access log.
func (r *Router) finish(ex *exchange, req *http.Request, start time.Time) {
	r.metrics.inflight.Dec()
	status := ex.status
	if status == 0 {
		status = http.StatusOK
		if ex.upgraded {
			status = http.StatusSwitchingProtocols
		}
	}
	d := r.now().Sub(start)
	am, app := r.unknown, ""
	if ex.app != nil {
		am, app = ex.app.metrics, ex.app.App
	}
	am.observe(status, d.Seconds())
	if r.opts.AccessLog != nil {
		r.opts.AccessLog(Entry{
			Time:     start,
			App:      app,
			Host:     req.Host,
			Method:   req.Method,
			Path:     req.URL.Path,
			Status:   status,
			Bytes:    ex.bytes,
			Duration: d,
			Upstream: ex.upstream,
			Remote:   req.RemoteAddr,
		})
	}
}

// redirectHTTPS sends a plain-HTTP request to the same URL over HTTPS.
// 308 keeps the method and body, unlike 301.
func redirectHTTPS(w http.ResponseWriter, req *http.Request, port int) {
	host := req.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != 443 {
		host += ":" + strconv.Itoa(port)
	}
	http.Redirect(w, req, "https://"+host+req.URL.RequestURI(), http.StatusPermanentRedirect)
}

package web

import (
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/kajhq/kaj/microblog/session"
)

// recorder remembers the status and size of a response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// logRequests writes one line per request to the access log, in the spirit
// of gunicorn's: client, request line, status, bytes, duration, agent.
func (s *Server) logRequests(next http.Handler) http.Handler {
	if s.accessLog == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		client, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			client = r.RemoteAddr
		}
		// One Write per line, so concurrent requests never interleave.
		line := fmt.Sprintf("%s %s %s %s %s %d %d %.3fms %s\n",
			start.UTC().Format(time.RFC3339), client, r.Method, strconv.Quote(r.URL.RequestURI()), r.Proto,
			rec.status, rec.bytes, float64(s.now().Sub(start))/float64(time.Millisecond), strconv.Quote(r.UserAgent()))
		_, _ = s.accessLog.Write([]byte(line))
	})
}

// recoverPanics turns a panicking handler into a logged 500 page instead
// of a dropped connection.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			s.errorPage(w, r, &visit{sess: session.New()}, http.StatusInternalServerError, "")
		}()
		next.ServeHTTP(w, r)
	})
}

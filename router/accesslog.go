package router

import (
	"net/http"
	"time"
)

// Entry is one access-log record, given to Options.AccessLog once a
// request has ended.
type Entry struct {
	Time     time.Time     // when the request arrived
	App      string        // empty when no route matched
	Host     string        // the Host header as sent
	Method   string        //
	Path     string        // URL path without the query, which may hold secrets
	Status   int           // 101 for an upgrade; 499 when the client left first
	Bytes    int64         // response body bytes written to the client
	Duration time.Duration // until the response (or the upgraded connection) ended
	Upstream string        // address the request went to; empty if none
	Remote   string        // client address (ip:port)
}

// statusClientClosed is recorded when the client went away before the
// upstream answered (nginx's convention); nothing is sent.
const statusClientClosed = 499

// recorder notes what ReverseProxy and the pages write, for the access
// log and metrics. Flush and Hijack are reached through Unwrap by
// http.ResponseController, which ReverseProxy uses.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
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

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

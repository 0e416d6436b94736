// Package router is kaj's front door: the HTTP(S) reverse proxy that gives
// every app a stable address (<app>.<suffix> and its own domains) while the
// deploy pipeline replaces the containers behind it.
//
// It is built on net/http and httputil.ReverseProxy rather than on Fiber,
// because the front door needs HTTP/2 to clients, hijacked upgrades
// (websockets) and unbuffered streaming, which fasthttp does not give.
//
// # Routes
//
// A Route maps an app's hosts (and optional path prefixes) to the set of
// upstream addresses serving it. The routing table is immutable and held
// behind an atomic.Pointer: SetRoute builds a new table and swaps it in, so
// a request sees either the old table or the new one, never a mix, and
// readers take no lock. Lookup order: exact host, then a one-label wildcard
// (*.example.com), then Options.DefaultApp; among a host's path prefixes the
// longest match wins. The path is forwarded unchanged (the prefix is not
// stripped).
//
// # Zero-downtime switches
//
// The deploy pipeline calls SetRoute with the new container's address and
// then Drain with the old one. A request already sent to the old upstream
// finishes there; Drain waits until none is in flight (or the drain timeout
// ends) and then closes the upgraded connections (websockets) still open to
// it, so the old container can be stopped.
//
// # Upstreams
//
// Requests are spread round-robin across a route's upstreams. An upstream
// whose dial fails is skipped for a short cool-off and the request is sent
// once more to another upstream, which is safe because nothing of it reached
// the failed one. Requests travel over the router's own pool of HTTP/1.1
// keep-alive connections (see connPool), written and answered on the
// handler's goroutine, which roughly halves the cost http.Transport's
// goroutine handoffs add on a busy host.
//
// # Streaming
//
// Server-sent events and bodies of unknown length (chunked streams) are
// flushed to the client after every write, by ReverseProxy's own rule;
// responses of known length are written through the server's buffer.
// Upgraded connections (websockets) are copied both ways unbuffered.
//
// # HTTPS
//
// With Options.TLS set, certificates for the routes' exact domains are
// obtained and renewed through ACME by certmagic (HTTP-01 answered on the
// HTTP listener, TLS-ALPN-01 on the HTTPS one). Uploaded certificates
// (AddCertificate) take priority over ACME for the names they cover.
// Wildcard domains would need the DNS-01 challenge, which kaj does not do:
// they are served only with an uploaded certificate.
//
// # Caveats
//
// The router is the edge: X-Forwarded-For, X-Forwarded-Proto,
// X-Forwarded-Host and Forwarded sent by clients are replaced, never
// trusted. A Router is safe for concurrent use.
package router

package router

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultDrainTimeout is how long Drain waits when Options.DrainTimeout is
// zero: long enough for ordinary requests and most downloads, short enough
// that a deploy does not hang on a client that never finishes.
const DefaultDrainTimeout = 30 * time.Second

// Options configure a Router. The zero value serves plain HTTP for
// <app>.localhost with the defaults below.
type Options struct {
	// Suffix gives every app the host <app>.<Suffix>. Empty means
	// "localhost", which browsers and curl resolve to loopback.
	Suffix string

	// DrainTimeout bounds Drain. Zero means DefaultDrainTimeout.
	DrainTimeout time.Duration

	// DefaultApp is served for hosts no route names. Empty means kaj's
	// own 404 page.
	DefaultApp string

	// Logger receives the router's own events (not the access log). Nil
	// means slog.Default().
	Logger *slog.Logger

	// AccessLog, when set, is called once per request after it ended. It
	// runs on the request's goroutine: it must be quick and must not keep
	// the Entry's strings beyond what it copies.
	AccessLog func(Entry)

	// Metrics, when set, receives the router's Prometheus collectors.
	Metrics prometheus.Registerer

	// TLS, when set, obtains certificates through ACME. Nil means no ACME;
	// an HTTPS listener then serves uploaded certificates only.
	TLS *TLSOptions

	// Transport sends requests to upstreams. Nil means a transport tuned
	// for a reverse proxy (keep-alive, many idle connections per upstream,
	// HTTP/1.1, no transparent compression). Tests may set their own.
	Transport http.RoundTripper
}

// TLSOptions configure automatic certificates through ACME.
type TLSOptions struct {
	// StorageDir is where certificates, keys and the ACME account are
	// kept (certmagic's file storage), under kaj's data directory. It
	// must be backed up with it. Required.
	StorageDir string

	// Email is the ACME account's contact, told of expiry problems.
	Email string

	// CA is the ACME directory URL. Empty means Let's Encrypt's
	// production directory; LetsEncryptStaging selects its staging one.
	CA string

	// CARoots, when set, is the only trust for the ACME server's own
	// HTTPS certificate (Pebble's in tests). Nil means the system roots.
	CARoots *x509.CertPool

	// AltHTTPPort and AltTLSALPNPort are the ports the router's HTTP and
	// HTTPS listeners use when they are not 80 and 443, so that
	// challenges are known to be answered there. Zero means 80 and 443.
	AltHTTPPort, AltTLSALPNPort int

	// DisableHTTPChallenge and DisableTLSALPNChallenge turn off one
	// challenge type, e.g. when port 80 is closed by a firewall.
	DisableHTTPChallenge, DisableTLSALPNChallenge bool

	// OnEvent, when set, is told of every change of a domain's
	// certificate state (obtaining, obtained, failed, renewed), so that
	// kaj can record it and notify. It runs on certmagic's goroutines
	// and must return quickly.
	OnEvent func(ctx context.Context, host string, state CertState)
}

// ACME directories kaj knows by name.
const (
	LetsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStaging    = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	mclient "github.com/moby/moby/client"
)

// The kinds of failure a caller can act on. Operations return them wrapped
// in an *Error (which names the registry) and a short phrase saying what
// was being done; match them with errors.Is, and use errors.As with *Error
// for the registry and, for ErrRateLimited, when to retry.
var (
	// ErrInvalidReference: the image reference cannot be parsed.
	ErrInvalidReference = errors.New("invalid image reference")
	// ErrBadCredentials: the registry rejected the credentials kaj sent.
	ErrBadCredentials = errors.New("bad credentials")
	// ErrAuthRequired: the registry wants credentials and none are known
	// for it.
	ErrAuthRequired = errors.New("authentication required")
	// ErrDenied: the credentials are valid but may not do this (HTTP 403).
	ErrDenied = errors.New("access denied")
	// ErrUnknownRepository: the registry has no such repository.
	ErrUnknownRepository = errors.New("unknown repository")
	// ErrUnknownTag: the repository has no such tag or digest.
	ErrUnknownTag = errors.New("unknown tag or digest")
	// ErrNoMatchingPlatform: the reference names an index without an
	// image for the wanted platform.
	ErrNoMatchingPlatform = errors.New("no image for this platform")
	// ErrRateLimited: the registry answered 429; Error.RetryAfter says
	// when to try again when the registry said so.
	ErrRateLimited = errors.New("rate limited")
	// ErrTLS: the TLS handshake with the registry failed (untrusted or
	// mismatched certificate, or a plain-HTTP server on a TLS port).
	ErrTLS = errors.New("TLS failure")
	// ErrDNS: the registry's host name does not resolve.
	ErrDNS = errors.New("DNS failure")
	// ErrUnavailable: the registry refused the connection, timed out or
	// kept failing with 5xx answers after the retries.
	ErrUnavailable = errors.New("registry unavailable")
	// ErrPlainHTTP: the registry would need plain HTTP, which kaj only
	// uses for loopback hosts and hosts listed in Options.Insecure.
	ErrPlainHTTP = errors.New("plain HTTP not allowed")
	// ErrEngineUnreachable: the Docker Engine does not answer.
	ErrEngineUnreachable = errors.New("docker engine unreachable")
	// ErrNoEngine: the operation needs the Docker Engine and the Client
	// was made without one.
	ErrNoEngine = errors.New("no docker engine configured")
	// ErrLocalImageNotFound: the engine has no image by that name or ID.
	ErrLocalImageNotFound = errors.New("no such image in the engine")
	// ErrEngine: the engine reported a failure of its own (in its JSON
	// stream or its API answer).
	ErrEngine = errors.New("docker engine error")
)

// Error is a failure of a registry or engine operation. Its Kind is one of
// the sentinel errors above, so errors.Is(err, ErrBadCredentials) holds for
// an *Error of that kind.
type Error struct {
	// Kind is one of the package's sentinel errors.
	Kind error
	// Registry is the registry host ("index.docker.io", "127.0.0.1:5000");
	// empty for engine errors.
	Registry string
	// User is the user name sent, for ErrBadCredentials and ErrDenied.
	User string
	// RetryAfter is how long the registry asked to wait, for
	// ErrRateLimited; zero when it did not say.
	RetryAfter time.Duration
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Registry != "" {
		fmt.Fprintf(&b, "registry %s: ", e.Registry)
	}
	b.WriteString(e.Kind.Error())
	switch e.Kind {
	case ErrBadCredentials:
		fmt.Fprintf(&b, " for user %q; check the username and password saved for it", e.User)
	case ErrAuthRequired:
		b.WriteString("; save credentials for it on the Registries page")
	case ErrDenied:
		if e.User != "" {
			fmt.Fprintf(&b, " for user %q", e.User)
		}
		b.WriteString("; the account lacks permission for this repository")
	case ErrRateLimited:
		if e.RetryAfter > 0 {
			fmt.Fprintf(&b, "; retry after %s", e.RetryAfter.Round(time.Second))
		} else {
			b.WriteString("; retry later")
		}
	case ErrTLS:
		b.WriteString("; if the registry serves plain HTTP on purpose, list it as insecure")
	case ErrDNS:
		b.WriteString("; check the host name")
	case ErrPlainHTTP:
		b.WriteString("; list the registry as insecure to allow it")
	case ErrEngineUnreachable:
		b.WriteString("; is the engine running and DOCKER_HOST right?")
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %s", withoutRequest(e.Err.Error()))
	}
	return b.String()
}

// requestPrefix is how go-containerregistry and net/http start an error:
// "GET https://host/v2/...: ". The message already names the registry
// once; the URL would repeat it.
var requestPrefix = regexp.MustCompile(`(?:(?:GET|HEAD|POST|PUT|PATCH|DELETE) )?"?https?://[^\s:"]+(?::\d+)?[^\s"]*"?: `)

func withoutRequest(s string) string { return requestPrefix.ReplaceAllString(s, "") }

// Is reports whether target is the error's Kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

func (e *Error) Unwrap() error { return e.Err }

// rateLimitError is what the transport returns in place of a 429 answer:
// go-containerregistry's errors keep no headers, and Retry-After is in one.
type rateLimitError struct {
	retryAfter time.Duration
	body       string
}

func (e *rateLimitError) Error() string {
	if e.body != "" {
		return "429 Too Many Requests: " + e.body
	}
	return "429 Too Many Requests"
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date (RFC 9110 section 10.2.3). Zero means absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// errPlainHTTPRefused is returned by the transport for a plain-HTTP
// request to a host that may not have one.
var errPlainHTTPRefused = errors.New("refusing plain HTTP")

// classify turns an error from go-containerregistry or the network into an
// *Error naming host. user is the user name sent, "" for anonymous.
// Context errors pass through untouched: they are the caller's doing.
func classify(host, user string, err error) error {
	if err == nil {
		return nil
	}
	var own *Error
	if errors.As(err, &own) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	e := &Error{Registry: host, Err: err}
	var (
		rl      *rateLimitError
		terr    *transport.Error
		dnsErr  *net.DNSError
		unknown x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invalid x509.CertificateInvalidError
		verify  *tls.CertificateVerificationError
		record  tls.RecordHeaderError
		alert   tls.AlertError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &rl):
		e.Kind, e.RetryAfter = ErrRateLimited, rl.retryAfter
	case errors.As(err, &dnsErr):
		e.Kind = ErrDNS
	case errors.As(err, &unknown), errors.As(err, &hostErr), errors.As(err, &invalid),
		errors.As(err, &verify):
		e.Kind = ErrTLS
	case errors.Is(err, errPlainHTTPRefused):
		// Before the handshake errors: a server that is not speaking TLS
		// and a refused plain-HTTP fallback mean the registry is plain
		// HTTP, and the remedy is to list it as insecure.
		e.Kind = ErrPlainHTTP
	case errors.As(err, &record), errors.As(err, &alert):
		e.Kind = ErrTLS
	case errors.As(err, &terr):
		e.Kind = kindOfStatus(terr, user)
		if e.Kind == nil {
			return err
		}
		if e.Kind == ErrBadCredentials || e.Kind == ErrDenied {
			e.User = user
		}
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.As(err, &netErr) && netErr.Timeout():
		e.Kind = ErrUnavailable
	default:
		return err
	}
	return e
}

// kindOfStatus reads a registry's error answer; nil when it is none of
// the kinds above.
func kindOfStatus(terr *transport.Error, user string) error {
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.NameUnknownErrorCode:
			return ErrUnknownRepository
		case transport.ManifestUnknownErrorCode:
			return ErrUnknownTag
		case transport.TooManyRequestsErrorCode:
			return ErrRateLimited
		case transport.DeniedErrorCode:
			if terr.StatusCode == http.StatusUnauthorized && user == "" {
				return ErrAuthRequired
			}
			return ErrDenied
		}
	}
	switch code := terr.StatusCode; {
	case code == http.StatusUnauthorized:
		if user == "" {
			return ErrAuthRequired
		}
		return ErrBadCredentials
	case code == http.StatusForbidden:
		return ErrDenied
	case code == http.StatusNotFound:
		// A 404 without a body (HEAD) cannot say which; the tag is the
		// likelier one to be wrong.
		return ErrUnknownTag
	case code == http.StatusTooManyRequests:
		return ErrRateLimited
	case code >= 500 || code == http.StatusRequestTimeout:
		return ErrUnavailable
	}
	return nil
}

// engineError turns an engine client error into an *Error when it says the
// engine is unreachable or the image is missing; anything else is wrapped
// as ErrEngine.
func engineError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var own *Error
	if errors.As(err, &own) {
		return err
	}
	if mclient.IsErrConnectionFailed(err) {
		return &Error{Kind: ErrEngineUnreachable, Err: err}
	}
	if cerrdefs.IsNotFound(err) {
		return &Error{Kind: ErrLocalImageNotFound, Err: err}
	}
	return &Error{Kind: ErrEngine, Err: err}
}

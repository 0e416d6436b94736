package router

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Defaults for a Route's zero fields.
const (
	// DefaultMaxBodyBytes bounds a request body when Route.MaxBodyBytes is
	// zero: large enough for form uploads, small enough that one client
	// cannot tie up an app with an endless body.
	DefaultMaxBodyBytes int64 = 32 << 20

	// DefaultTimeout is how long the router waits for an upstream's
	// response headers when Route.Timeout is zero.
	DefaultTimeout = 60 * time.Second
)

// Route sends an app's hosts to the upstreams serving it.
type Route struct {
	// App is the app's name, a DNS label; it also gives the host
	// <App>.<Options.Suffix>.
	App string

	// Domains are the app's hosts besides <App>.<Options.Suffix>.
	Domains []Domain

	// Upstreams are the addresses ("10.1.2.3:5000") of the containers
	// serving the app. Empty means the app is stopped or deploying for the
	// first time: its hosts answer 503 with Retry-After.
	Upstreams []string

	// HTTPSRedirect sends plain-HTTP requests to the same URL over HTTPS
	// with 308, when the router serves HTTPS. ACME challenges are exempt.
	HTTPSRedirect bool

	// MaxBodyBytes bounds a request's body; beyond it the client gets 413.
	// Zero means DefaultMaxBodyBytes; negative means no limit.
	MaxBodyBytes int64

	// Timeout bounds the wait for an upstream's response headers; beyond
	// it the client gets 504. Zero means DefaultTimeout. The body that
	// follows has no time limit, so streams may last.
	Timeout time.Duration
}

// Domain is one host an app answers on, optionally only under a path.
type Domain struct {
	// Host is an exact name ("blog.example.com") or a wildcard of one
	// label ("*.example.com", which matches a.example.com but neither
	// example.com nor a.b.example.com). Case does not matter.
	Host string

	// PathPrefix, when set ("/api"), limits the domain to that path and
	// the paths below it ("/api", "/api/users", not "/apix").
	PathPrefix string
}

// ValidateDomain reports whether host can be given as a Domain's Host: a
// DNS name of at least two labels, or "*." followed by one. The error says
// what is wrong and what to write instead.
func ValidateDomain(host string) error {
	_, err := normalizeHost(host)
	return err
}

// normalizeHost validates host and returns it lowercased.
func normalizeHost(host string) (string, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("domain %q: %s: %w", host, fmt.Sprintf(format, a...), ErrInvalidDomain)
	}
	h := strings.ToLower(strings.TrimSpace(host))
	switch {
	case h == "":
		return "", bad("it is empty; write a host name such as \"blog.example.com\"")
	case strings.Contains(h, "://"):
		return "", bad("remove the scheme; write the host name only, such as \"blog.example.com\"")
	case strings.ContainsAny(h, "/?#"):
		return "", bad("write the host name only; a path goes in the domain's path prefix")
	case strings.Contains(h, ":"):
		if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			return "", bad("IP addresses cannot be routed by name; use a DNS name that resolves to this host")
		}
		return "", bad("remove the port; kaj serves every domain on its own HTTP and HTTPS ports")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return "", bad("IP addresses cannot be routed by name; use a DNS name that resolves to this host")
	}
	h = strings.TrimSuffix(h, ".")
	name := h
	if strings.HasPrefix(h, "*.") {
		name = h[2:]
	}
	if len(h) > 253 {
		return "", bad("it is longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		if strings.HasPrefix(h, "*.") {
			return "", bad("a wildcard must cover a domain of two labels or more, such as \"*.example.com\"")
		}
		return "", bad("use a full name with a dot, such as \"blog.example.com\"")
	}
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return "", bad("%s", err)
		}
	}
	return h, nil
}

// checkLabel checks one DNS label (RFC 1123: letters, digits, hyphens, not
// at either end, 1 to 63 characters).
func checkLabel(l string) error {
	switch {
	case l == "":
		return fmt.Errorf("it has an empty label (two dots in a row, or a dot at an end)")
	case l == "*":
		return fmt.Errorf("a wildcard is allowed only as the whole first label, as in \"*.example.com\"")
	case len(l) > 63:
		return fmt.Errorf("label %q is longer than 63 characters", l)
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("label %q has %q; use letters, digits and hyphens (write internationalized names in their xn-- form)", l, c)
		}
	}
	return nil
}

// normalizePrefix validates a path prefix and returns it without a
// trailing slash; "" and "/" both mean the whole host.
func normalizePrefix(p string) (string, error) {
	if p == "" || p == "/" {
		return "", nil
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("path prefix %q: start it with a slash, such as \"/api\": %w", p, ErrInvalidDomain)
	case strings.ContainsAny(p, "?#*"), strings.Contains(p, "//"), strings.Contains(p, ".."):
		return "", fmt.Errorf("path prefix %q: write a plain path such as \"/api\", without query, fragment, wildcard, \"..\" or \"//\": %w", p, ErrInvalidDomain)
	}
	return strings.TrimSuffix(p, "/"), nil
}

// validateApp checks that an app name is a DNS label, so that
// <app>.<suffix> is a valid host.
func validateApp(app string) error {
	if err := checkLabel(app); err != nil || strings.ToLower(app) != app {
		return fmt.Errorf("app name %q must be a lowercase DNS label (letters, digits, hyphens): %w", app, ErrInvalidRoute)
	}
	return nil
}

// validateUpstream checks an upstream address is host:port.
func validateUpstream(app, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host == "" {
		err = fmt.Errorf("missing host")
	}
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
			err = fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
	}
	if err != nil {
		return fmt.Errorf("app %q: upstream %q is not host:port (%v): %w", app, addr, err, ErrInvalidRoute)
	}
	return nil
}

package router

import "errors"

// Errors returned by the router. Match them with errors.Is: they come
// wrapped with the name of the app, domain or upstream concerned.
var (
	// ErrInvalidDomain is returned by ValidateDomain, SetRoute and
	// SetRoutes for a host name or path prefix that cannot be routed.
	ErrInvalidDomain = errors.New("invalid domain")

	// ErrInvalidRoute is returned by SetRoute and SetRoutes for a route
	// whose app name or upstream address is malformed.
	ErrInvalidRoute = errors.New("invalid route")

	// ErrDomainTaken is returned by SetRoute and SetRoutes when a host and
	// path prefix is already routed to another app.
	ErrDomainTaken = errors.New("domain already used by another app")

	// ErrDrainTimeout is returned by Drain when requests were still in
	// flight to the upstream when the drain timeout ended.
	ErrDrainTimeout = errors.New("drain timed out")

	// ErrStillRouted is returned by Drain for an upstream that a route
	// still sends requests to: draining it would never end.
	ErrStillRouted = errors.New("upstream still routed")

	// ErrInvalidCertificate is returned by AddCertificate for a PEM pair
	// that does not parse, does not match, or names no host.
	ErrInvalidCertificate = errors.New("invalid certificate")
)

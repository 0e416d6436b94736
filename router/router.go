package router

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Router is kaj's front door. Build it with New, give it the routes with
// SetRoutes before it serves, then change them with SetRoute and
// RemoveRoute while it serves. It is safe for concurrent use.
type Router struct {
	opts   Options
	log    *slog.Logger
	suffix string

	table atomic.Pointer[table]

	mu  sync.Mutex           // serializes table changes and ups
	ups map[string]*upstream // every address a table or a drain holds

	proxy   *httputil.ReverseProxy
	metrics *metrics
	unknown *appMetrics // requests no route matched

	certs *certStore // uploaded certificates
	acme  *acmeState // nil without Options.TLS

	pool *connPool // the default transport; nil when Options.Transport is set

	httpsPort atomic.Int32 // set by Serve; 0 = no HTTPS listener
	now       func() time.Time
}

var _ http.Handler = (*Router)(nil)

// New returns a Router with no routes; every host answers 404 until
// SetRoutes is called. It fails when a metrics collector cannot be
// registered or the TLS options are unusable.
func New(opts Options) (*Router, error) {
	if opts.Suffix == "" {
		opts.Suffix = "localhost"
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	suffix := strings.Trim(strings.ToLower(opts.Suffix), ".")
	if err := validateSuffix(suffix); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Metrics)
	if err != nil {
		return nil, err
	}
	r := &Router{
		opts:    opts,
		log:     opts.Logger.With("component", "router"),
		suffix:  suffix,
		ups:     make(map[string]*upstream),
		metrics: m,
		unknown: m.forApp(""),
		certs:   newCertStore(),
		now:     time.Now,
	}
	pt := &proxyTransport{r: r, base: opts.Transport}
	if pt.base == nil {
		// The pool bounds every route's wait for response headers
		// itself, so no request costs a timer.
		r.pool = newConnPool()
		pt.base, pt.ownTimeouts = r.pool, true
	}
	r.proxy = &httputil.ReverseProxy{
		Rewrite:   rewrite,
		Transport: pt,
		// Zero, not -1: ReverseProxy already flushes every write of
		// server-sent events and of bodies of unknown length (streams),
		// while -1 would also cost every response a timer goroutine and
		// a separate write for its headers.
		FlushInterval: 0,
		BufferPool:    bufferPool{},
		ErrorHandler:  r.proxyError,
		ErrorLog:      slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
	empty, _ := buildTable(map[string]*appRoute{}, opts.DefaultApp)
	r.table.Store(empty)
	if opts.TLS != nil {
		if r.acme, err = newACME(r, *opts.TLS); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func validateSuffix(s string) error {
	for _, l := range strings.Split(s, ".") {
		if err := checkLabel(l); err != nil {
			return fmt.Errorf("router suffix %q: %v: %w", s, err, ErrInvalidDomain)
		}
	}
	return nil
}

// SetRoutes replaces the whole routing table, as at start, before the
// router serves. It fails, changing nothing, when a route is invalid or
// two apps claim the same host and path prefix.
func (r *Router) SetRoutes(routes []Route) error {
	apps := make(map[string]*appRoute, len(routes))
	for _, rt := range routes {
		if _, dup := apps[rt.App]; dup {
			return fmt.Errorf("app %q has two routes: %w", rt.App, ErrInvalidRoute)
		}
		ar, err := r.newAppRoute(rt)
		if err != nil {
			return err
		}
		apps[rt.App] = ar
	}
	return r.swap(func(map[string]*appRoute) map[string]*appRoute { return apps })
}

// SetRoute adds or replaces one app's route. Requests already sent to an
// upstream it drops finish there; see Drain. It fails, changing nothing,
// when the route is invalid or a domain is another app's (ErrDomainTaken).
func (r *Router) SetRoute(rt Route) error {
	ar, err := r.newAppRoute(rt)
	if err != nil {
		return err
	}
	return r.swap(func(old map[string]*appRoute) map[string]*appRoute {
		apps := maps.Clone(old)
		apps[rt.App] = ar
		return apps
	})
}

// RemoveRoute removes an app's route; its hosts answer 404 (or the
// default app). Removing an unknown app does nothing.
func (r *Router) RemoveRoute(app string) {
	_ = r.swap(func(old map[string]*appRoute) map[string]*appRoute {
		apps := maps.Clone(old)
		delete(apps, app)
		return apps
	})
	r.metrics.forget(app)
}

// swap builds the table change makes from the current apps and stores it.
func (r *Router) swap(change func(map[string]*appRoute) map[string]*appRoute) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	apps := change(r.table.Load().apps)
	for _, ar := range apps {
		if ar.resolved {
			continue // published already: readers share it
		}
		for i, u := range ar.ups {
			ar.ups[i] = r.upstreamLocked(u.addr)
		}
		ar.resolved = true
	}
	t, err := buildTable(apps, r.opts.DefaultApp)
	if err != nil {
		return err
	}
	r.table.Store(t)
	r.pruneLocked(t)
	if r.acme != nil {
		r.acme.manage(t)
	}
	return nil
}

// upstreamLocked returns the shared state for addr, so that counts of
// requests in flight survive route changes.
func (r *Router) upstreamLocked(addr string) *upstream {
	u, ok := r.ups[addr]
	if !ok {
		u = newUpstream(addr)
		r.ups[addr] = u
	}
	return u
}

// pruneLocked forgets addresses no route names and nothing uses.
func (r *Router) pruneLocked(t *table) {
	for addr, u := range r.ups {
		if t.routedAnywhere(addr) {
			continue
		}
		u.mu.Lock()
		unused := u.inflight == 0 && len(u.hijacked) == 0
		u.mu.Unlock()
		if unused {
			delete(r.ups, addr)
		}
	}
}

// newAppRoute validates and normalizes a route. Its upstreams are
// placeholders that swap replaces with the shared ones.
func (r *Router) newAppRoute(rt Route) (*appRoute, error) {
	if err := validateApp(rt.App); err != nil {
		return nil, err
	}
	ar := &appRoute{Route: rt, metrics: r.metrics.forApp(rt.App)}
	ar.Domains = nil
	seen := map[Domain]bool{}
	add := func(d Domain) {
		if !seen[d] {
			seen[d] = true
			ar.hosts = append(ar.hosts, d)
		}
	}
	add(Domain{Host: rt.App + "." + r.suffix})
	for _, d := range rt.Domains {
		host, err := normalizeHost(d.Host)
		if err != nil {
			return nil, fmt.Errorf("app %q: %w", rt.App, err)
		}
		prefix, err := normalizePrefix(d.PathPrefix)
		if err != nil {
			return nil, fmt.Errorf("app %q: domain %q: %w", rt.App, d.Host, err)
		}
		nd := Domain{Host: host, PathPrefix: prefix}
		if !seen[nd] {
			ar.Domains = append(ar.Domains, nd)
		}
		add(nd)
	}
	addrs := map[string]bool{}
	ar.Upstreams = nil
	for _, addr := range rt.Upstreams {
		if err := validateUpstream(rt.App, addr); err != nil {
			return nil, err
		}
		if !addrs[addr] {
			addrs[addr] = true
			ar.Upstreams = append(ar.Upstreams, addr)
			ar.ups = append(ar.ups, &upstream{addr: addr})
		}
	}
	if ar.MaxBodyBytes == 0 {
		ar.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if ar.Timeout <= 0 {
		ar.Timeout = DefaultTimeout
	}
	return ar, nil
}

// Routes returns the current routes, normalized, in no particular order.
func (r *Router) Routes() []Route {
	t := r.table.Load()
	out := make([]Route, 0, len(t.apps))
	for _, ar := range t.apps {
		out = append(out, ar.Route)
	}
	return out
}

package router

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// appRoute is a validated Route with the state its requests share. It is
// never changed after it is put in a table, except for the round-robin
// counter.
type appRoute struct {
	Route
	hosts   []Domain // normalized, including <app>.<suffix>
	ups     []*upstream
	next    atomic.Uint32 // round-robin position
	metrics *appMetrics

	resolved bool // ups are the router's shared upstreams; set before publishing
}

// binding is one host's path prefix and the app it leads to.
type binding struct {
	prefix string
	app    *appRoute
}

// table is an immutable routing table. A new one replaces it whole.
type table struct {
	apps  map[string]*appRoute
	exact map[string][]binding // host → bindings, longest prefix first
	wild  map[string][]binding // "example.com" for "*.example.com"
	def   *appRoute            // Options.DefaultApp when it has a route
}

// buildTable indexes apps and reports a host and prefix claimed by two
// apps. Apps are visited by name so that the error is the same every time.
func buildTable(apps map[string]*appRoute, defaultApp string) (*table, error) {
	t := &table{
		apps:  apps,
		exact: make(map[string][]binding),
		wild:  make(map[string][]binding),
		def:   apps[defaultApp],
	}
	owner := make(map[Domain]string)
	names := make([]string, 0, len(apps))
	for name := range apps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ar := apps[name]
		for _, d := range ar.hosts {
			if other, ok := owner[d]; ok {
				if other == name {
					continue
				}
				where := d.Host + d.PathPrefix
				return nil, fmt.Errorf("app %q: %q is already routed to app %q; remove it there first: %w", name, where, other, ErrDomainTaken)
			}
			owner[d] = name
			m, key := t.exact, d.Host
			if strings.HasPrefix(d.Host, "*.") {
				m, key = t.wild, d.Host[2:]
			}
			m[key] = append(m[key], binding{prefix: d.PathPrefix, app: ar})
		}
	}
	for _, m := range []map[string][]binding{t.exact, t.wild} {
		for _, bs := range m {
			slices.SortFunc(bs, func(a, b binding) int { return len(b.prefix) - len(a.prefix) })
		}
	}
	return t, nil
}

// match finds the app for a canonical host and a path: exact host, then
// wildcard, then the default app. Nil means no app.
func (t *table) match(host, path string) *appRoute {
	if ar := matchPrefix(t.exact[host], path); ar != nil {
		return ar
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		if ar := matchPrefix(t.wild[host[i+1:]], path); ar != nil {
			return ar
		}
	}
	return t.def
}

func matchPrefix(bs []binding, path string) *appRoute {
	for _, b := range bs {
		p := b.prefix
		if p == "" || strings.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/') {
			return b.app
		}
	}
	return nil
}

// routed reports whether addr is one of app's upstreams in this table.
func (t *table) routed(app string, u *upstream) bool {
	ar := t.apps[app]
	return ar != nil && slices.Contains(ar.ups, u)
}

// routedAnywhere reports whether any app sends requests to addr.
func (t *table) routedAnywhere(addr string) bool {
	for _, ar := range t.apps {
		for _, u := range ar.ups {
			if u.addr == addr {
				return true
			}
		}
	}
	return false
}

// pick chooses the next upstream round-robin, skipping skip and those
// cooling off after a failure. When all are cooling off it takes one
// anyway: trying beats a certain error page. Nil means none is left.
func (ar *appRoute) pick(now time.Time, skip *upstream) *upstream {
	n := uint32(len(ar.ups))
	if n == 0 {
		return nil
	}
	start := ar.next.Add(1)
	var fallback *upstream
	for i := range n {
		u := ar.ups[(start+i)%n]
		if u == skip {
			continue
		}
		if !u.coolingOff(now) {
			return u
		}
		if fallback == nil {
			fallback = u
		}
	}
	return fallback
}

// canonicalHost turns a Host header into a table key: port removed,
// lowercase, no trailing dot.
func canonicalHost(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[1:i]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

package apps

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/router"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// FrontDoor joins the router to the apps: each app's route carries the
// domains of its definition and the upstreams the deploy pipeline
// switches it to. It implements deploy.Router and Routes, and is safe for
// concurrent use.
type FrontDoor struct {
	r    *router.Router
	st   *store.Store
	opts FrontDoorOptions

	mu  sync.Mutex
	ups map[string][]string // app -> the upstreams serving it
}

var (
	_ deploy.Router = (*FrontDoor)(nil)
	_ Routes        = (*FrontDoor)(nil)
)

// FrontDoorOptions say how the router is reached and what a route gets.
type FrontDoorOptions struct {
	// Suffix gives every app <app>.<Suffix>.
	Suffix string
	// HTTPPort and HTTPSPort are the router's ports, for the apps'
	// URLs; HTTPSPort is zero without HTTPS.
	HTTPPort, HTTPSPort int
	// HTTPSRedirect sends plain-HTTP visitors of a domain to HTTPS.
	HTTPSRedirect bool
	MaxBodyBytes  int64
	Timeout       time.Duration
}

// NewFrontDoor returns a FrontDoor for r; call Rebuild before the router
// serves.
func NewFrontDoor(r *router.Router, st *store.Store, opts FrontDoorOptions) *FrontDoor {
	return &FrontDoor{r: r, st: st, opts: opts, ups: map[string][]string{}}
}

// Serve points app's route at ups, the deploy pipeline's switch, and
// returns what served before.
func (f *FrontDoor) Serve(app string, ups []string) ([]string, error) {
	a, err := f.st.App(app)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	prev := f.ups[app]
	if err := f.r.SetRoute(f.route(a, ups)); err != nil {
		return nil, err
	}
	f.ups[app] = slices.Clone(ups)
	return prev, nil
}

// Drain lets requests to a replaced upstream finish.
func (f *FrontDoor) Drain(ctx context.Context, upstream string) error {
	return f.r.Drain(ctx, upstream)
}

// Sync gives a's route its current domains and settings, keeping the
// upstreams serving it.
func (f *FrontDoor) Sync(a store.App) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r.SetRoute(f.route(a, f.ups[a.Name]))
}

// Remove forgets a deleted app's route: its hosts answer 404.
func (f *FrontDoor) Remove(app string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.ups, app)
	f.r.RemoveRoute(app)
}

// URLs are a's addresses: <app>.<suffix> on the router's HTTP port, then
// each exact domain, over HTTPS when the router serves it.
func (f *FrontDoor) URLs(a store.App) []string {
	out := []string{"http://" + a.Name + "." + f.opts.Suffix + port(f.opts.HTTPPort, 80)}
	for _, d := range a.Domains {
		if strings.HasPrefix(d, "*.") {
			continue // a wildcard names no one address
		}
		if f.opts.HTTPSPort != 0 {
			out = append(out, "https://"+hostWithPort(d, port(f.opts.HTTPSPort, 443)))
		} else {
			out = append(out, "http://"+hostWithPort(d, port(f.opts.HTTPPort, 80)))
		}
	}
	return out
}

// hostWithPort puts the port between a domain's host and its path prefix.
func hostWithPort(domain, port string) string {
	host, path, _ := strings.Cut(domain, "/")
	if path != "" {
		return host + port + "/" + path
	}
	return host + port
}

func port(p, def int) string {
	if p == 0 || p == def {
		return ""
	}
	return ":" + strconv.Itoa(p)
}

func (f *FrontDoor) route(a store.App, ups []string) router.Route {
	redirect := f.opts.HTTPSRedirect
	if a.Proxy.HTTPSRedirect != nil {
		redirect = *a.Proxy.HTTPSRedirect
	}
	rt := router.Route{
		App: a.Name, Upstreams: slices.Clone(ups), HTTPSRedirect: redirect && f.opts.HTTPSPort != 0,
		MaxBodyBytes: cmp.Or(a.Proxy.MaxBodyBytes, f.opts.MaxBodyBytes), Timeout: cmp.Or(a.Proxy.Timeout.D(), f.opts.Timeout),
	}
	for _, d := range a.Domains {
		host, path, _ := strings.Cut(d, "/")
		dom := router.Domain{Host: host}
		if path != "" {
			dom.PathPrefix = "/" + path
		}
		rt.Domains = append(rt.Domains, dom)
	}
	return rt
}

// Rebuild makes the routing table from the store and the engine, before
// the router accepts traffic: every app gets its route, served by its
// live release's container when that runs. Containers is the engine's
// list of kaj's containers; a nil list (the engine down) leaves every
// app answering 503 until its next start or deploy.
func (f *FrontDoor) Rebuild(ctx context.Context, containers []runtime.Status) error {
	var (
		all  []store.App
		live = map[string]store.Release{}
	)
	err := f.st.View(func(tx *store.Tx) (err error) {
		if all, err = tx.Apps(); err != nil {
			return err
		}
		for _, a := range all {
			rels, err := tx.Releases(a.Name, 0)
			if err != nil {
				return err
			}
			for _, r := range rels {
				if r.Status == store.ReleaseLive {
					live[a.Name] = r
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	routes := make([]router.Route, 0, len(all))
	for _, a := range all {
		var ups []string
		if rel, ok := live[a.Name]; ok {
			port := a.Port
			if rel.Definition != nil {
				port = rel.Definition.Port
			}
			for _, c := range containers {
				if c.App == a.Name && c.ID == rel.ContainerID && c.State == "running" {
					if up := deploy.Upstream(c.Container, port); up != "" {
						ups = append(ups, up)
					}
				}
			}
		}
		f.ups[a.Name] = ups
		routes = append(routes, f.route(a, ups))
	}
	if err := f.r.SetRoutes(routes); err != nil {
		return fmt.Errorf("building the routes: %w", err)
	}
	return nil
}

// Listen opens a router listener, saying what to do when the address is
// taken or needs privileges.
func Listen(addr, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("router: listening for %s on %s: %w (another program holds the port, or ports below 1024 need root or CAP_NET_BIND_SERVICE; change router.listen or router.https_listen)", what, addr, err)
	}
	return ln, nil
}

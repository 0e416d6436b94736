package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// On a swarm kaj's router reaches each app task on the port its node
// publishes for it (host mode, a port the node picks): kaj runs on the
// manager's host and cannot join an overlay network, and the swarm's own
// routing mesh would hide which task answers and defeat the drain. A
// follower per app keeps the route on the tasks that run, that swarm
// means to keep, and that passed kaj's health check once; a task swarm
// is about to stop leaves the route and is drained at once.

// follower keeps one app's route on its healthy tasks. Safe for
// concurrent use.
type follower struct {
	mu      sync.Mutex
	healthy map[string]bool // task ID: passed kaj's health check
	tasks   []runtime.Task
	routed  []string
	known   bool   // routed is what the router has
	problem string // the last problem reported loudly, reported once
}

func (d *Deployer) follower(app string) *follower {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.followers == nil {
		d.followers = map[string]*follower{}
	}
	f, ok := d.followers[app]
	if !ok {
		f = &follower{healthy: map[string]bool{}}
		d.followers[app] = f
	}
	return f
}

// refresh reads a's tasks, checks the health of those not checked yet,
// and points the route at the healthy ones that swarm keeps; the
// upstreams it leaves are drained in the background. When none is left,
// a task on its way out still serves rather than none.
func (f *follower) refresh(ctx context.Context, d *Deployer, a store.App, _ string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ts, err := d.opts.Cluster.Tasks(ctx, a.Name)
	if err != nil {
		return f.routed, err
	}
	f.tasks = ts
	seen := map[string]bool{}
	var serving, leaving []string
	for _, t := range ts {
		if t.Role != runtime.RoleApp {
			continue
		}
		seen[t.ID] = true
		if t.State != "running" || !t.HostPort.IsValid() {
			continue
		}
		up := t.HostPort.String()
		if !f.healthy[t.ID] && t.Desired == "running" {
			if err := d.probe(ctx, up, a); err == nil {
				f.healthy[t.ID] = true
			}
		}
		if !f.healthy[t.ID] {
			continue
		}
		if t.Desired == "running" {
			serving = append(serving, up)
		} else {
			leaving = append(leaving, up)
		}
	}
	for id := range f.healthy {
		if !seen[id] {
			delete(f.healthy, id)
		}
	}
	ups := serving
	if len(ups) == 0 {
		ups = leaving
	}
	slices.Sort(ups)
	if d.opts.Router == nil || (f.known && slices.Equal(ups, f.routed)) {
		return ups, nil
	}
	prev, err := d.opts.Router.Serve(a.Name, ups)
	if err != nil {
		return f.routed, fmt.Errorf("pointing the route of %s at its tasks: %w", a.Name, err)
	}
	f.routed, f.known = ups, true
	for _, p := range prev {
		if !slices.Contains(ups, p) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := d.opts.Router.Drain(ctx, p); err != nil {
					d.log.Warn("draining a task leaving the route", "app", a.Name, "upstream", p, "err", err)
				}
			}()
		}
	}
	return ups, nil
}

// newHealthy counts release's tasks created since that run and passed
// the check, and names their nodes. The tasks' times are the manager's:
// kaj runs beside it, on one clock.
func (f *follower) newHealthy(release string, since time.Time) (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	var nodes []string
	for _, t := range f.tasks {
		if t.Role == runtime.RoleApp && t.Release == release && t.Serving() && f.healthy[t.ID] && !t.Created.Before(since) {
			n++
			if !slices.Contains(nodes, t.Node) {
				nodes = append(nodes, t.Node)
			}
		}
	}
	slices.Sort(nodes)
	return n, nodes
}

// failed lists release's tasks that failed, with swarm's reason.
func (f *follower) failed(release string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, t := range f.tasks {
		if t.Role == runtime.RoleApp && t.Release == release && (t.State == "failed" || t.State == "rejected") {
			out[t.ID] = strings.TrimSpace(fmt.Sprintf("on %s: %s %s", t.Node, t.Message, t.Err))
		}
	}
	return out
}

// probe is kaj's health check of one task at its published address: the
// app's health path answering 2xx or 3xx, or without one, the port
// answering HTTP below 500 (or accepting TCP).
func (d *Deployer) probe(ctx context.Context, addr string, a store.App) error {
	if d.opts.Probe != nil {
		return d.opts.Probe(ctx, addr, a.HealthPath)
	}
	timeout := a.Health.Timeout.D()
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	return HTTPProbe(ctx, addr, a.HealthPath, timeout)
}

// HTTPProbe checks addr ("10.0.0.2:30001") as kaj's health check does.
func HTTPProbe(ctx context.Context, addr, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p := path
	if p == "" {
		p = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+p, nil)
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		if path == "" {
			// Not HTTP, maybe: a port that accepts is enough then.
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				if c, derr := (&net.Dialer{}).DialContext(ctx, "tcp", addr); derr == nil {
					c.Close()
					return nil
				}
			}
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case path != "" && resp.StatusCode >= 400:
		return fmt.Errorf("GET %s answered %d", p, resp.StatusCode)
	case resp.StatusCode >= 500:
		return fmt.Errorf("GET / answered %d", resp.StatusCode)
	}
	return nil
}

// FollowSwarm keeps every app's route on its healthy tasks until ctx
// ends, looking every interval (zero means a second): tasks that swarm
// moves, restarts or stops join and leave the route. A database task
// that cannot be placed because the node holding its volume is down is
// logged as an error and recorded as an event, once per cause.
func (d *Deployer) FollowSwarm(ctx context.Context, every time.Duration) {
	if d.opts.Cluster == nil {
		return
	}
	if every <= 0 {
		every = time.Second
	}
	for {
		d.followOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (d *Deployer) followOnce(ctx context.Context) {
	all, err := d.st.Apps()
	if err != nil {
		d.log.Warn("listing apps to follow their tasks", "err", err)
		return
	}
	for _, a := range all {
		if ctx.Err() != nil {
			return
		}
		if d.Busy(a.Name) {
			continue // the operation follows its own tasks
		}
		f := d.follower(a.Name)
		if _, err := f.refresh(ctx, d, a, ""); err != nil {
			d.log.Warn("following an app's tasks", "app", a.Name, "err", err)
			continue
		}
		d.checkStranded(ctx, a, f)
	}
}

// checkStranded reports, once per cause, a database task that swarm
// cannot place.
func (d *Deployer) checkStranded(ctx context.Context, a store.App, f *follower) {
	if a.Database == nil {
		return
	}
	f.mu.Lock()
	ts := slices.Clone(f.tasks)
	f.mu.Unlock()
	problem := ""
	for _, t := range ts {
		if t.Role == runtime.RoleDB {
			if why := d.opts.Cluster.PendingReason(ctx, t, a.Database.Volume); why != "" {
				problem = why
				break
			}
		}
	}
	f.mu.Lock()
	changed := problem != f.problem
	f.problem = problem
	f.mu.Unlock()
	if !changed || problem == "" {
		return
	}
	d.log.Error("database stranded", "app", a.Name, "problem", problem)
	if _, err := d.st.AddEvent(store.Event{Actor: "kaj", Action: store.ActionDBStranded, Target: a.Name, Detail: problem}); err != nil {
		d.log.Warn("recording a stranded database", "app", a.Name, "err", err)
	}
}

// Problem is what kaj has to say loudly about app on a swarm: a database
// that cannot be placed, and what to do; "" when nothing.
func (d *Deployer) Problem(app string) string {
	if d.opts.Cluster == nil {
		return ""
	}
	f := d.follower(app)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.problem
}

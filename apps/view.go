package apps

import (
	"cmp"
	"net/netip"
	"strconv"
	"time"

	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// States of an app and of its database.
const (
	StateDeploying  = "deploying"
	StateRunning    = "running"
	StateHealthy    = "healthy"
	StateStarting   = "starting"
	StateUnhealthy  = "unhealthy"
	StateRestarting = "restarting"
	StatePaused     = "paused"
	StateStopped    = "stopped"
	StateFailed     = "failed"
	StateNew        = "not deployed"
	StateMissing    = "missing"
	// StateUnknown: the engine did not answer, so nothing is known.
	StateUnknown = "unknown"
)

// Container is one of an app's containers as kaj shows it.
type Container struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Role    string `json:"role"`
	Release string `json:"release,omitempty"`
	Image   string `json:"image"`
	// State and Health are the engine's; Status says both in words.
	State    string `json:"state"`
	Health   string `json:"health,omitempty"`
	Status   string `json:"status"`
	Restarts int    `json:"restarts"`
	ExitCode int    `json:"exit_code"`
	// HostPort is where the container is published on the host; empty
	// when it is not (apps behind the router, databases).
	HostPort string `json:"host_port,omitempty"`
	// Address is the container's address on its app network.
	Address string `json:"address,omitempty"`
	// Serving is true for the container of the live release.
	Serving bool `json:"serving"`
	// StartedAt is when it last started; zero when never.
	StartedAt time.Time `json:"started_at,omitzero"`
}

func containerOf(s runtime.Status) Container {
	c := Container{
		ID: s.ID, Name: s.Name, Role: string(s.Role), Release: s.Release, Image: s.Image, State: s.State,
		Health: s.Health, Status: s.String(), Restarts: s.RestartCount, ExitCode: s.ExitCode, StartedAt: s.StartedAt,
	}
	if s.HostPort.IsValid() {
		hp := s.HostPort
		if hp.Addr().IsUnspecified() {
			// Published on every address: loopback reaches it from here.
			hp = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), hp.Port())
		}
		c.HostPort = hp.String()
	}
	if s.IP.IsValid() {
		c.Address = s.IP.String()
	}
	return c
}

// View is an app with what is known about it now: its definition, its
// releases, its containers and the state they add up to. It is computed
// by one function, NewView, for the API, the websockets and the pages.
type View struct {
	store.App
	// Containers are the app's, app containers first.
	Containers []Container `json:"containers"`
	// Busy is true while a deploy or another operation runs.
	Busy bool `json:"busy"`
	// Live is the release serving; Last the newest. Nil when none.
	Live *store.Release `json:"live,omitempty"`
	Last *store.Release `json:"last,omitempty"`
	// State is one of the State constants; StateText says more.
	State     string `json:"state"`
	StateText string `json:"state_text"`
	// DBState and DBText are the database container's, empty without a
	// database.
	DBState string `json:"db_state,omitempty"`
	DBText  string `json:"db_text,omitempty"`
	// URL is where visitors reach the app: its stable router address, or,
	// without a router, the live container's published port. Empty while
	// nothing serves.
	URL string `json:"url,omitempty"`
	// URLs are all its addresses: the router's own and its domains.
	URLs []string `json:"urls,omitempty"`
	// Since is when the serving container started.
	Since time.Time `json:"since,omitzero"`
	// Routed is true when kaj's router fronts the app (its access log is
	// then a log source too).
	Routed bool `json:"routed"`
	// Certificates are the states of its domains' certificates.
	Certificates []DomainCert `json:"certificates,omitempty"`
	// LastBackup is the state of its newest backup; nil when none.
	LastBackup *BackupState `json:"last_backup,omitempty"`
	// EngineError says why the states are unknown and Containers empty:
	// the engine did not answer (or is known not to). Empty when it did.
	EngineError string `json:"engine_error,omitempty"`
	// Problem is what needs a person now, said with what to do: on a
	// swarm, a database that cannot be placed because the node holding
	// its volume is down. Empty when nothing.
	Problem string `json:"problem,omitempty"`
}

// problems is a Deployer that knows of trouble outside any operation.
type problems interface {
	Problem(app string) string
}

// withProblem adds what d knows is wrong with v's app to v: a stranded
// database is the database's state.
func withProblem(d Deployer, v *View) {
	p, ok := d.(problems)
	if !ok {
		return
	}
	if v.Problem = p.Problem(v.Name); v.Problem != "" && v.Database != nil {
		v.DBState, v.DBText = StateFailed, v.Problem
	}
}

// NewView works out an app's state. cs are the app's containers,
// releases its releases newest first; engineOK is false when the engine
// did not answer, so the absence of containers means nothing. urls are
// the app's stable addresses (nil without a router).
func NewView(a store.App, cs []runtime.Status, releases []store.Release, busy, engineOK bool, urls []string) View {
	v := View{App: a, Busy: busy, Containers: []Container{}, Routed: urls != nil}
	if len(releases) > 0 {
		v.Last = &releases[0]
	}
	for i := range releases {
		if releases[i].Status == store.ReleaseLive {
			v.Live = &releases[i]
			break
		}
	}
	var app, newest, db *Container
	for _, s := range cs {
		if s.App != a.Name {
			continue
		}
		c := containerOf(s)
		// On a swarm the live release names its service: every task of
		// that release serves.
		if v.Live != nil && c.Role == string(runtime.RoleApp) && (c.ID == v.Live.ContainerID ||
			s.Service != "" && s.Service == v.Live.ContainerID && c.Release == strconv.FormatUint(v.Live.Number, 10)) {
			c.Serving = true
		}
		v.Containers = append(v.Containers, c)
	}
	for i := range v.Containers {
		c := &v.Containers[i]
		switch {
		case c.Serving:
			app = c
		case c.Role == string(runtime.RoleApp):
			if newest == nil || atoi(c.Release) > atoi(newest.Release) {
				newest = c
			}
		case db == nil:
			db = c
		}
	}
	if app == nil && v.Live == nil {
		// Before any release served, the newest container says most.
		app = newest
	}
	switch {
	case busy:
		v.State, v.StateText = StateDeploying, "a deploy or operation is running"
	case !engineOK:
		v.State, v.StateText = StateUnknown, "the Docker Engine did not answer"
	case app != nil:
		v.State, v.StateText = containerState(*app), cmp.Or(app.Status, app.State)
	case v.Live != nil:
		v.State, v.StateText = StateMissing, "its containers are gone; deploy to recreate them"
	case v.Last != nil && v.Last.Status == store.ReleaseFailed:
		v.State, v.StateText = StateFailed, "the last deploy failed: "+v.Last.Error
	default:
		v.State, v.StateText = StateNew, "deploy it to start it"
	}
	// Only the live release's running container serves visitors: never
	// one still being checked, however new.
	if app != nil && app.Serving && app.State == "running" {
		v.Since = app.StartedAt
		switch {
		case len(urls) > 0:
			v.URL, v.URLs = urls[0], urls
		case app.HostPort != "":
			v.URL = hostPortURL(a.Name, app.HostPort)
			v.URLs = []string{v.URL}
		}
	} else if len(urls) > 0 {
		v.URLs = urls // where it will answer; nothing serves there now
	}
	if a.Database != nil {
		switch {
		case !engineOK:
			v.DBState, v.DBText = StateUnknown, "the Docker Engine did not answer"
		case db == nil:
			v.DBState, v.DBText = StateMissing, "no database container; the next deploy creates it"
		default:
			v.DBState, v.DBText = containerState(*db), cmp.Or(db.Status, db.State)
		}
	}
	return v
}

// hostPortURL is the link to an app published on a host port. A port
// on loopback is linked as <app>.localhost, which browsers resolve to
// loopback: never as 127.0.0.1 or localhost, the dashboard's own host,
// whose cookies the browser would send along (cookies are not kept
// apart by port).
func hostPortURL(app, hostPort string) string {
	ap, err := netip.ParseAddrPort(hostPort)
	if err != nil || !ap.Addr().IsLoopback() {
		return "http://" + hostPort
	}
	return "http://" + app + ".localhost:" + strconv.Itoa(int(ap.Port()))
}

func containerState(c Container) string {
	switch c.State {
	case "running":
		switch c.Health {
		case "healthy":
			return StateHealthy
		case "unhealthy":
			return StateUnhealthy
		case "starting":
			return StateStarting
		}
		return StateRunning
	case "restarting":
		return StateRestarting
	case "paused":
		return StatePaused
	case "created", "exited", "dead", "removing":
		return StateStopped
	}
	return StateUnknown
}

// BadgeClass is the CSS class of a state's badge: ok, warn, bad or off.
func BadgeClass(state string) string {
	switch state {
	case StateRunning, StateHealthy, store.ReleaseLive, "succeeded", "valid":
		return "ok"
	case StateDeploying, StateStarting, StateRestarting, StatePaused, store.ReleasePending:
		return "warn"
	case StateUnhealthy, StateFailed, StateMissing, store.ReleaseInterrupted, "canceled", "error":
		return "bad"
	}
	return "off"
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

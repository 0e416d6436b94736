package dashboard

import (
	"cmp"
	"strconv"
	"time"

	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/dockerfile"
	"github.com/kajhq/kaj/store"
)

// Base is what every page shows around its content.
type Base struct {
	// User is who is logged in; empty on pages shown to strangers (login,
	// errors), which then have no navigation.
	User string
	// CSRF is the session's token; the scripts send it with every change.
	CSRF string
	// Nav is the active navigation entry: apps, images, registries, lint,
	// tokens, users, events or account.
	Nav     string
	Version string
}

// States of an app and its database, as the dashboard names them.
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

// Container is one of an app's containers.
type Container struct {
	ID      string
	Name    string
	Role    string // app or db
	Release string // app containers: the release they run
	Image   string
	// State and Health are the engine's; Status says both in words.
	State    string
	Health   string
	Status   string
	Restarts int
	ExitCode int
	HostPort string
	// StartedAt is when it last started; zero when never.
	StartedAt time.Time
}

// AppRow is an app with what is known about it now: the apps list shows
// one per line, the app page one at the top.
type AppRow struct {
	Name     string
	Image    string
	Template string
	// State is one of the State constants; StateText says more (exit
	// code, restarts).
	State     string
	StateText string
	// Database is the app's database; DBState and DBText its container's
	// state, empty when the app has none.
	Database *store.Database
	DBState  string
	DBText   string
	// Last is the newest release, Live the one serving; nil when none.
	Last *store.Release
	Live *store.Release
	// URL is where the app answers; empty while it is not running.
	URL string
	// Since is when the app container started, while it runs.
	Since time.Time
	Busy  bool
	// Containers are the app's, app containers first.
	Containers []Container
}

// NewAppRow works out an app's state from its containers (the app's own,
// app containers first, as the deployer lists them) and its releases,
// newest first. engineOK is false when the engine did not answer, so the
// absence of containers means nothing.
func NewAppRow(a store.App, cs []Container, releases []store.Release, busy, engineOK bool) AppRow {
	r := AppRow{Name: a.Name, Image: a.Image, Template: a.Template, Database: a.Database, Busy: busy, Containers: cs}
	if len(releases) > 0 {
		r.Last = &releases[0]
	}
	for i := range releases {
		if releases[i].Status == store.ReleaseLive {
			r.Live = &releases[i]
			break
		}
	}
	var app, db *Container
	for i := range cs {
		c := &cs[i]
		if c.Role == "app" {
			if app == nil || atoi(c.Release) > atoi(app.Release) {
				app = c
			}
		} else if db == nil {
			db = c
		}
	}
	switch {
	case busy:
		r.State, r.StateText = StateDeploying, "a deploy or operation is running"
	case !engineOK:
		r.State, r.StateText = StateUnknown, "the Docker Engine did not answer"
	case app != nil:
		r.State, r.StateText = containerState(*app), cmp.Or(app.Status, app.State)
		if app.State == "running" {
			r.Since = app.StartedAt
			if app.HostPort != "" {
				r.URL = "http://" + app.HostPort
			}
		}
	case r.Live != nil:
		r.State, r.StateText = StateMissing, "its containers are gone; deploy to recreate them"
	case r.Last != nil && r.Last.Status == store.ReleaseFailed:
		r.State, r.StateText = StateFailed, "the last deploy failed: "+r.Last.Error
	default:
		r.State, r.StateText = StateNew, "deploy it to start it"
	}
	if a.Database != nil {
		switch {
		case !engineOK:
			r.DBState, r.DBText = StateUnknown, "the Docker Engine did not answer"
		case db == nil:
			r.DBState, r.DBText = StateMissing, "no database container; the next deploy creates it"
		default:
			r.DBState, r.DBText = containerState(*db), cmp.Or(db.Status, db.State)
		}
	}
	return r
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
	case StateRunning, StateHealthy, store.ReleaseLive, "succeeded":
		return "ok"
	case StateDeploying, StateStarting, StateRestarting, StatePaused, store.ReleasePending:
		return "warn"
	case StateUnhealthy, StateFailed, StateMissing, store.ReleaseInterrupted, "canceled":
		return "bad"
	}
	return "off"
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// LoginPage is the login form.
type LoginPage struct {
	Base
	Next     string
	Username string
	Error    string
	// FirstStart is true while the only user is the first admin with the
	// password kaj generated; the page then explains where to find it.
	FirstStart bool
	// PasswordFile is where that password is, when known.
	PasswordFile string
}

// AppsPage lists the apps.
type AppsPage struct {
	Base
	Apps []AppRow
	// EngineError says why the engine did not answer; states are then
	// unknown.
	EngineError string
}

// AppPage is one app.
type AppPage struct {
	Base
	App      store.App
	Row      AppRow
	Releases []store.Release
	// Job is a deploy of this app that is running now, to follow.
	Job         string
	EngineError string
}

// NewAppPage offers the template gallery and the form for an image.
type NewAppPage struct {
	Base
	Templates []catalog.Template
	// DatabaseKinds are the engines a database can use.
	DatabaseKinds []string
}

// Image is a local image.
type Image struct {
	ID      string
	Tags    []string
	Digests []string
	Size    int64
	Created time.Time
}

// ImagesPage lists local images and pushes them.
type ImagesPage struct {
	Base
	Images []Image
	// Hosts are the registries kaj has credentials for, offered as push
	// targets.
	Hosts []string
	Error string
}

// RegistriesPage manages registry credentials.
type RegistriesPage struct {
	Base
	Credentials []store.Credential
}

// Example is a Dockerfile the lint page offers to check.
type Example struct {
	ID         string
	Title      string
	Dockerfile string
}

// LintPage checks Dockerfiles.
type LintPage struct {
	Base
	Examples  []Example
	Rules     []dockerfile.Rule
	Threshold string
}

// TokensPage manages API tokens.
type TokensPage struct {
	Base
	Tokens []store.Token
}

// User is a user as the users page shows them.
type User struct {
	Name      string
	Role      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Me        bool
}

// UsersPage lists and adds users.
type UsersPage struct {
	Base
	Users  []User
	MinLen int
}

// EventsPage is the audit trail, newest first.
type EventsPage struct {
	Base
	Events []store.Event
	// Older is the cursor for the next page; zero when this is the last.
	Older uint64
	// Paged is true when this is not the newest page, so live events
	// would land out of place.
	Paged bool
}

// AccountPage changes the user's password.
type AccountPage struct {
	Base
	Error     string
	Field     string
	Changed   bool
	ExpiresAt time.Time
	MinLen    int
}

// ErrorPage explains a failed page request.
type ErrorPage struct {
	Base
	Code    int
	Message string
	Detail  string
}

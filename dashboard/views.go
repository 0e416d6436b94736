package dashboard

import (
	"time"

	"github.com/kajhq/kaj/apps"
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
	// Role is the user's role; CanDeploy and IsAdmin say what the page
	// offers (the server refuses the rest whatever the page shows).
	Role      string
	CanDeploy bool
	IsAdmin   bool
	// ChangePassword asks the first admin to replace the generated
	// password.
	ChangePassword bool
	// Swarm shows the Nodes entry: kaj's engine is a swarm manager.
	Swarm bool
}

// AppRow is an app as the pages show it: the apps layer's one read
// model, so the pages, the API and the websockets agree.
type AppRow = apps.View

// Container is one of an app's containers.
type Container = apps.Container

// BadgeClass is the CSS class of a state's badge: ok, warn, bad or off.
func BadgeClass(state string) string { return apps.BadgeClass(state) }

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

// Usage is a container's latest CPU and memory reading.
type Usage struct {
	CPU    float64
	Memory int64
}

// AppsPage lists the apps.
type AppsPage struct {
	Base
	Apps []AppRow
	// Usage is the serving container's latest reading by app name, for
	// the apps someone watches; the page's script keeps them watched.
	Usage map[string]Usage
	// EngineError says why the engine did not answer; states are then
	// unknown.
	EngineError string
}

// AppPage is one app.
type AppPage struct {
	Base
	App      store.App
	Row      AppRow
	Releases []apps.ReleaseView
	// Job is a deploy of this app that is running now, to follow.
	Job string
	// Xterm is true when the host has xterm.js to serve for the
	// terminal; otherwise the page uses kaj's line console.
	Xterm bool
	// XtermWhy says why xterm.js is not used.
	XtermWhy    string
	EngineError string
	// WebhookURL is the app's push webhook as the browser reaches kaj;
	// empty for an app without a repository.
	WebhookURL string
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
	Disabled  bool
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

// NotificationsPage lists where kaj sends notifications.
type NotificationsPage struct {
	Base
	Targets []store.NotifyTarget
	Kinds   []string
}

// NodesPage lists the swarm's nodes. On an engine that is no swarm
// manager, Manager is false and Message says why and what to do.
type NodesPage struct {
	Base
	Manager bool
	State   string
	Message string
	Nodes   []Node
	// JoinCommand is the worker join command with its token masked;
	// shown to admins, who may reveal the token.
	JoinCommand string
	// Error says why the engine did not answer.
	Error string
}

// Node is one node of the swarm.
type Node struct {
	ID, Hostname, Role, State, Message, Availability, Addr string
	EngineVersion, OS, Arch                                string
	CPUs                                                   float64
	Memory                                                 int64
	Labels                                                 map[string]string
	Leader                                                 bool
	Reachability                                           string
	Self                                                   bool
}

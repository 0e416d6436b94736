// Package deploy turns app definitions into running containers: it
// orchestrates the registry, the runtime and the store through the
// pipeline resolve → pull → network → database → wait → start → health →
// switch → record, and the operations around it (rollback, stop, start,
// restart, delete, reconcile).
//
// A failed deploy leaves the previous release serving, records why, and
// removes what the failed attempt created. Only one deploy of an app runs
// at a time; a second one gets ErrBusy. Deploys of different apps run in
// parallel.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/redact"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// ErrBusy means another deploy or operation of the same app is running.
var ErrBusy = errors.New("another operation on this app is running")

// ErrNotReady means kaj has not yet made its view of the engine whole
// (see Options.Ready): no operation may change the engine before.
var ErrNotReady = errors.New("kaj is still starting")

// Runtime is what deploy uses of the container engine.
type Runtime interface {
	EnsureNetwork(ctx context.Context, app string, labels map[string]string) (string, error)
	EnsureDatabase(ctx context.Context, spec runtime.DatabaseSpec) (runtime.Container, error)
	WaitDatabase(ctx context.Context, db runtime.Container, opts runtime.WaitOptions) error
	StartApp(ctx context.Context, spec runtime.AppSpec) (runtime.Container, error)
	WaitHealthy(ctx context.Context, app runtime.Container, opts runtime.HealthOptions) error
	Start(ctx context.Context, id string) error
	Stop(ctx context.Context, id string, grace time.Duration) error
	Restart(ctx context.Context, id string, grace time.Duration) error
	Remove(ctx context.Context, id string, deleteData bool) error
	RemoveApp(ctx context.Context, app string, deleteData bool) error
	List(ctx context.Context, app string) ([]runtime.Status, error)
	ListAll(ctx context.Context, labels map[string]string) ([]runtime.Status, error)
	Reconcile(ctx context.Context, known func(app, release string) bool) ([]runtime.Object, error)
	RemoveObject(ctx context.Context, o runtime.Object) error
}

// Images is what deploy uses to get an app's image into the engine.
type Images interface {
	// Local returns the engine's image for ref, or an error matching
	// registry.ErrLocalImageNotFound when the engine does not have it.
	Local(ctx context.Context, ref string) (*registry.LocalImage, error)
	// Resolve asks the registry which image ref names now.
	Resolve(ctx context.Context, ref string) (*registry.Image, error)
	Pull(ctx context.Context, ref string, progress registry.ProgressFunc) (*registry.PullResult, error)
}

var _ Runtime = (*runtime.Docker)(nil)

// Namer is a runtime that tells the engine names of an app's objects,
// which carry this kaj's instance.
type Namer interface {
	Names(app string) runtime.Names
}

var _ Namer = (*runtime.Docker)(nil)

// Names are the engine names of app's network, database container and
// default volume, as the runtime gives them.
func (d *Deployer) Names(app string) runtime.Names {
	if n, ok := d.rt.(Namer); ok {
		return n.Names(app)
	}
	return runtime.NamesFor("", app)
}

// Router is what deploy uses of the front door: it points an app's route
// at the containers that serve it, and lets a replaced one finish its
// requests before it is removed.
type Router interface {
	// Serve points app's route at upstreams ("10.0.3.2:5000")
	// atomically and returns the upstreams it served before; none means
	// the app is not serving (503).
	Serve(app string, upstreams []string) (previous []string, err error)
	// Drain waits until no request to upstream is in flight, up to the
	// router's drain timeout, then closes the upgraded connections left.
	Drain(ctx context.Context, upstream string) error
}

// Options tune a Deployer.
type Options struct {
	// DatabaseAlias is the host name apps reach their database by.
	DatabaseAlias string
	// PublishIP is the host address app ports are published on.
	PublishIP       netip.Addr
	DatabaseTimeout time.Duration
	HealthTimeout   time.Duration
	StopTimeout     time.Duration
	// KeepReleases bounds each app's release history.
	KeepReleases int
	// Labels are added to everything deploy creates (tests mark theirs).
	Labels map[string]string
	// Backoff spaces readiness probes; zero means the runtime's default.
	Backoff runtime.Backoff
	// StableFor is the stability window a new container must run
	// without a restart; zero means the runtime's default, negative none.
	// Where the replaced containers can stay up meanwhile, the release
	// goes live at the first passing check and the window runs after it
	// (see watch).
	StableFor time.Duration
	// Reverted, when set, is told of a release (or a restart) that went
	// live and was reverted when its container failed the stability
	// window, with a title and the details.
	Reverted func(app, title, detail string)
	// Restored, when set, is given the app once a rollback's definition
	// went back on it after the stability window, for what follows the
	// definition (the route's domains and settings).
	Restored func(a store.App)
	// Router is the front door; nil means apps are reached on their
	// published ports only.
	Router Router
	// Observe, when set, is told of every finished deploy: "live" or
	// "failed", and how long it took (for metrics).
	Observe func(result string, took time.Duration)
	// Snapshot, when set, backs up the database of an app whose
	// definition asks for it as a deploy's first step (see StepSnapshot).
	Snapshot Snapshotter
	// Ready, when set, is asked before an operation claims an app; an
	// error (matching ErrNotReady) refuses the operation. kaj refuses
	// them until its start-up reconcile with the engine is done.
	Ready func() error
	// Cluster, when set, is the Docker Swarm kaj's engine manages: apps
	// deploy as services (see Cluster) and the route follows their
	// tasks.
	Cluster Cluster
	// PushTo is the registry repository prefix where an image only the
	// manager has is pushed for a swarm's other nodes; see shipImage.
	PushTo string
	// Probe, when set, replaces kaj's HTTP health check of a swarm task
	// at its published address (tests).
	Probe  func(ctx context.Context, addr, path string) error
	Logger *slog.Logger
}

// Deployer runs deploys. It is safe for concurrent use.
type Deployer struct {
	st   *store.Store
	rt   Runtime
	img  Images
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	busy      map[string]bool
	watching  map[string]*watch
	followers map[string]*follower
}

// New returns a Deployer.
func New(st *store.Store, rt Runtime, img Images, opts Options) *Deployer {
	if opts.DatabaseAlias == "" {
		opts.DatabaseAlias = runtime.DefaultAlias
	}
	if !opts.PublishIP.IsValid() {
		opts.PublishIP = netip.MustParseAddr("127.0.0.1")
	}
	if opts.KeepReleases == 0 {
		opts.KeepReleases = 20
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Deployer{st: st, rt: rt, img: img, opts: opts, log: opts.Logger, busy: map[string]bool{}}
}

// lock claims app for one operation, or fails with ErrBusy. A release's
// watch (see watch) holds the app too, for a second or so: lock waits
// for it to end rather than refusing.
func (d *Deployer) lock(app string) (func(), error) {
	if d.opts.Ready != nil {
		if err := d.opts.Ready(); err != nil {
			return nil, err
		}
	}
	for {
		if err := d.waitWatch(app); err != nil {
			return nil, err
		}
		d.mu.Lock()
		if d.watching[app] == nil {
			break
		}
		d.mu.Unlock()
	}
	defer d.mu.Unlock()
	if d.busy[app] {
		return nil, fmt.Errorf("app %q: %w: wait for it to finish, or cancel it", app, ErrBusy)
	}
	d.busy[app] = true
	return func() {
		d.mu.Lock()
		delete(d.busy, app)
		d.mu.Unlock()
	}, nil
}

// Busy reports whether an operation on app is running. A release being
// watched is live, not busy: an operation waits for its watch in lock.
func (d *Deployer) Busy(app string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.busy[app]
}

// watched reports whether app's new release is being watched.
func (d *Deployer) watched(app string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.watching[app] != nil
}

// Step names, in pipeline order.
const (
	StepSnapshot = "snapshot"
	StepImage    = "image"
	StepNetwork  = "network"
	StepDatabase = "database"
	StepStart    = "start"
	StepHealth   = "health"
	StepSwitch   = "switch"
)

// run is one deploy in progress: it records steps on the release and
// reports them to emit.
type run struct {
	d   *Deployer
	rel store.Release
	// emit reports to the job, through red.
	emit jobs.Emit
	// red masks the app's secrets in everything the run records or
	// reports: an app may print them while it fails.
	red     *redact.Redactor
	started time.Time
	created []string // containers this attempt created, removed on failure
	stopped []string // serving containers stopped to free a fixed port, started again on failure
	// watch, when set, is the stability window to run once the release is
	// recorded live.
	watch *watch
}

// watchAfter starts the run's watch, if it has one, handing it the
// releases the run superseded.
func (d *Deployer) watchAfter(r *run, superseded []uint64) {
	if r.watch == nil {
		return
	}
	r.watch.superseded = superseded
	d.begin(r.watch)
	r.watch = nil
}

func (r *run) step(name string, fn func() (string, error)) error {
	start := time.Now().UTC()
	r.emit(jobs.Event{Type: jobs.TypeStep, Step: name, Status: jobs.StatusRunning})
	r.rel.Steps = append(r.rel.Steps, store.Step{Name: name, Status: jobs.StatusRunning, StartedAt: start})
	detail, err := fn()
	detail = r.red.String(detail)
	end := time.Now().UTC()
	s := &r.rel.Steps[len(r.rel.Steps)-1]
	s.FinishedAt = &end
	s.Detail = detail
	s.Status = jobs.StatusSucceeded
	if err != nil {
		err = r.red.Error(err)
		s.Status, s.Detail = jobs.StatusFailed, err.Error()
		r.emit(jobs.Event{Type: jobs.TypeStep, Step: name, Status: jobs.StatusFailed, Message: err.Error()})
		var we *runtime.WaitError
		if errors.As(err, &we) && len(we.Logs) > 0 {
			r.emit(jobs.Event{Type: jobs.TypeLog, Step: name, Message: "last log lines", Lines: we.Logs})
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	r.emit(jobs.Event{Type: jobs.TypeStep, Step: name, Status: jobs.StatusSucceeded, Message: detail})
	return nil
}

// Deploy deploys app's current definition as a new release. emit may be
// nil. On failure the previous release keeps serving and the returned
// release says why.
func (d *Deployer) Deploy(ctx context.Context, app, actor string, emit jobs.Emit) (store.Release, error) {
	return d.deploy(ctx, app, 0, actor, emit, nil)
}

// Rollback deploys an earlier release again: its image by digest and its
// env. to zero means the newest release before the live one that was
// live itself.
func (d *Deployer) Rollback(ctx context.Context, app string, to uint64, actor string, emit jobs.Emit) (store.Release, error) {
	rels, err := d.st.Releases(app, 0)
	if err != nil {
		return store.Release{}, err
	}
	if to, err = RollbackTarget(app, rels, to); err != nil {
		return store.Release{}, err
	}
	return d.deploy(ctx, app, to, actor, emit, nil)
}

// RollbackTarget checks a rollback of app to release to, given its
// releases newest first, and returns the release it returns to: to
// itself when it once served, or, for zero, the newest release before the
// live one that served. A rollback that cannot work is a
// *store.ValidationError on the field "release".
func RollbackTarget(app string, rels []store.Release, to uint64) (uint64, error) {
	seenLive := false
	for _, r := range rels {
		switch {
		case to != 0 && r.Number == to:
			if r.Status != store.ReleaseLive && r.Status != store.ReleaseSuperseded {
				return 0, &store.ValidationError{Field: "release", Msg: fmt.Sprintf("release %d %s; roll back to one that served", to, r.Status)}
			}
			return to, nil
		case to == 0 && r.Status == store.ReleaseLive:
			seenLive = true
		case to == 0 && seenLive && r.Status == store.ReleaseSuperseded:
			return r.Number, nil
		}
	}
	if to != 0 {
		return 0, &store.ValidationError{Field: "release", Msg: fmt.Sprintf("%s has no release %d", app, to)}
	}
	return 0, &store.ValidationError{Field: "release", Msg: "there is no earlier good release to roll back to"}
}

func (d *Deployer) deploy(ctx context.Context, app string, rollback uint64, actor string, emit jobs.Emit, build BuildFunc) (store.Release, error) {
	if emit == nil {
		emit = func(jobs.Event) {}
	}
	unlock, err := d.lockFor(ctx, app)
	if err != nil {
		return store.Release{}, err
	}
	defer unlock()

	var (
		a     store.App
		sec   store.AppSecrets
		rel   store.Release
		creds []string
	)
	err = d.st.Update(func(tx *store.Tx) (err error) {
		if a, err = tx.App(app); err != nil {
			return err
		}
		if sec, err = tx.RevealApp(app); err != nil {
			return err
		}
		if creds, err = registryPasswords(tx); err != nil {
			return err
		}
		if rel, err = tx.CreateRelease(store.Release{App: app, Rollback: rollback, CreatedBy: actor}); err != nil {
			return err
		}
		action, detail := store.ActionDeployStart, fmt.Sprintf("release %d", rel.Number)
		if rollback != 0 {
			action, detail = store.ActionRollback, fmt.Sprintf("release %d returns to release %d", rel.Number, rollback)
		}
		_, err = tx.AddEvent(store.Event{Actor: actor, Action: action, Target: app, Detail: detail})
		return err
	})
	if err != nil {
		return store.Release{}, err
	}
	started := time.Now()
	d.log.Info("deploy started", "app", app, "release", rel.Number, "rollback_of", rollback, "actor", actor)
	// The release runs the definition it recorded: the app's own for a
	// deploy, the earlier release's for a rollback.
	if rel.Definition != nil {
		a.Apply(*rel.Definition)
	}
	env := map[string]string{}
	if rollback != 0 {
		env, err = d.releaseEnv(app, rel)
		if err != nil {
			red := secretsOf(rel.Env, sec, env, creds)
			return d.fail(&run{d: d, rel: rel, emit: redacting(red, emit), red: red, started: started}, err)
		}
	} else {
		for _, e := range a.Env {
			env[e.Name] = e.Value
		}
		for k, v := range sec.Env {
			env[k] = v
		}
	}

	plain := a.Env
	if rollback != 0 {
		plain = rel.Env
	}
	red := secretsOf(plain, sec, env, creds)
	r := &run{d: d, rel: rel, emit: redacting(red, emit), red: red, started: started}
	if build != nil {
		if err := d.buildStep(ctx, r, &a, build); err != nil {
			return d.fail(r, err)
		}
	}
	pipeline := d.pipeline
	if d.opts.Cluster != nil {
		pipeline = d.swarmPipeline
	}
	if err := pipeline(ctx, r, a, sec, env); err != nil {
		return d.fail(r, err)
	}
	rel, superseded, err := d.succeed(r)
	if err != nil && r.watch != nil {
		// The route switched, but the store does not say so: the
		// containers it replaced take it back.
		r.watch.unrecorded = err
	}
	d.watchAfter(r, superseded)
	return rel, err
}

func (d *Deployer) releaseEnv(app string, rel store.Release) (map[string]string, error) {
	env := map[string]string{}
	for _, e := range rel.Env {
		env[e.Name] = e.Value
	}
	var secrets map[string]string
	err := d.st.View(func(tx *store.Tx) (err error) { secrets, err = tx.RevealRelease(app, rel.Number); return err })
	for k, v := range secrets {
		env[k] = v
	}
	return env, err
}

func (d *Deployer) pipeline(ctx context.Context, r *run, a store.App, sec store.AppSecrets, env map[string]string) error {
	if err := d.snapshot(ctx, r, a); err != nil {
		return err
	}
	image := r.rel.Image
	if r.rel.Rollback != 0 && r.rel.Digest != "" {
		image = r.rel.Digest
	}
	err := r.step(StepImage, func() (string, error) {
		ref, digest, detail, err := d.ensureImage(ctx, image, r.emit)
		if err == nil {
			image, r.rel.Digest = ref, digest
		}
		return detail, err
	})
	if err != nil {
		return err
	}
	if err := r.step(StepNetwork, func() (string, error) {
		_, err := d.rt.EnsureNetwork(ctx, a.Name, d.opts.Labels)
		return d.Names(a.Name).Network, err
	}); err != nil {
		return err
	}
	if a.Database != nil {
		spec := d.databaseSpec(a, sec.DatabasePassword)
		if err := r.step(StepDatabase, func() (string, error) {
			return d.ensureDatabase(ctx, r, spec)
		}); err != nil {
			return err
		}
		if err := addDatabaseEnv(env, spec, a.Database.URLScheme); err != nil {
			return err
		}
	}
	_, err = d.rollout(ctx, r, a, image, env)
	return err
}

// addDatabaseEnv adds what tells the app where its database is
// (DATABASE_URL, DB_HOST...) to env; a value the user set wins.
func addDatabaseEnv(env map[string]string, spec runtime.DatabaseSpec, urlScheme string) error {
	dbEnv, err := runtime.DatabaseEnv(spec, urlScheme)
	if err != nil {
		return err
	}
	for k, v := range dbEnv {
		if _, set := env[k]; !set {
			env[k] = v
		}
	}
	return nil
}

// rollout starts a container of a at image, waits until it passes its
// health check, switches the route to it and drains and removes the
// containers it replaces: the last three steps of a deploy, shared with a
// restart.
func (d *Deployer) rollout(ctx context.Context, r *run, a store.App, image string, env map[string]string) (runtime.Container, error) {
	var (
		c   runtime.Container
		ran time.Time // by when the new container was running
	)
	// A fixed host port leaves nothing warm to go back to: there the
	// window runs before the switch, inside the health check.
	watching := d.window() > 0 && a.HostPort == 0
	if err := r.step(StepStart, func() (string, error) {
		if a.HostPort != 0 {
			// A fixed host port cannot be held by two containers: the
			// serving one stops first (a short outage), and starts again
			// if the new one fails.
			if err := d.stopServing(ctx, r, a.Name); err != nil {
				return "", err
			}
		}
		var err error
		c, err = d.rt.StartApp(ctx, d.appSpec(a, r.rel.Number, image, env))
		if err != nil {
			return "", err
		}
		ran = time.Now()
		r.created = append(r.created, c.ID)
		r.rel.ContainerID = c.ID
		return c.Name, nil
	}); err != nil {
		return c, err
	}
	if err := r.step(StepHealth, func() (string, error) {
		opts := d.healthOptions(a)
		// A container this rollout started has no restart to excuse.
		opts.SinceCreated = true
		if watching {
			opts.StableFor = -1
		}
		err := d.rt.WaitHealthy(ctx, c, opts)
		if err != nil {
			return "", err
		}
		if opts.Path != "" {
			return fmt.Sprintf("GET %s answers on port %d", opts.Path, a.Port), nil
		}
		return fmt.Sprintf("port %d answers and the container stays up", a.Port), nil
	}); err != nil {
		return c, err
	}
	return c, r.step(StepSwitch, func() (string, error) {
		old, err := d.rt.List(ctx, a.Name)
		if err != nil && d.opts.Router != nil {
			return "", fmt.Errorf("listing the app's containers to switch the route: %w", err)
		}
		routed := ""
		var drain []string
		if d.opts.Router != nil {
			// The list has the new container's address as the engine
			// gave it at start. A route that cannot be switched fails
			// the deploy here, while the previous release still serves.
			for _, s := range old {
				if s.ID == c.ID {
					c = s.Container
				}
			}
			up := Upstream(c, a.Port)
			if up == "" {
				return "", fmt.Errorf("%s has no address on network %s to route to", c.Name, d.Names(a.Name).Network)
			}
			prev, err := d.opts.Router.Serve(a.Name, []string{up})
			if err != nil {
				return "", fmt.Errorf("switching the route to %s: %w", up, err)
			}
			routed, drain = "route switched to "+up+"; ", prev
		}
		// The new container serves: from here on nothing in this run
		// may take it down or fail the release. A previous container
		// that will not go is reported, and reconcile removes it later.
		r.created, r.stopped, r.rel.Stopped = nil, nil, nil
		unlisted := ""
		if err != nil {
			d.log.Warn("listing previous containers", "app", a.Name, "err", err)
			unlisted = "the previous containers could not be listed; they are removed on kaj's next start"
		}
		var replaced []runtime.Status
		for _, s := range old {
			if s.Role == runtime.RoleApp && s.ID != c.ID {
				replaced = append(replaced, s)
			}
		}
		// A container that has already run for the window while its
		// health check passed has nothing left to prove.
		if left := d.window() - time.Since(ran); watching && left > 0 {
			opts := d.healthOptions(a)
			opts.SinceCreated = true
			r.watch = &watch{app: a.Name, release: r.rel.Number, actor: r.rel.CreatedBy, c: c, up: Upstream(c, a.Port),
				prev: drain, old: replaced, opts: opts, red: r.red, started: r.started}
			kept := "stay up"
			if d.opts.Router != nil {
				kept = "stay up, unrouted,"
			}
			if unlisted != "" {
				return fmt.Sprintf("%s%s; %s runs its first %s watched", routed, unlisted, c.Name, d.window()), nil
			}
			return fmt.Sprintf("%sthe %d replaced container(s) %s while %s runs its first %s", routed, len(replaced), kept, c.Name, d.window()), nil
		}
		if unlisted != "" {
			return routed + unlisted, nil
		}
		return routed + d.retire(a.Name, Upstream(c, a.Port), drain, replaced), nil
	})
}

// cleanup removes the containers a failed attempt created and starts
// again those it stopped. It uses a fresh context: a canceled deploy
// still cleans up.
func (d *Deployer) cleanup(r *run) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range r.created {
		if err := d.rt.Remove(ctx, id, false); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			d.log.Warn("removing a failed deploy's container", "app", r.rel.App, "container", id, "err", err)
		}
	}
	for _, id := range r.stopped {
		if err := d.rt.Start(ctx, id); err != nil {
			d.log.Error("starting the previous release again", "app", r.rel.App, "container", id, "err", err)
		}
	}
	if len(r.rel.Stopped) > 0 {
		r.rel.Stopped = nil
		if err := d.recordStopped(r.rel.App, r.rel.Number, nil); err != nil {
			d.log.Warn("recording the previous release started again", "app", r.rel.App, "err", err)
		}
	}
}

// recordStopped notes on release n of app the serving containers a run
// stopped (nil once they serve again or are replaced), so a kaj killed
// meanwhile starts them again when it reconciles.
func (d *Deployer) recordStopped(app string, n uint64, ids []string) error {
	return d.st.Update(func(tx *store.Tx) error {
		cur, err := tx.Release(app, n)
		if err != nil {
			return err
		}
		cur.Stopped = ids
		_, err = tx.UpdateRelease(cur)
		return err
	})
}

// Upstream is where the router reaches an app container: its address on
// the app network and the app's port; "" while it has no address.
func Upstream(c runtime.Container, port int) string {
	if !c.IP.IsValid() || port == 0 {
		return ""
	}
	return netip.AddrPortFrom(c.IP, uint16(port)).String()
}

func (d *Deployer) healthOptions(a store.App) runtime.HealthOptions {
	return runtime.HealthOptions{
		Path: a.HealthPath, Port: a.Port, Timeout: d.opts.HealthTimeout, Backoff: d.backoff(a.Health.Interval.D()),
		ProbeTimeout: a.Health.Timeout.D(), Retries: a.Health.Retries, StartPeriod: a.Health.StartPeriod.D(),
		StableFor: d.opts.StableFor,
	}
}

// backoff is the probes' backoff, its cap lowered to the app's interval.
func (d *Deployer) backoff(interval time.Duration) runtime.Backoff {
	b := d.opts.Backoff
	if interval > 0 {
		b.Max = interval
	}
	return b
}

// ensureDatabase starts the app's database and waits until it accepts
// kaj's login. A database container running another image than the
// definition names is recreated on the same volume (a major version
// change is announced loudly: the server upgrades the data files, and
// going back needs a backup).
func (d *Deployer) ensureDatabase(ctx context.Context, r *run, spec runtime.DatabaseSpec) (string, error) {
	if _, _, _, err := d.ensureImage(ctx, spec.Image, r.emit); err != nil {
		return "", err
	}
	db, err := d.rt.EnsureDatabase(ctx, spec)
	if err != nil {
		return "", err
	}
	note := ""
	if db.Image != "" && db.Image != spec.Image {
		warn := fmt.Sprintf("the database image changes from %s to %s: recreating %s on the same volume %s", db.Image, spec.Image, db.Name, spec.Volume)
		if MajorChange(db.Image, spec.Image) {
			warn += "; this is a major version change: the server may upgrade the data files, and going back needs a backup"
		}
		r.emit(jobs.Event{Type: jobs.TypeLog, Step: StepDatabase, Message: warn})
		d.log.Warn("database image change", "app", spec.App, "from", db.Image, "to", spec.Image)
		if err := d.rt.Remove(ctx, db.ID, false); err != nil {
			return "", fmt.Errorf("removing %s to change its image: %w", db.Name, err)
		}
		if db, err = d.rt.EnsureDatabase(ctx, spec); err != nil {
			return "", err
		}
		if _, err := d.st.AddEvent(store.Event{Actor: r.rel.CreatedBy, Action: store.ActionDBImage, Target: spec.App, Detail: warn}); err != nil {
			return "", err
		}
		note = "; image changed to " + spec.Image
	}
	err = d.rt.WaitDatabase(ctx, db, runtime.WaitOptions{Timeout: d.opts.DatabaseTimeout, Backoff: d.opts.Backoff, User: spec.User, Password: spec.Password})
	return fmt.Sprintf("%s accepts connections as %s%s", db.Name, spec.Alias, note), err
}

// MajorChange reports whether two image references differ in their tag's
// major version ("mariadb:10.11" to "mariadb:11.4"), or name different
// repositories.
func MajorChange(from, to string) bool {
	split := func(ref string) (string, string) {
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			return ref[:i], ref[i+1:]
		}
		return ref, "latest"
	}
	fr, ft := split(from)
	tr, tt := split(to)
	if fr != tr {
		return true
	}
	major := func(tag string) string {
		m, _, _ := strings.Cut(tag, ".")
		return m
	}
	return major(ft) != major(tt)
}

// stopServing stops app's running app containers, remembering them so a
// failed deploy can start them again.
func (d *Deployer) stopServing(ctx context.Context, r *run, app string) error {
	cs, err := d.rt.List(ctx, app)
	if err != nil {
		return err
	}
	var serving []runtime.Status
	for _, s := range cs {
		if s.Role == runtime.RoleApp && s.State == "running" {
			serving = append(serving, s)
			r.rel.Stopped = append(r.rel.Stopped, s.ID)
		}
	}
	if len(serving) == 0 {
		return nil
	}
	// Written before the stop: a kaj killed between the two finds them
	// to start again.
	if err := d.recordStopped(app, r.rel.Number, r.rel.Stopped); err != nil {
		return fmt.Errorf("recording the containers to stop: %w", err)
	}
	for _, s := range serving {
		if err := d.rt.Stop(ctx, s.ID, d.opts.StopTimeout); err != nil {
			return fmt.Errorf("stopping %s to free its host port: %w", s.Name, err)
		}
		r.stopped = append(r.stopped, s.ID)
	}
	return nil
}

// ensureImage makes ref present and current in the engine and returns the
// reference to run, the digest to record and a detail line. An image only
// the engine has (built here) or one named by digest is used as it is; a
// tag that came from a registry is checked against it, so a deploy after
// a push runs the new image.
func (d *Deployer) ensureImage(ctx context.Context, ref string, emit jobs.Emit) (string, string, string, error) {
	local, err := d.img.Local(ctx, ref)
	switch {
	case err == nil && (pinned(ref) || len(local.Digests) == 0):
		digest := local.ID
		if len(local.Digests) > 0 {
			digest = local.Digests[0]
		}
		return local.ID, digest, "using the engine's " + ref, nil
	case err == nil:
		remote, rerr := d.img.Resolve(ctx, ref)
		if rerr != nil {
			emit(jobs.Event{Type: jobs.TypeLog, Step: StepImage, Message: "cannot ask the registry whether " + ref + " changed; deploying the engine's copy", Lines: []string{rerr.Error()}})
			return local.ID, local.Digests[0], "using the engine's " + ref + " (registry not reachable)", nil
		}
		for _, dg := range local.Digests {
			if strings.HasSuffix(dg, "@"+remote.Digest) {
				return local.ID, dg, "the engine's " + ref + " is current", nil
			}
		}
	case !errors.Is(err, registry.ErrLocalImageNotFound):
		return "", "", "", err
	}
	res, err := d.img.Pull(ctx, ref, func(p registry.Progress) {
		emit(jobs.Event{Type: jobs.TypeProgress, Step: StepImage, Layer: strconv.Itoa(p.Index) + " " + p.Layer, Message: string(p.Phase), Current: p.Done, Total: p.Total})
	})
	if err != nil {
		return "", "", "", &MissingImageError{Ref: ref, Registry: registry.Host(ref), Err: err}
	}
	return res.ID, res.Pinned(), "pulled " + res.Pinned(), nil
}

// pinned reports whether ref names one image for ever: a digest or an
// image ID.
func pinned(ref string) bool {
	return strings.Contains(ref, "@sha256:") || strings.HasPrefix(ref, "sha256:")
}

func (d *Deployer) databaseSpec(a store.App, password string) runtime.DatabaseSpec {
	db := a.Database
	alias := db.Alias
	if alias == "" {
		alias = d.opts.DatabaseAlias
	}
	return runtime.DatabaseSpec{
		App: a.Name, Kind: runtime.DatabaseKind(db.Kind), Image: db.Image, Volume: db.Volume,
		Alias: alias, Database: db.Name, User: db.User, Password: password, Labels: d.opts.Labels,
	}
}

func (d *Deployer) appSpec(a store.App, release uint64, image string, env map[string]string) runtime.AppSpec {
	return runtime.AppSpec{
		App: a.Name, Release: strconv.FormatUint(release, 10), Image: image, Env: env,
		Port: a.Port, HostPort: a.HostPort, HostIP: d.opts.PublishIP, Private: a.HostPort == 0 && d.opts.Router != nil,
		Cmd: a.Command, Entrypoint: a.Entrypoint, Restart: runtime.RestartPolicy(a.Restart),
		Memory: a.MemoryBytes, CPUs: a.CPUs, Labels: d.opts.Labels,
	}
}

// fail records a failed release and removes what the attempt created.
// The cause is redacted before anything keeps it: the release, the trail,
// kaj's log and the job all see the same masked text.
func (d *Deployer) fail(r *run, cause error) (store.Release, error) {
	d.cleanup(r)
	cause = r.red.Error(cause)
	now := time.Now().UTC()
	r.rel.Status, r.rel.Error, r.rel.FinishedAt = store.ReleaseFailed, cause.Error(), &now
	err := d.st.Update(func(tx *store.Tx) error {
		cur, err := tx.Release(r.rel.App, r.rel.Number)
		if err != nil {
			return err
		}
		r.rel.Version = cur.Version
		if r.rel, err = tx.UpdateRelease(r.rel); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: r.rel.CreatedBy, Action: store.ActionDeployFail, Target: r.rel.App, Detail: fmt.Sprintf("release %d: %v", r.rel.Number, cause)})
		return err
	})
	if err != nil {
		d.log.Error("recording a failed release", "app", r.rel.App, "release", r.rel.Number, "err", err)
	}
	if d.opts.Observe != nil {
		d.opts.Observe("failed", time.Since(r.started))
	}
	d.log.Warn("deploy failed", "app", r.rel.App, "release", r.rel.Number, "duration", time.Since(r.started).Round(time.Millisecond), "err", firstLine(cause.Error()))
	return r.rel, fmt.Errorf("deploying %s release %d: %w", r.rel.App, r.rel.Number, cause)
}

// succeed records r's release live; it returns the releases it
// superseded.
func (d *Deployer) succeed(r *run) (store.Release, []uint64, error) {
	now := time.Now().UTC()
	r.rel.Status, r.rel.FinishedAt = store.ReleaseLive, &now
	var superseded []uint64
	err := d.st.Update(func(tx *store.Tx) error {
		superseded = nil
		rels, err := tx.Releases(r.rel.App, 0)
		if err != nil {
			return err
		}
		for _, old := range rels {
			if old.Status == store.ReleaseLive && old.Number != r.rel.Number {
				old.Status = store.ReleaseSuperseded
				if _, err := tx.UpdateRelease(old); err != nil {
					return err
				}
				superseded = append(superseded, old.Number)
			}
		}
		cur, err := tx.Release(r.rel.App, r.rel.Number)
		if err != nil {
			return err
		}
		r.rel.Version = cur.Version
		if r.watch != nil {
			// Pruning and a rollback's definition wait for the window:
			// a release that fails it leaves the app as it was.
			a, err := tx.App(r.rel.App)
			if err != nil {
				return err
			}
			r.rel.Unsettled = &store.Unsettled{AppVersion: a.Version}
		}
		if r.rel, err = tx.UpdateRelease(r.rel); err != nil {
			return err
		}
		if r.watch == nil {
			// A rollback puts the definition it ran back on the app, so
			// the next deploy does not bring the newer one back.
			rel := r.rel
			if _, err := d.settle(tx, &rel, r.rel.CreatedBy); err != nil {
				return err
			}
		}
		_, err = tx.AddEvent(store.Event{Actor: r.rel.CreatedBy, Action: store.ActionDeployLive, Target: r.rel.App, Detail: fmt.Sprintf("release %d (%s)", r.rel.Number, r.rel.Digest)})
		return err
	})
	if err != nil {
		return r.rel, nil, fmt.Errorf("recording release %d of %s: %w", r.rel.Number, r.rel.App, err)
	}
	if d.opts.Observe != nil {
		d.opts.Observe("live", time.Since(r.started))
	}
	switch {
	case r.rel.Rollback != 0 && r.watch != nil:
		r.emit(jobs.Event{Type: jobs.TypeLog, Step: StepSwitch, Message: fmt.Sprintf("rolled back to #%d: its settings go back on the app once it has run for %s", r.rel.Rollback, d.window())})
	case r.rel.Rollback != 0:
		r.emit(jobs.Event{Type: jobs.TypeLog, Step: StepSwitch, Message: fmt.Sprintf("rolled back to #%d: settings restored", r.rel.Rollback)})
	}
	d.log.Info("deploy live", "app", r.rel.App, "release", r.rel.Number, "rollback_of", r.rel.Rollback, "duration", time.Since(r.started).Round(time.Millisecond), "image", r.rel.Digest)
	return r.rel, superseded, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// MissingImageError says that an image is neither in the engine nor to be
// had from its registry.
type MissingImageError struct {
	Ref      string
	Registry string
	Err      error
}

func (e *MissingImageError) Error() string {
	return fmt.Sprintf("the engine has no image %s, and the registry %s could not provide it: %v; build or load the image on this host, or fix the reference or the registry's credentials", e.Ref, e.Registry, e.Err)
}

func (e *MissingImageError) Unwrap() error { return e.Err }

// secretsOf is the redactor of one deploy: the app's secret env values
// (those of env not plain in defined, and the app's current ones), its
// database password and source secrets, the passwords inside any URL in
// its env (DATABASE_URL, a REDIS_URL set by hand) and the registries'
// passwords.
func secretsOf(defined []store.EnvVar, sec store.AppSecrets, env map[string]string, registryPasswords []string) *redact.Redactor {
	var vals []string
	for _, v := range sec.Env {
		vals = append(vals, v)
	}
	plainName := map[string]bool{}
	for _, e := range defined {
		plainName[e.Name] = !e.Secret
	}
	for k, v := range env {
		if !plainName[k] {
			vals = append(vals, v)
		}
	}
	vals = append(vals, sec.DatabasePassword, sec.Source.Token, sec.Source.WebhookSecret)
	for _, v := range sec.Source.BuildArgs {
		vals = append(vals, v)
	}
	if k := strings.TrimSpace(sec.Source.DeployKey); k != "" {
		vals = append(vals, k)
		// An error may quote one line of a key; its body lines are
		// long base64, its armour lines are not secret.
		for _, l := range strings.Split(k, "\n") {
			if l = strings.TrimSpace(l); len(l) >= 16 && !strings.HasPrefix(l, "-----") {
				vals = append(vals, l)
			}
		}
	}
	all := make([]string, 0, len(env))
	for _, v := range env {
		all = append(all, v)
	}
	vals = append(vals, redact.URLPasswords(all...)...)
	vals = append(vals, registryPasswords...)
	return redact.New(vals...)
}

// registryPasswords are the stored registry credentials' passwords.
func registryPasswords(tx *store.Tx) ([]string, error) {
	creds, err := tx.Credentials()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(creds))
	for _, c := range creds {
		full, err := tx.RevealCredential(c.Host)
		if err != nil {
			return nil, fmt.Errorf("reading the credential of %s: %w", c.Host, err)
		}
		out = append(out, full.Password)
	}
	return out, nil
}

// redacting wraps emit so no event carries a secret.
func redacting(red *redact.Redactor, emit jobs.Emit) jobs.Emit {
	return func(e jobs.Event) {
		e.Message = red.String(e.Message)
		e.Lines = red.Lines(e.Lines)
		emit(e)
	}
}

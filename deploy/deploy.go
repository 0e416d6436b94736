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
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// ErrBusy means another deploy or operation of the same app is running.
var ErrBusy = errors.New("another operation on this app is running")

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
	Logger  *slog.Logger
}

// Deployer runs deploys. It is safe for concurrent use.
type Deployer struct {
	st   *store.Store
	rt   Runtime
	img  Images
	opts Options
	log  *slog.Logger

	mu   sync.Mutex
	busy map[string]bool
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

// lock claims app for one operation, or fails with ErrBusy.
func (d *Deployer) lock(app string) (func(), error) {
	d.mu.Lock()
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

// Busy reports whether an operation on app is running.
func (d *Deployer) Busy(app string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.busy[app]
}

// Step names, in pipeline order.
const (
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
	d       *Deployer
	rel     store.Release
	emit    jobs.Emit
	created []string // containers this attempt created, removed on failure
	stopped []string // serving containers stopped to free a fixed port, started again on failure
}

func (r *run) step(name string, fn func() (string, error)) error {
	start := time.Now().UTC()
	r.emit(jobs.Event{Type: jobs.TypeStep, Step: name, Status: jobs.StatusRunning})
	r.rel.Steps = append(r.rel.Steps, store.Step{Name: name, Status: jobs.StatusRunning, StartedAt: start})
	detail, err := fn()
	end := time.Now().UTC()
	s := &r.rel.Steps[len(r.rel.Steps)-1]
	s.FinishedAt = &end
	s.Detail = detail
	s.Status = jobs.StatusSucceeded
	if err != nil {
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
	return d.deploy(ctx, app, 0, actor, emit)
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
	return d.deploy(ctx, app, to, actor, emit)
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

func (d *Deployer) deploy(ctx context.Context, app string, rollback uint64, actor string, emit jobs.Emit) (store.Release, error) {
	if emit == nil {
		emit = func(jobs.Event) {}
	}
	unlock, err := d.lock(app)
	if err != nil {
		return store.Release{}, err
	}
	defer unlock()

	var (
		a   store.App
		sec store.AppSecrets
		rel store.Release
	)
	err = d.st.Update(func(tx *store.Tx) (err error) {
		if a, err = tx.App(app); err != nil {
			return err
		}
		if sec, err = tx.RevealApp(app); err != nil {
			return err
		}
		if rel, err = tx.CreateRelease(store.Release{App: app, Rollback: rollback, CreatedBy: actor}); err != nil {
			return err
		}
		action := "deploy.start"
		if rollback != 0 {
			action = "rollback.start"
		}
		_, err = tx.AddEvent(store.Event{Actor: actor, Action: action, Target: app, Detail: fmt.Sprintf("release %d", rel.Number)})
		return err
	})
	if err != nil {
		return store.Release{}, err
	}
	env := map[string]string{}
	if rollback != 0 {
		env, err = d.releaseEnv(app, rel)
		if err != nil {
			return d.fail(&run{d: d, rel: rel, emit: emit}, err)
		}
	} else {
		for _, e := range a.Env {
			env[e.Name] = e.Value
		}
		for k, v := range sec.Env {
			env[k] = v
		}
	}

	r := &run{d: d, rel: rel, emit: emit}
	if err := d.pipeline(ctx, r, a, sec, env); err != nil {
		return d.fail(r, err)
	}
	return d.succeed(r)
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
		name, err := d.rt.EnsureNetwork(ctx, a.Name, d.opts.Labels)
		return name, err
	}); err != nil {
		return err
	}
	if a.Database != nil {
		spec := d.databaseSpec(a, sec.DatabasePassword)
		if err := r.step(StepDatabase, func() (string, error) {
			if _, _, _, err := d.ensureImage(ctx, spec.Image, r.emit); err != nil {
				return "", err
			}
			db, err := d.rt.EnsureDatabase(ctx, spec)
			if err != nil {
				return "", err
			}
			err = d.rt.WaitDatabase(ctx, db, runtime.WaitOptions{Timeout: d.opts.DatabaseTimeout, Backoff: d.opts.Backoff})
			return fmt.Sprintf("%s accepts connections as %s", db.Name, spec.Alias), err
		}); err != nil {
			return err
		}
		dbEnv, err := runtime.DatabaseEnv(spec, a.Database.URLScheme)
		if err != nil {
			return err
		}
		for k, v := range dbEnv {
			if _, set := env[k]; !set { // the user's own value wins
				env[k] = v
			}
		}
	}
	var c runtime.Container
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
		r.created = append(r.created, c.ID)
		r.rel.ContainerID = c.ID
		return c.Name, nil
	}); err != nil {
		return err
	}
	if err := r.step(StepHealth, func() (string, error) {
		err := d.rt.WaitHealthy(ctx, c, runtime.HealthOptions{Path: a.HealthPath, Timeout: d.opts.HealthTimeout, Backoff: d.opts.Backoff})
		if err != nil {
			return "", err
		}
		if c.HostPort.IsValid() {
			return "serving on " + c.HostPort.String(), nil
		}
		return "running", nil
	}); err != nil {
		return err
	}
	return r.step(StepSwitch, func() (string, error) {
		// The new container serves: from here on nothing may take it
		// down or fail the release. A previous container that will not
		// go is reported, and reconcile removes it later.
		r.created, r.stopped = nil, nil
		old, err := d.rt.List(ctx, a.Name)
		if err != nil {
			d.log.Warn("listing previous containers", "app", a.Name, "err", err)
			return "the previous containers could not be listed; they are removed on kaj's next start", nil
		}
		n, failed := 0, 0
		for _, s := range old {
			if s.Role != runtime.RoleApp || s.ID == c.ID {
				continue
			}
			if err := d.rt.Remove(ctx, s.ID, false); err != nil {
				d.log.Warn("removing a previous container", "app", a.Name, "container", s.Name, "err", err)
				failed++
				continue
			}
			n++
		}
		if failed > 0 {
			return fmt.Sprintf("removed %d previous container(s); %d could not be removed and are left for reconcile", n, failed), nil
		}
		return fmt.Sprintf("removed %d previous container(s)", n), nil
	})
}

// stopServing stops app's running app containers, remembering them so a
// failed deploy can start them again.
func (d *Deployer) stopServing(ctx context.Context, r *run, app string) error {
	cs, err := d.rt.List(ctx, app)
	if err != nil {
		return err
	}
	for _, s := range cs {
		if s.Role == runtime.RoleApp && s.State == "running" {
			if err := d.rt.Stop(ctx, s.ID, d.opts.StopTimeout); err != nil {
				return fmt.Errorf("stopping %s to free its host port: %w", s.Name, err)
			}
			r.stopped = append(r.stopped, s.ID)
		}
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
		return "", "", "", err
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
		Port: a.Port, HostPort: a.HostPort, HostIP: d.opts.PublishIP,
		Cmd: a.Command, Entrypoint: a.Entrypoint, Restart: runtime.RestartPolicy(a.Restart),
		Memory: a.MemoryBytes, CPUs: a.CPUs, Labels: d.opts.Labels,
	}
}

// fail records a failed release and removes what the attempt created. It
// uses a fresh context: a canceled deploy still cleans up.
func (d *Deployer) fail(r *run, cause error) (store.Release, error) {
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
		_, err = tx.AddEvent(store.Event{Actor: r.rel.CreatedBy, Action: "deploy.fail", Target: r.rel.App, Detail: fmt.Sprintf("release %d: %v", r.rel.Number, cause)})
		return err
	})
	if err != nil {
		d.log.Error("recording a failed release", "app", r.rel.App, "release", r.rel.Number, "err", err)
	}
	return r.rel, fmt.Errorf("deploying %s release %d: %w", r.rel.App, r.rel.Number, cause)
}

func (d *Deployer) succeed(r *run) (store.Release, error) {
	now := time.Now().UTC()
	r.rel.Status, r.rel.FinishedAt = store.ReleaseLive, &now
	err := d.st.Update(func(tx *store.Tx) error {
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
			}
		}
		cur, err := tx.Release(r.rel.App, r.rel.Number)
		if err != nil {
			return err
		}
		r.rel.Version = cur.Version
		if r.rel, err = tx.UpdateRelease(r.rel); err != nil {
			return err
		}
		if _, err := tx.PruneReleases(r.rel.App, d.opts.KeepReleases); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: r.rel.CreatedBy, Action: "deploy.live", Target: r.rel.App, Detail: fmt.Sprintf("release %d (%s)", r.rel.Number, r.rel.Digest)})
		return err
	})
	if err != nil {
		return r.rel, fmt.Errorf("recording release %d of %s: %w", r.rel.Number, r.rel.App, err)
	}
	return r.rel, nil
}

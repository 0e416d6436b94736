// Package kajd assembles a whole kaj from its configuration: store,
// engine, registry client, deploy pipeline, log hub and HTTP server. The
// binary and the end-to-end tests build kaj the same way through it.
package kajd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kajhq/kaj/apps"
	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/backup"
	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/dockerfile"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/logstream"
	"github.com/kajhq/kaj/notify"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/router"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/server"
	"github.com/kajhq/kaj/stats"
	"github.com/kajhq/kaj/store"
)

// Options adjust what config alone does not say.
type Options struct {
	Logger *slog.Logger
	// Labels are added to every engine object kaj creates (tests mark
	// theirs for cleanup).
	Labels map[string]string
	// Backoff spaces readiness probes; zero means the runtime's default.
	Backoff runtime.Backoff
	// BackupClock runs scheduled backups; nil is the real clock (tests
	// drive their own).
	BackupClock backup.Clock
}

// Kaj is an assembled kaj, ready to serve.
type Kaj struct {
	Store  *store.Store
	Engine *runtime.Docker
	// Backups takes, verifies and restores backups under
	// <data dir>/backups.
	Backups  *backup.Engine
	Registry *registry.Client
	Deployer *deploy.Deployer
	Apps     *apps.Service
	Hub      *logstream.Hub
	Stats    *stats.Hub
	Notifier *notify.Notifier
	Server   *server.Server
	// Router is the front door and FrontDoor its link to the apps; nil
	// when router.enabled is off.
	Router    *router.Router
	FrontDoor *apps.FrontDoor
	// RouterURL is the router's plain-HTTP address, like
	// http://127.0.0.1:8000; empty without a router.
	RouterURL string
	// Metrics holds every Prometheus collector kaj has.
	Metrics *prometheus.Registry
	// AdminPasswordFile is where a first start left the admin password;
	// empty when the data directory already had users.
	AdminPasswordFile string
	log               *slog.Logger
	events            config.Events
	httpLn, httpsLn   net.Listener
	metricsLn         net.Listener
	// bg runs the engine's watcher and the start-up work that needs the
	// engine, until Close; started is closed once that work is done.
	bg     context.Context
	stopBG context.CancelFunc
	// watchWait bounds how long Close waits for releases being watched:
	// the window, its grace and a drain.
	watchWait time.Duration
	bgDone    sync.WaitGroup
	started   chan struct{}
	// swarm is set when kaj drives a Docker Swarm (runtime.mode).
	swarm bool
}

// Open builds kaj from cfg: it creates the data directory (0700) and key,
// opens the store and creates the first admin on a fresh store. It does
// not wait on the engine beyond a moment: the work that needs it (see
// startEngine) goes on in the background, retried until the engine
// answers, and operations that change the engine wait for it (ErrNotReady).
func Open(ctx context.Context, cfg config.Config, opts Options) (*Kaj, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	lintOpts, err := LintOptions(cfg.Lint)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	k := &Kaj{Store: st, log: log, events: cfg.Events}
	k.pruneEvents()
	ok := false
	defer func() {
		if !ok {
			k.Close()
		}
	}()
	if k.AdminPasswordFile, err = firstAdmin(st, cfg.Data.Dir, log); err != nil {
		return nil, err
	}
	// Notifications are sent from Serve on; the router's certificate
	// events and the apps layer queue them from here.
	k.Notifier = notify.New(st, notify.Options{Logger: log})
	if k.Engine, err = runtime.NewDocker(cfg.Docker.Host, runtime.WithTimeout(cfg.Docker.Timeout.D())); err != nil {
		return nil, err
	}
	k.bg, k.stopBG = context.WithCancel(context.WithoutCancel(ctx))
	k.watchWait = cfg.Deploy.StableFor.D() + cfg.Router.DrainTimeout.D() + 20*time.Second
	k.started = make(chan struct{})
	labels := map[string]string{}
	for k, v := range cfg.Deploy.Labels {
		labels[k] = v
	}
	for k, v := range opts.Labels {
		labels[k] = v
	}
	if labels, err = scopeEngine(k.Engine, st, labels); err != nil {
		return nil, err
	}
	log.Info("kaj instance", "id", k.Engine.Instance())
	if k.swarm, err = swarmMode(ctx, cfg.Runtime.Mode, k.Engine, cfg.Docker.Timeout.D(), st, log); err != nil {
		return nil, err
	}
	if k.swarm {
		log.Info("runtime: docker swarm: apps run as services across the swarm's nodes")
	}
	k.Registry, err = registry.New(registry.Options{
		Engine:      k.Engine.Client(),
		Insecure:    cfg.Registry.Insecure,
		Backoff:     registry.Backoff{Initial: time.Second, Factor: 3, Attempts: cfg.Registry.Retries + 1},
		Credentials: storeCredentials(st),
	})
	if err != nil {
		return nil, err
	}
	if cfg.Metrics.Listen != "" {
		if k.metricsLn, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			return nil, fmt.Errorf("metrics.listen %s: %w", cfg.Metrics.Listen, err)
		}
	}
	k.Metrics = prometheus.NewRegistry()
	k.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	obs := newObserver(k.Metrics)
	var dr deploy.Router
	if cfg.Router.Enabled {
		if err := k.openRouter(cfg, log, obs); err != nil {
			return nil, err
		}
		dr = k.FrontDoor
	}
	if k.Backups, err = backup.New(k.Engine, filepath.Join(cfg.Data.Dir, "backups"), backup.Options{
		Labels: labels, Wait: runtime.WaitOptions{Timeout: cfg.Deploy.DatabaseTimeout.D(), Backoff: opts.Backoff},
	}); err != nil {
		return nil, err
	}
	var cluster deploy.Cluster
	if k.swarm {
		cluster = k.Engine
	}
	k.Deployer = deploy.New(st, k.Engine, k.Registry, deploy.Options{
		Cluster:         cluster,
		PushTo:          cfg.Runtime.PushTo,
		Snapshot:        apps.NewSnapshotter(st, k.Backups, deployerNames{k}, log),
		Router:          dr,
		Observe:         obs.deploy,
		DatabaseAlias:   cfg.Deploy.DatabaseAlias,
		PublishIP:       netip.MustParseAddr(cfg.Deploy.PublishAddress),
		DatabaseTimeout: cfg.Deploy.DatabaseTimeout.D(),
		HealthTimeout:   cfg.Deploy.HealthTimeout.D(),
		StopTimeout:     cfg.Deploy.StopTimeout.D(),
		StableFor:       stableFor(cfg.Deploy.StableFor.D()),
		Restored: func(a store.App) {
			if k.FrontDoor != nil {
				if err := k.FrontDoor.Sync(a); err != nil {
					k.log.Error("updating a rolled-back app's route", "app", a.Name, "err", err)
				}
			}
		},
		Reverted: func(app, title, detail string) {
			k.Notifier.Notify(notify.Event{Kind: notify.DeployFailed, App: app, Title: title, Detail: detail})
		},
		KeepReleases: cfg.Deploy.KeepReleases,
		Labels:       labels,
		Backoff:      opts.Backoff,
		Ready:        k.ready,
		Logger:       log,
	})
	// Failures an older kaj recorded with secrets in the clear are
	// masked; a failure here is logged and kaj serves anyway.
	if err := k.scrubOnce(); err != nil {
		log.Error("masking secrets in stored failures", "err", err)
	}
	cat, err := catalog.Default()
	if err != nil {
		return nil, err
	}
	if k.FrontDoor != nil {
		// The routes come back from the store before the router takes
		// its first request; their containers' addresses once the engine
		// answers (startEngine).
		if err := k.FrontDoor.Rebuild(ctx, nil); err != nil {
			return nil, err
		}
		if err := k.FrontDoor.LoadCertificates(); err != nil {
			log.Error("loading uploaded certificates", "err", err)
		}
	}
	var logs logReader = k.Engine
	if k.swarm {
		// Tasks on other nodes are read through the manager: still one
		// engine stream per task, however many viewers.
		logs = runtime.SwarmLogs{D: k.Engine}
	}
	k.Hub = logstream.NewHub(engineLogs{logs}, logstream.Options{Linger: 5 * time.Second})
	obs.hub(k.Hub)
	var origins []string
	if cfg.Server.PublicURL != "" {
		origins = []string{cfg.Server.PublicURL}
	}
	jm := jobs.NewManager(100)
	var routes apps.Routes
	if k.FrontDoor != nil {
		routes = k.FrontDoor
	}
	k.Stats = stats.NewHub(k.Engine, stats.Options{Linger: 5 * time.Second})
	// Built images carry the instance too: a build prunes only its own.
	imageLabels := map[string]string{runtime.LabelInstance: k.Engine.Instance()}
	for k, v := range labels {
		imageLabels[k] = v
	}
	builder, err := newBuilder(cfg, k, lintOpts, imageLabels, log)
	if err != nil {
		return nil, err
	}
	k.Apps, err = apps.New(apps.Options{
		Store: st, Deployer: k.Deployer, Catalog: cat, Jobs: jm, DatabaseAlias: cfg.Deploy.DatabaseAlias, Logger: log,
		Routes: routes, Builder: builder, Backups: k.Backups, BackupClock: opts.BackupClock, Engine: k.Engine,
		Notify: func(kind, app, title, detail string) {
			k.Notifier.Notify(notify.Event{Kind: notify.Kind(kind), App: app, Title: title, Detail: detail})
		},
	})
	if err != nil {
		return nil, err
	}
	k.Server, err = server.New(server.Options{
		Instance: k.Engine.Instance(), Store: st, Engine: k.Engine, Apps: k.Apps, Registry: k.Registry, Catalog: cat,
		Jobs: jm, Hub: k.Hub, Logs: logs, Lint: lintOpts, Logger: log,
		SessionTTL: cfg.Auth.SessionTTL.D(), SecureCookies: cfg.Auth.SecureCookies, ConfirmWindow: cfg.Auth.ConfirmWindow.D(),
		AllowedOrigins: origins, ShutdownTimeout: cfg.Server.ShutdownTimeout.D(), DataDir: cfg.Data.Dir,
		TrustedProxies: cfg.Server.TrustedProxies,
		Metrics:        metricsHandler(k.Metrics, cfg.Metrics), MetricsToken: cfg.Metrics.Token,
		Stats: k.Stats, Host: k.Engine, Terminals: k.Engine, Nodes: k.Engine, Notifier: k.Notifier, XtermDir: cfg.Dashboard.XtermDir,
		Started: k.started,
	})
	if err != nil {
		return nil, err
	}
	k.startEngine(cfg)
	ok = true
	return k, nil
}

// swarmModeWait bounds the one engine call kaj makes before it serves:
// whether its engine is a swarm manager. A healthy engine answers in
// milliseconds; a hung one must not keep kaj from serving its health
// check and dashboard.
const swarmModeWait = 500 * time.Millisecond

// swarmMode decides whether kaj drives a swarm: "swarm" insists on the
// engine being a swarm manager, "auto" follows what it is, and "docker"
// never asks. An engine that does not say within swarmModeWait leaves
// kaj as it last ran (recorded in the store; on one engine when never),
// said in the log; in "swarm" the setting is trusted.
func swarmMode(ctx context.Context, mode string, e *runtime.Docker, timeout time.Duration, st *store.Store, log *slog.Logger) (bool, error) {
	if mode == config.RuntimeDocker {
		return false, st.SetLastSwarm(false)
	}
	ctx, cancel := context.WithTimeout(ctx, min(timeout, swarmModeWait))
	defer cancel()
	info, err := e.Swarm(ctx)
	if err != nil {
		if mode == config.RuntimeSwarm {
			log.Warn("runtime.mode = \"swarm\": the engine did not say whether it is a swarm manager; kaj runs as one", "err", err)
			return true, nil
		}
		last, _, serr := st.LastSwarm()
		log.Warn("runtime.mode = \"auto\": the engine did not say whether it is a swarm manager; kaj goes on as it last ran until restarted", "swarm", last, "err", err)
		return last, serr
	}
	if mode == config.RuntimeSwarm && !info.Manager {
		return false, errors.New("runtime.mode = \"swarm\", but kaj's engine is not a swarm manager: run 'docker swarm init' on it (or point docker.host at a manager), or set runtime.mode to \"auto\" or \"docker\"")
	}
	return info.Manager, st.SetLastSwarm(info.Manager)
}

// OpenStore opens the store in cfg's data directory (0700, created when
// missing) with its key, creating the key on a first start.
func OpenStore(cfg config.Config) (*store.Store, error) {
	if err := os.MkdirAll(cfg.Data.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	var (
		key []byte
		err error
	)
	if cfg.Data.SecretKey != "" {
		key, err = store.ParseKey(cfg.Data.SecretKey)
	} else {
		key, err = store.LoadOrCreateKey(cfg.SecretKeyPath())
	}
	if err != nil {
		return nil, err
	}
	return store.Open(filepath.Join(cfg.Data.Dir, "kaj.db"), store.Options{Key: key})
}

// Serve serves the API and dashboard on ln, and the router on its own
// listeners, until ctx ends, then shuts both down gracefully.
func (k *Kaj) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var side []chan error
	run := func(name string, fn func() error) {
		ch := make(chan error, 1)
		side = append(side, ch)
		go func() {
			err := fn()
			if err != nil {
				k.log.Error(name+" stopped", "err", err)
				cancel()
			}
			ch <- err
		}()
	}
	if k.Router != nil {
		run("router", func() error {
			k.routesReady(ctx, k.Engine.Timeout())
			return k.Router.Serve(ctx, k.httpLn, k.httpsLn)
		})
	}
	run("backup scheduler", func() error {
		// A scheduled backup's verification must not start before the
		// start-up sweep of abandoned ones has run.
		select {
		case <-k.started:
		case <-ctx.Done():
			return nil
		}
		if err := k.Apps.RunBackups(ctx); !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	})
	if k.metricsLn != nil {
		run("metrics", func() error { return k.serveMetrics(ctx, k.metricsLn) })
	}
	// Notifications go out from one worker, and one engine events
	// subscription serves all of kaj's crash and restart-loop alerts.
	if k.swarm {
		run("swarm tasks", func() error { k.Deployer.FollowSwarm(ctx, time.Second); return nil })
	}
	run("notifier", func() error { k.Notifier.Run(ctx); return nil })
	run("events pruner", func() error {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
				k.pruneEvents()
			}
		}
	})
	run("engine events", func() error { k.Notifier.Watch(ctx, k.Engine, notify.DefaultLoop, 5*time.Second); return nil })
	err := k.Server.Serve(ctx, ln)
	// Releases being watched end their window while the router and the
	// notifier still run: a revert routes back and is announced.
	wctx, wcancel := context.WithTimeout(context.Background(), k.watchWait)
	if werr := k.Deployer.Wait(wctx); werr != nil {
		k.log.Warn("stopping while a new release is still watched; reconcile settles it at the next start", "err", werr)
	}
	wcancel()
	cancel()
	for _, ch := range side {
		err = errors.Join(err, <-ch)
	}
	return err
}

// Close stops the background work and releases the engine client and the
// store.
func (k *Kaj) Close() error {
	if k.Deployer != nil {
		// A release being watched ends its watch first, while the
		// notifier still runs: cut short, both releases' containers
		// would run until the next start.
		ctx, cancel := context.WithTimeout(context.Background(), k.watchWait)
		if err := k.Deployer.Wait(ctx); err != nil {
			k.log.Warn("closing while a new release is still watched; reconcile finishes it at the next start", "err", err)
		}
		cancel()
	}
	if k.stopBG != nil {
		k.stopBG()
		k.bgDone.Wait()
	}
	if k.Server != nil {
		k.Server.Close()
	}
	if k.Router != nil {
		k.Router.Close()
	}
	for _, ln := range []net.Listener{k.httpLn, k.httpsLn, k.metricsLn} {
		if ln != nil {
			ln.Close()
		}
	}
	if k.Engine != nil {
		k.Engine.Close()
	}
	return k.Store.Close()
}

// scopeEngine keeps the engine client to this kaj's objects: its
// instance ID and deploy labels, and the names its apps had before
// instance IDs. The ID is the store's, made on its first start, unless
// deploy.labels sets kaj.instance, the way instances sharing an engine
// were told apart before kaj had IDs of its own: their objects carry that
// value already. It returns the labels without kaj.instance, which the
// engine client adds itself.
func scopeEngine(d *runtime.Docker, st *store.Store, labels map[string]string) (map[string]string, error) {
	id, err := st.Instance()
	if err != nil {
		return nil, err
	}
	if v, ok := labels[runtime.LabelInstance]; ok {
		if err := runtime.CheckInstance(v); err != nil {
			return nil, fmt.Errorf("deploy.labels: kaj.instance is this kaj's instance ID, in the names of what it creates: %w", err)
		}
		id = v
	}
	scoped := make(map[string]string, len(labels))
	for k, v := range labels {
		if k != runtime.LabelInstance {
			scoped[k] = v
		}
	}
	return scoped, d.SetScope(runtime.Scope{Instance: id, Labels: scoped, Legacy: func(app string) (runtime.Names, bool) {
		n, ok, err := st.Legacy(app)
		if err != nil || !ok {
			return runtime.Names{}, false
		}
		return runtime.Names{Network: n.Network, Database: n.Database, Volume: n.Volume, Prefix: n.Prefix}, true
	}})
}

func storeCredentials(st *store.Store) registry.Credentials {
	return func(ctx context.Context, host string) (string, string, bool, error) {
		c, err := st.RevealCredential(host)
		if errors.Is(err, store.ErrNotFound) {
			return "", "", false, nil
		}
		if err != nil {
			return "", "", false, err
		}
		return c.Username, c.Password, true, nil
	}
}

// LogSource reads containers' logs through the engine for the hub.
func LogSource(d *runtime.Docker) logstream.Source { return engineLogs{d} }

// logReader reads one container's or swarm task's log.
type logReader interface {
	Logs(ctx context.Context, id string, opts runtime.LogOptions, emit func(runtime.LogLine) error) error
	LogBatches(ctx context.Context, id string, opts runtime.LogOptions, emit func([]runtime.LogLine) error) error
}

type engineLogs struct{ d logReader }

func (e engineLogs) Tail(ctx context.Context, id string, n int) ([]logstream.Line, error) {
	var out []logstream.Line
	err := e.d.Logs(ctx, id, runtime.LogOptions{Tail: n}, func(l runtime.LogLine) error {
		out = append(out, logstream.Line{Stream: string(l.Stream), Time: l.Time, Text: l.Text})
		return nil
	})
	return out, err
}

// followTail bounds how far back the engine looks for lines at or after
// since. With a tail the engine reads the log file from its end; with
// since alone it would scan the whole file first, which takes seconds on
// a busy container's log. Only the lines written between the history read
// and the follow starting are wanted, far fewer than this.
const followTail = 1000

// Follow hands the hub each read of the engine's stream as one batch.
func (e engineLogs) Follow(ctx context.Context, id string, since time.Time, emit func([]logstream.Line)) error {
	return e.follow(ctx, id, since, followTail, emit)
}

// Resume follows again after the engine's follow stalled or lost its
// file at a rotation: the lines still in the log after since, the
// rotated files included, up to resumeTail of them, so the gap is filled
// as far as the engine kept it.
func (e engineLogs) Resume(ctx context.Context, id string, since time.Time, emit func([]logstream.Line)) error {
	return e.follow(ctx, id, since, resumeTail, emit)
}

// resumeTail bounds how far back a resumed follow looks: the engine reads
// the log from its end, so a log that never rotates is not scanned whole.
// It is more than a flood writes between a stall and its detection.
const resumeTail = 200_000

var _ logstream.Resumer = engineLogs{}

func (e engineLogs) follow(ctx context.Context, id string, since time.Time, tail int, emit func([]logstream.Line)) error {
	return e.d.LogBatches(ctx, id, runtime.LogOptions{Since: since, Tail: tail, Follow: true}, func(b []runtime.LogLine) error {
		out := make([]logstream.Line, len(b))
		for i, l := range b {
			out[i] = logstream.Line{Stream: string(l.Stream), Time: l.Time, Text: l.Text}
		}
		emit(out)
		return nil
	})
}

// firstAdmin creates the first user on a fresh data directory and leaves
// its password where only the operator can read it.
func firstAdmin(st *store.Store, dir string, log *slog.Logger) (string, error) {
	pw, err := auth.EnsureAdmin(st)
	if err != nil || pw == "" {
		return "", err
	}
	path := filepath.Join(dir, "initial-admin-password")
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the first admin password: %w", err)
	}
	log.Warn("first start: created user admin; log in with the password in the file, then change it", "password_file", path)
	return path, nil
}

// LintOptions turns the [lint] settings into linter options.
func LintOptions(c config.Lint) (dockerfile.Options, error) {
	sev, err := dockerfile.ParseSeverity(c.Threshold)
	if err != nil {
		return dockerfile.Options{}, fmt.Errorf("lint.threshold: %w", err)
	}
	opts := dockerfile.Options{Ignore: c.Ignore, Threshold: sev}
	if err := opts.Validate(); err != nil {
		return dockerfile.Options{}, fmt.Errorf("lint.ignore: %w", err)
	}
	return opts, nil
}

// pruneEvents bounds the audit trail as events.keep_days and events.keep
// say. A failure is logged: a trail a little too long harms nothing.
func (k *Kaj) pruneEvents() {
	n, err := k.Store.PruneEvents(time.Duration(k.events.KeepDays)*24*time.Hour, k.events.Keep)
	if err != nil {
		k.log.Error("pruning the audit trail", "err", err)
		return
	}
	if n > 0 {
		k.log.Info("pruned the audit trail", "deleted", n, "keep_days", k.events.KeepDays, "keep", k.events.Keep)
	}
}

// stableFor turns the configured window into the deploy option's terms,
// where zero means the default and a negative value no window.
func stableFor(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// deployerNames gives the snapshot before deploy the names and the
// database container of an app as the Deployer knows them (on a swarm,
// its database task's container); the Deployer is made after the
// snapshotter it is given.
type deployerNames struct{ k *Kaj }

func (n deployerNames) Names(app string) runtime.Names { return n.k.Engine.Names(app) }

func (n deployerNames) DatabaseContainer(ctx context.Context, app string) (string, error) {
	return n.k.Deployer.DatabaseContainer(ctx, app)
}

// scrubOnce masks, the first time this kaj opens a data file, the
// secrets an older kaj stored in failed releases and events; what kaj
// stores since is masked as it is written, so later starts skip the scan.
func (k *Kaj) scrubOnce() error {
	const step = "scrub-secrets"
	if done, err := k.Store.Done(step); err != nil || done {
		return err
	}
	n, err := k.Deployer.Scrub()
	if err != nil {
		return err
	}
	if n > 0 {
		k.log.Info("masked secrets in stored failures and events", "records", n)
	}
	return k.Store.MarkDone(step)
}

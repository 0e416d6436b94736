package apps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/kajhq/kaj/backup"
	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Deployer is what apps uses of the deploy pipeline.
type Deployer interface {
	Deploy(ctx context.Context, app, actor string, emit jobs.Emit) (store.Release, error)
	Rollback(ctx context.Context, app string, to uint64, actor string, emit jobs.Emit) (store.Release, error)
	Stop(ctx context.Context, app, actor string) error
	Start(ctx context.Context, app, actor string) error
	Restart(ctx context.Context, app, actor string) error
	Delete(ctx context.Context, app string, deleteData bool, actor string) error
	// Containers lists app's containers, or every app's when app is "".
	Containers(ctx context.Context, app string) ([]runtime.Status, error)
	Busy(app string) bool
}

var _ Deployer = (*deploy.Deployer)(nil)

// Routes is what apps uses of the front door besides the deploy's
// switches: it learns an app's domains when the definition changes and
// forgets a deleted app.
type Routes interface {
	Sync(a store.App) error
	Remove(app string)
	// URLs are the app's stable addresses, the router's own first.
	URLs(a store.App) []string
	// Certs are the certificate states of the app's domains.
	Certs(a store.App) []DomainCert
}

// Options are a Service's dependencies and settings.
type Options struct {
	Store    *store.Store
	Deployer Deployer
	Catalog  *catalog.Catalog
	Jobs     *jobs.Manager
	// Routes is the front door; nil when the router is off.
	Routes Routes
	// Builder builds apps from source; nil means apps deploy images only.
	Builder Builder
	// DatabaseAlias is the default host name of app databases.
	DatabaseAlias string
	// Notify, when set, hears of every deploy's and rollback's outcome
	// (kind "deploy.failed" or "deploy.succeeded"). It must not block.
	Notify func(kind, app, title, detail string)
	// Backups is the backup engine; nil turns backups off.
	Backups Backups
	// BackupClock runs scheduled backups; nil is the real clock.
	BackupClock backup.Clock
	// Engine, when set, tells the engine's health: while it is known not
	// to answer, views say so at once instead of waiting on it.
	Engine EngineHealth
	Logger *slog.Logger
}

// EngineHealth is what the apps layer reads of the engine's health.
type EngineHealth interface {
	State() runtime.EngineState
}

// Service owns apps' lives. It is safe for concurrent use.
type Service struct {
	opts Options
	log  *slog.Logger
	list listCache
	recs struct {
		mu  sync.Mutex
		gen uint64
		all []record
	}
	*backupper
	// sched runs scheduled backups; nil without a backup engine.
	sched *backup.Scheduler
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Deployer == nil || opts.Catalog == nil || opts.Jobs == nil {
		return nil, errors.New("apps: store, deployer, catalog and jobs are required")
	}
	if opts.DatabaseAlias == "" {
		opts.DatabaseAlias = runtime.DefaultAlias
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Service{opts: opts, log: opts.Logger, backupper: &backupper{opts: opts, log: opts.Logger}}
	if opts.Backups != nil {
		s.sched = backup.NewScheduler(s.scheduled, opts.BackupClock)
	}
	return s, nil
}

// defaultVolume is the volume of app's database when its definition
// names none: it carries this kaj's instance, so two kaj instances on one
// engine never share one.
func (s *Service) defaultVolume(app string) string {
	if n, ok := s.opts.Deployer.(deploy.Namer); ok {
		return n.Names(app).Volume
	}
	return app + "-data" // Input.App's, for a deployer that does not name
}

// namesOf are the engine names of app's objects, as d's runtime gives
// them.
func namesOf(d Deployer, app string) runtime.Names {
	if n, ok := d.(deploy.Namer); ok {
		return n.Names(app)
	}
	return runtime.NamesFor("", app)
}

// changed is called after kaj changed an app's containers: the apps list
// asks the engine again.
func (s *Service) changed() {
	s.list.invalidate()
}

// Create stores a new app, generating its database password, and
// records who did it.
func (s *Service) Create(ctx context.Context, actor string, in Input) (View, error) {
	a := in.App(s.opts.DatabaseAlias)
	if a.Database != nil && in.Database.Volume == "" {
		a.Database.Volume = s.defaultVolume(a.Name)
	}
	if a.Database != nil && a.Database.Password == "" {
		a.Database.Password = newPassword()
	}
	if a.Source != nil && a.Source.Repo != "" && a.Source.WebhookSecret == "" {
		a.Source.WebhookSecret = newWebhookSecret()
	}
	a.CreatedBy = actor
	if err := validateSchedule(a.Backup); err != nil {
		return View{}, err
	}
	if err := deployable(a); err != nil {
		return View{}, err
	}
	out, err := s.create(actor, a, "")
	if err != nil {
		return View{}, err
	}
	return s.fresh(out), nil
}

func (s *Service) create(actor string, a store.App, detail string) (store.App, error) {
	var out store.App
	err := s.opts.Store.Update(func(tx *store.Tx) (err error) {
		if out, err = tx.CreateApp(a); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: actor, Action: store.ActionAppCreate, Target: a.Name, Detail: detail})
		return err
	})
	if err != nil {
		return store.App{}, err
	}
	s.syncRoute(out)
	s.reschedule(out)
	return out, nil
}

// Update replaces an app's definition; in.Version must be the version
// read. A database added now gets a generated password. A change of the
// database image takes effect at the next deploy, which recreates the
// database container on the same volume and says so.
func (s *Service) Update(ctx context.Context, actor, name string, in Input) (View, error) {
	if in.Name != "" && in.Name != name {
		return View{}, &store.ValidationError{Field: "name", Msg: "an app cannot be renamed; create a new one"}
	}
	in.Name = name
	a := in.App(s.opts.DatabaseAlias)
	if err := validateSchedule(a.Backup); err != nil {
		return View{}, err
	}
	if err := deployable(a); err != nil {
		return View{}, err
	}
	var out store.App
	err := s.opts.Store.Update(func(tx *store.Tx) (err error) {
		old, err := tx.App(name)
		if err != nil {
			return err
		}
		if a.Backup == nil {
			// A client that does not know backup settings keeps them;
			// "backup": {} clears them.
			a.Backup = old.Backup
		}
		if a.Database != nil && in.Database.Volume == "" {
			// A definition that names no volume keeps the one its data
			// is on.
			a.Database.Volume = s.defaultVolume(name)
			if old.Database != nil {
				a.Database.Volume = old.Database.Volume
			}
		}
		if old.Database == nil && a.Database != nil && a.Database.Password == "" {
			a.Database.Password = newPassword()
		}
		if a.Source != nil && a.Source.Repo != "" && a.Source.WebhookSecret == "" && (old.Source == nil || !old.Source.HasWebhookSecret) {
			a.Source.WebhookSecret = newWebhookSecret()
		}
		if old.Database != nil && a.Database != nil && old.Database.Kind != a.Database.Kind && !sameFamily(old.Database.Kind, a.Database.Kind) {
			return &store.ValidationError{Field: "database.kind", Msg: fmt.Sprintf("the database holds %s data and cannot become %s; create a new app, or back up, delete and recreate", old.Database.Kind, a.Database.Kind)}
		}
		if out, err = tx.UpdateApp(a); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: actor, Action: store.ActionAppUpdate, Target: name, Detail: "version " + strconv.FormatUint(out.Version, 10)})
		return err
	})
	if err != nil {
		return View{}, err
	}
	s.syncRoute(out)
	s.reschedule(out)
	return s.Get(ctx, name)
}

func sameFamily(a, b string) bool {
	fam := func(k string) string {
		if k == "mariadb" {
			return "mysql"
		}
		return k
	}
	return fam(a) == fam(b)
}

// Preview is a template's app as it would be created: not stored.
type Preview struct {
	App store.App `json:"app"`
	// Defaults lists the template defaults the app took, in words.
	Defaults []string `json:"defaults"`
}

// FromTemplate creates an app from a template and starts its first
// deploy (the one-click deploy); with preview it returns the generated
// definition without storing anything. life bounds the deploy job.
func (s *Service) FromTemplate(life context.Context, actor, id string, p catalog.Params, preview bool) (Preview, *jobs.Job, error) {
	p.DatabaseAlias = s.opts.DatabaseAlias
	a, defaults, err := s.opts.Catalog.Instantiate(id, p)
	if err != nil {
		return Preview{}, nil, err
	}
	if a.Database != nil {
		a.Database.Volume = s.defaultVolume(a.Name)
	}
	if err := deployable(a); err != nil {
		return Preview{}, nil, err
	}
	if preview {
		return Preview{App: a, Defaults: defaults}, nil, nil
	}
	a.CreatedBy = actor
	if _, err := s.create(actor, a, "from template "+a.Template); err != nil {
		return Preview{}, nil, err
	}
	j, err := s.StartDeploy(life, actor, a.Name)
	return Preview{App: a, Defaults: defaults}, j, err
}

// Delete removes an app's containers, network, route and definition; its
// database volume and credentials only with deleteData.
func (s *Service) Delete(ctx context.Context, actor, name string, deleteData bool) error {
	defer s.changed()
	if err := s.opts.Deployer.Delete(ctx, name, deleteData, actor); err != nil {
		return err
	}
	if s.opts.Routes != nil {
		s.opts.Routes.Remove(name)
	}
	s.unschedule(name)
	return nil
}

// Job kinds.
const (
	JobDeploy   = "deploy"
	JobRollback = "rollback"
)

// StartDeploy runs a deploy of app as a job that lives as long as life
// (the server), not the request that asked for it.
// An app with a git repository and no image of its own is built from
// the repository first (see StartBuild); one with an image set deploys
// that image (kaj deploy --image).
func (s *Service) StartDeploy(life context.Context, actor, app string) (*jobs.Job, error) {
	if a, err := s.opts.Store.App(app); err == nil && hasRepo(a) && a.Image == "" {
		return s.StartBuild(life, actor, app)
	} else if err == nil && a.Image == "" {
		return s.redeployBuilt(life, actor, app)
	}
	return s.start(life, actor, app, JobDeploy, 0)
}

// StartRollback checks a rollback up front (a release that never served
// is refused) and runs it as a job; to zero means the previous good one.
func (s *Service) StartRollback(life context.Context, actor, app string, to uint64) (*jobs.Job, error) {
	rels, err := s.opts.Store.Releases(app, 0)
	if err != nil {
		return nil, err
	}
	if _, err := s.opts.Store.App(app); err != nil {
		return nil, err
	}
	if _, err := deploy.RollbackTarget(app, rels, to); err != nil {
		return nil, err
	}
	return s.start(life, actor, app, JobRollback, to)
}

func (s *Service) start(life context.Context, actor, app, kind string, to uint64) (*jobs.Job, error) {
	if _, err := s.opts.Store.App(app); err != nil {
		return nil, err
	}
	fn, err := s.claim(app, func(ctx context.Context, emit jobs.Emit) error {
		defer s.changed()
		var err error
		if kind == JobRollback {
			_, err = s.opts.Deployer.Rollback(ctx, app, to, actor, emit)
		} else {
			_, err = s.opts.Deployer.Deploy(ctx, app, actor, emit)
		}
		if err == nil {
			// A rollback restored the definition: the route follows it.
			if a, gerr := s.opts.Store.App(app); gerr == nil {
				s.syncRoute(a)
			}
		}
		s.notifyOutcome(ctx, kind, app, actor, err)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.opts.Jobs.Start(life, kind, app, actor, fn), nil
}

// Stop stops an app; its address answers 503 until it starts again.
func (s *Service) Stop(ctx context.Context, actor, name string) (View, error) {
	s.changed()
	err := s.opts.Deployer.Stop(ctx, name, actor)
	s.changed()
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, name)
}

// Start starts a stopped app and routes to it once it is healthy.
func (s *Service) Start(ctx context.Context, actor, name string) (View, error) {
	s.changed()
	err := s.opts.Deployer.Start(ctx, name, actor)
	s.changed()
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, name)
}

// Restart replaces the app's container without downtime.
func (s *Service) Restart(ctx context.Context, actor, name string) (View, error) {
	s.changed()
	err := s.opts.Deployer.Restart(ctx, name, actor)
	s.changed()
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, name)
}

// RevealDatabasePassword is the one place a stored secret leaves kaj in
// plain text, on an explicit request that is recorded.
func (s *Service) RevealDatabasePassword(actor, name, from string) (string, error) {
	sec, err := s.opts.Store.RevealApp(name)
	if err != nil {
		return "", err
	}
	if sec.DatabasePassword == "" {
		return "", fmt.Errorf("app %q has no database: %w", name, store.ErrNotFound)
	}
	if _, err := s.opts.Store.AddEvent(store.Event{Actor: actor, Action: store.ActionDBReveal, Target: name, Detail: from}); err != nil {
		return "", err
	}
	return sec.DatabasePassword, nil
}

func (s *Service) syncRoute(a store.App) {
	if s.opts.Routes == nil {
		return
	}
	if err := s.opts.Routes.Sync(a); err != nil {
		s.log.Error("updating the app's route", "app", a.Name, "err", err)
	}
}

func (s *Service) urls(a store.App) []string {
	if s.opts.Routes == nil {
		return nil
	}
	return s.opts.Routes.URLs(a)
}

// fresh is the view of an app just stored: nothing runs yet.
func (s *Service) fresh(a store.App) View {
	return NewView(a, nil, nil, false, true, s.urls(a))
}

// engineWait bounds the engine call behind a view: a page must render
// even when the engine hangs.
const engineWait = 5 * time.Second

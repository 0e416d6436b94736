package apps

import (
	"context"
	"errors"
	"fmt"

	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// ImagesInUse names every image a stored app or any of its releases
// refers to (by tag, digest reference or image ID), its database's
// included: what pruning must never remove, since a rollback deploys a
// release's image exactly.
func (s *Service) ImagesInUse() (map[string]bool, error) {
	in := map[string]bool{}
	add := func(refs ...string) {
		for _, r := range refs {
			if r != "" {
				in[r] = true
			}
		}
	}
	err := s.opts.Store.View(func(tx *store.Tx) error {
		all, err := tx.Apps()
		if err != nil {
			return err
		}
		for _, a := range all {
			add(a.Image)
			if a.Database != nil {
				add(a.Database.Image)
			}
			rels, err := tx.Releases(a.Name, 0)
			if err != nil {
				return err
			}
			for _, r := range rels {
				add(r.Image, r.Digest)
				if r.Definition != nil {
					add(r.Definition.Image, r.Definition.DatabaseImage)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading which images releases use: %w", err)
	}
	return in, nil
}

// TerminalPlan is what a terminal session into an app runs.
type TerminalPlan struct {
	Container Container
	// Cmd is the command; empty means the container's shell.
	Cmd []string
	// Env carries the database password for a database client, so it
	// never shows on a command line or a screen. It must not be logged.
	Env []string
	// Label says in words what runs ("shell", "mariadb client").
	Label string
}

// Terminal plans a terminal session into app's container which ("app",
// "db" or an ID), a database client logged in when dbClient is set, and
// records in the trail that actor opened it. The caller runs the plan and
// calls the returned func when the session ends, recording that too.
func (s *Service) Terminal(ctx context.Context, actor, app, which string, dbClient bool, from string) (TerminalPlan, func(detail string), error) {
	c, err := s.Container(ctx, app, which)
	if err != nil {
		return TerminalPlan{}, nil, err
	}
	plan := TerminalPlan{Container: c, Label: "shell"}
	if dbClient {
		a, err := s.opts.Store.App(app)
		if err != nil {
			return TerminalPlan{}, nil, err
		}
		if a.Database == nil || c.Role != "db" {
			return TerminalPlan{}, nil, &store.ValidationError{Field: "client", Msg: "a database client opens in the app's database container (container=db)"}
		}
		sec, err := s.opts.Store.RevealApp(app)
		if err != nil {
			return TerminalPlan{}, nil, err
		}
		switch a.Database.Kind {
		case "postgres":
			plan.Cmd = []string{"psql", "-U", a.Database.User, a.Database.Name}
			plan.Env = []string{"PGPASSWORD=" + sec.DatabasePassword}
			plan.Label = "psql"
		default: // mysql and mariadb images both ship the mysql-compatible client
			plan.Cmd = []string{"sh", "-c", `exec $(command -v mariadb || echo mysql) -u"$KAJ_DB_USER" "$KAJ_DB_NAME"`}
			plan.Env = []string{"MYSQL_PWD=" + sec.DatabasePassword, "KAJ_DB_USER=" + a.Database.User, "KAJ_DB_NAME=" + a.Database.Name}
			plan.Label = "mariadb client"
		}
	}
	target := app + "/" + c.Name
	if _, err := s.opts.Store.AddEvent(store.Event{Actor: actor, Action: store.ActionTerminalOpen, Target: target, Detail: plan.Label + " from " + from}); err != nil {
		return TerminalPlan{}, nil, err
	}
	done := func(detail string) {
		if _, err := s.opts.Store.AddEvent(store.Event{Actor: actor, Action: store.ActionTerminalClose, Target: target, Detail: detail}); err != nil {
			s.log.Warn("recording the end of a terminal session", "app", app, "err", err)
		}
	}
	return plan, done, nil
}

// notifyOutcome tells Options.Notify how a deploy or rollback ended; a
// canceled one is neither news nor a failure.
func (s *Service) notifyOutcome(ctx context.Context, kind, app, actor string, err error) {
	if s.opts.Notify == nil || ctx.Err() != nil {
		return
	}
	what := "deploy"
	if kind == JobRollback {
		what = "rollback"
	}
	if err != nil {
		s.opts.Notify("deploy.failed", app, fmt.Sprintf("%s of %s failed", what, app),
			fmt.Sprintf("started by %s: %v; the previous release keeps serving", actor, err))
		return
	}
	s.opts.Notify("deploy.succeeded", app, fmt.Sprintf("%s of %s is live", what, app), "started by "+actor)
}

// Claimer is a Deployer that can claim an app ahead of a job (see
// deploy.Claim); found by type assertion, so a test's fake need not.
type Claimer interface {
	Claim(app string) (*deploy.Claim, error)
}

var _ Claimer = (*deploy.Deployer)(nil)

// claim reserves app for a job about to start, so two requests racing to
// deploy it get one job and one ErrBusy, never two jobs. The job runs fn
// with a context carrying the claim and frees it when fn returns.
func (s *Service) claim(app string, fn func(ctx context.Context, emit jobs.Emit) error) (func(ctx context.Context, emit jobs.Emit) error, error) {
	busy := func() error {
		return fmt.Errorf("%w: a deploy or operation of %s is already running; wait for it, or cancel its job", deploy.ErrBusy, app)
	}
	cl, ok := s.opts.Deployer.(Claimer)
	if !ok {
		if s.opts.Deployer.Busy(app) {
			return nil, busy()
		}
		return fn, nil
	}
	c, err := cl.Claim(app)
	if errors.Is(err, deploy.ErrBusy) {
		return nil, busy()
	}
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, emit jobs.Emit) error {
		defer c.Release()
		return fn(c.Within(ctx), emit)
	}, nil
}

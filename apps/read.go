package apps

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

type record struct {
	app      store.App
	releases []store.Release
}

// load reads one app (only) or all, with their releases, newest first,
// in one transaction. All apps are decoded once per store generation: the
// apps list asked again and again (a dashboard, a poller) costs a read of
// the generation until something is written. The records are shared:
// callers must not change them.
func (s *Service) load(only string) ([]record, error) {
	recs, _, err := s.loadGen(only)
	return recs, err
}

// loadGen is load with the store generation the records are of (zero for
// one app).
func (s *Service) loadGen(only string) ([]record, uint64, error) {
	var (
		out    []record
		gen    uint64
		cached bool
	)
	err := s.opts.Store.View(func(tx *store.Tx) error {
		if only == "" {
			gen = tx.Generation()
			s.recs.mu.Lock()
			out, cached = s.recs.all, s.recs.all != nil && s.recs.gen == gen
			s.recs.mu.Unlock()
			if cached {
				return nil
			}
		}
		var apps []store.App
		if only != "" {
			a, err := tx.App(only)
			if err != nil {
				return err
			}
			apps = []store.App{a}
		} else {
			var err error
			if apps, err = tx.Apps(); err != nil {
				return err
			}
		}
		out = make([]record, 0, len(apps))
		for _, a := range apps {
			rels, err := tx.Releases(a.Name, 0)
			if err != nil {
				return err
			}
			out = append(out, record{app: a, releases: rels})
		}
		return nil
	})
	if err == nil && only == "" && !cached {
		s.recs.mu.Lock()
		s.recs.gen, s.recs.all = gen, out
		s.recs.mu.Unlock()
	}
	return out, gen, err
}

// containers lists the containers of app (every app's for "") by app.
// An engine that does not answer is not an error for a view: the error
// comes back beside an empty map and the states read unknown.
func (s *Service) containers(ctx context.Context, app string) (map[string][]runtime.Status, error) {
	if err := s.engineDown(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, engineWait)
	defer cancel()
	cs, err := s.opts.Deployer.Containers(ctx, app)
	if err != nil {
		err = viewTimeout(err)
		s.log.Warn("listing containers", "app", app, "err", err)
		return nil, err
	}
	out := map[string][]runtime.Status{}
	for _, c := range cs {
		out[c.App] = append(out[c.App], c)
	}
	return out, nil
}

// allContainers is every app's containers by app, from the list cache,
// with the time the engine gave that answer.
func (s *Service) allContainers(ctx context.Context) (map[string][]runtime.Status, time.Time, error) {
	if err := s.engineDown(); err != nil {
		return nil, time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, engineWait)
	defer cancel()
	cs, at, err := s.list.get(ctx, func(ctx context.Context) ([]runtime.Status, error) { return s.opts.Deployer.Containers(ctx, "") })
	if err != nil {
		err = viewTimeout(err)
		s.log.Warn("listing containers", "err", err)
		return nil, at, err
	}
	out := map[string][]runtime.Status{}
	for _, c := range cs {
		out[c.App] = append(out[c.App], c)
	}
	return out, at, nil
}

// viewTimeout says that the engine did not answer in time when a view's
// own wait (engineWait, shorter than the engine calls' timeout) ran out.
func viewTimeout(err error) error {
	if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, runtime.ErrEngineTimeout) {
		return fmt.Errorf("%w: listing containers got no answer within %s", runtime.ErrEngineTimeout, engineWait)
	}
	return err
}

// engineDown is the engine's last failure while it is known not to
// answer, so views need not wait for it to fail again; nil otherwise.
func (s *Service) engineDown() error {
	if s.opts.Engine == nil {
		return nil
	}
	if st := s.opts.Engine.State(); st.Known && !st.Answering && st.Err != nil {
		return st.Err
	}
	return nil
}

// Get is one app's view. The engine not answering is not an error: the
// view's states say unknown.
func (s *Service) Get(ctx context.Context, name string) (View, error) {
	v, _, err := s.GetWithEngine(ctx, name)
	return v, err
}

// GetWithEngine is Get plus the engine's error, when it did not answer,
// for pages that say why states are unknown.
func (s *Service) GetWithEngine(ctx context.Context, name string) (View, error, error) {
	recs, err := s.load(name)
	if err != nil {
		return View{}, nil, err
	}
	cs, engErr := s.containers(ctx, name)
	r := recs[0]
	v := NewView(r.app, cs[name], r.releases, s.opts.Deployer.Busy(name), engErr == nil, s.urls(r.app))
	if s.opts.Routes != nil {
		v.Certificates = s.opts.Routes.Certs(r.app)
	}
	v.LastBackup = s.lastBackup(name)
	if engErr != nil {
		v.EngineError = engErr.Error()
	}
	withProblem(s.opts.Deployer, &v)
	return v, engErr, nil
}

// List is every app's view, by name, with one engine call for all; the
// second result is the engine's error when it did not answer.
func (s *Service) List(ctx context.Context) ([]View, error, error) {
	views, _, engErr, err := s.ListVersion(ctx, "")
	return views, engErr, err
}

// ListVersion is List with a version that changes whenever the views may
// have: a caller that keeps what it made of the views (an encoded
// answer) may reuse it while the version stays the same.
//
// When known is the version the caller already has, the views are not
// made again and come back nil.
func (s *Service) ListVersion(ctx context.Context, known string) ([]View, string, error, error) {
	recs, storeGen, err := s.loadGen("")
	if err != nil {
		return nil, "", nil, err
	}
	cs, listAt, engErr := s.allContainers(ctx)
	busy := fnv.New64a()
	for _, r := range recs {
		if s.opts.Deployer.Busy(r.app.Name) {
			busy.Write([]byte(r.app.Name + "\x00"))
		}
	}
	version := fmt.Sprintf("%d/%d/%x/%t", storeGen, listAt.UnixNano(), busy.Sum64(), engErr == nil)
	if version == known {
		return nil, version, engErr, nil
	}
	out := make([]View, len(recs))
	for i, r := range recs {
		out[i] = NewView(r.app, cs[r.app.Name], r.releases, s.opts.Deployer.Busy(r.app.Name), engErr == nil, s.urls(r.app))
		out[i].LastBackup = s.lastBackup(r.app.Name)
		if engErr != nil {
			out[i].EngineError = engErr.Error()
		}
		withProblem(s.opts.Deployer, &out[i])
	}
	return out, version, engErr, nil
}

// ReleaseView is a release with what changed since the one before it.
type ReleaseView struct {
	store.Release
	// Changes are the differences from the previous release's
	// definition and env; secrets show only as changed.
	Changes []store.Change `json:"changes"`
}

// Releases lists an app's releases, newest first, at most limit, each
// with its changes from the release before it.
func (s *Service) Releases(name string, limit int) ([]ReleaseView, error) {
	var out []ReleaseView
	err := s.opts.Store.View(func(tx *store.Tx) error {
		if _, err := tx.App(name); err != nil {
			return err
		}
		rels, err := tx.Releases(name, limit+1)
		if err != nil {
			return err
		}
		for i := range rels {
			if i == limit {
				break
			}
			rv := ReleaseView{Release: rels[i], Changes: []store.Change{}}
			if i+1 < len(rels) {
				prev, cur := rels[i+1], rels[i]
				ps, err := tx.RevealRelease(name, prev.Number)
				if err != nil {
					return err
				}
				cs, err := tx.RevealRelease(name, cur.Number)
				if err != nil {
					return err
				}
				rv.Changes = store.Diff(prev, cur, func(k string) bool { return ps[k] != cs[k] })
			}
			out = append(out, rv)
		}
		return nil
	})
	return out, err
}

// AccessKey is the log hub's key of an app's access log, the router's
// lines for it.
func AccessKey(app string) string { return "access/" + app }

// Container finds the log source of app a viewer asked for: "app" (the
// serving container, else the newest), "db", "router" (the access log;
// its ID is the hub key AccessKey gives), or the ID (or a prefix of 12
// or more) of one of the app's own containers.
func (s *Service) Container(ctx context.Context, app, which string) (Container, error) {
	v, err := s.Get(ctx, app)
	if err != nil {
		return Container{}, err
	}
	if which == "router" {
		if s.opts.Routes == nil {
			return Container{}, ErrNoRouter
		}
		return Container{ID: AccessKey(app), Name: "router", Role: "router"}, nil
	}
	var best *Container
	for i, c := range v.Containers {
		switch {
		case which == c.ID || (len(which) >= 12 && strings.HasPrefix(c.ID, which)):
			return c, nil
		case which == "db" && c.Role == string(runtime.RoleDB):
			return c, nil
		case which == "app" && c.Role == string(runtime.RoleApp):
			if c.Serving {
				return c, nil
			}
			if best == nil || atoi(c.Release) > atoi(best.Release) {
				best = &v.Containers[i]
			}
		}
	}
	if best != nil {
		return *best, nil
	}
	return Container{}, fmt.Errorf("app %s has no %s container: %w; deploy it first", app, which, store.ErrNotFound)
}

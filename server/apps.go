package server

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// appRequest is an app definition as clients send it. Secret env values
// are write-only: leave a secret's value empty to keep the stored one.
type appRequest struct {
	Name        string          `json:"name"`
	Image       string          `json:"image"`
	Env         []store.EnvVar  `json:"env"`
	Port        int             `json:"port"`
	HostPort    int             `json:"host_port"`
	HealthPath  string          `json:"health_path"`
	Database    *databaseParams `json:"database"`
	Restart     string          `json:"restart"`
	Command     []string        `json:"command"`
	Entrypoint  []string        `json:"entrypoint"`
	MemoryBytes int64           `json:"memory_bytes"`
	CPUs        float64         `json:"cpus"`
	// Version must be the version read, on update.
	Version uint64 `json:"version"`
}

type databaseParams struct {
	Kind      string `json:"kind"`
	Image     string `json:"image"`
	Alias     string `json:"alias"`
	Name      string `json:"name"`
	User      string `json:"user"`
	Volume    string `json:"volume"`
	URLScheme string `json:"url_scheme"`
	Password  string `json:"password"`
}

// app turns the request into a store.App, filling database defaults.
func (r appRequest) app(alias string) store.App {
	a := store.App{
		Name: r.Name, Image: r.Image, Env: r.Env, Port: r.Port, HostPort: r.HostPort, HealthPath: r.HealthPath,
		Restart: r.Restart, Command: r.Command, Entrypoint: r.Entrypoint, MemoryBytes: r.MemoryBytes, CPUs: r.CPUs,
		Version: r.Version,
	}
	if d := r.Database; d != nil {
		db := store.Database(*d)
		if db.Alias == "" {
			db.Alias = alias
		}
		if db.Volume == "" {
			db.Volume = r.Name + "-data"
		}
		if db.Name == "" {
			db.Name = sqlName(r.Name)
		}
		if db.User == "" {
			db.User = sqlName(r.Name)
		}
		a.Database = &db
	}
	return a
}

func sqlName(app string) string {
	b := []byte(app)
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

// appView is an app as the API shows it: secrets masked, containers
// attached.
type appView struct {
	store.App
	Containers []containerView `json:"containers"`
	Busy       bool            `json:"busy"`
	Live       *store.Release  `json:"live,omitempty"`
	URL        string          `json:"url,omitempty"`
}

type containerView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Release  string `json:"release,omitempty"`
	Image    string `json:"image"`
	State    string `json:"state"`
	Health   string `json:"health,omitempty"`
	Status   string `json:"status"`
	Restarts int    `json:"restarts"`
	ExitCode int    `json:"exit_code"`
	HostPort string `json:"host_port,omitempty"`
}

func viewContainer(s runtime.Status) containerView {
	v := containerView{
		ID: s.ID, Name: s.Name, Role: string(s.Role), Release: s.Release, Image: s.Image, State: s.State,
		Health: s.Health, Status: s.String(), Restarts: s.RestartCount, ExitCode: s.ExitCode,
	}
	if s.HostPort.IsValid() {
		v.HostPort = s.HostPort.String()
	}
	return v
}

func (s *Server) view(a store.App, cs []runtime.Status, live *store.Release) appView {
	v := appView{App: a, Containers: []containerView{}, Busy: s.opts.Deployer.Busy(a.Name), Live: live}
	for _, c := range cs {
		if c.App != a.Name {
			continue
		}
		cv := viewContainer(c)
		v.Containers = append(v.Containers, cv)
		if c.Role == runtime.RoleApp && cv.HostPort != "" && c.State == "running" {
			v.URL = "http://" + cv.HostPort
		}
	}
	return v
}

func liveRelease(tx *store.Tx, app string) (*store.Release, error) {
	rels, err := tx.Releases(app, 0)
	if err != nil {
		return nil, err
	}
	for _, r := range rels {
		if r.Status == store.ReleaseLive {
			return &r, nil
		}
	}
	return nil, nil
}

func (s *Server) listApps(c *fiber.Ctx) error {
	var apps []store.App
	live := map[string]*store.Release{}
	err := s.opts.Store.View(func(tx *store.Tx) (err error) {
		if apps, err = tx.Apps(); err != nil {
			return err
		}
		for _, a := range apps {
			if live[a.Name], err = liveRelease(tx, a.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// One engine call for all apps; an engine that is down shows as no
	// containers rather than failing the list.
	cs, err := s.opts.Deployer.Containers(c.UserContext(), "")
	if err != nil {
		s.log.Warn("listing containers", "err", err)
	}
	byApp := map[string][]runtime.Status{}
	for _, st := range cs {
		byApp[st.App] = append(byApp[st.App], st)
	}
	out := make([]appView, len(apps))
	for i, a := range apps {
		out[i] = s.view(a, byApp[a.Name], live[a.Name])
	}
	return c.JSON(out)
}

func (s *Server) getApp(c *fiber.Ctx) error {
	name := c.Params("name")
	var a store.App
	var live *store.Release
	err := s.opts.Store.View(func(tx *store.Tx) (err error) {
		if a, err = tx.App(name); err != nil {
			return err
		}
		live, err = liveRelease(tx, name)
		return err
	})
	if err != nil {
		return err
	}
	cs, err := s.opts.Deployer.Containers(c.UserContext(), name)
	if err != nil {
		s.log.Warn("listing containers", "app", name, "err", err)
	}
	return c.JSON(s.view(a, cs, live))
}

func (s *Server) createApp(c *fiber.Ctx) error {
	var req appRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	a := req.app(s.opts.DatabaseAlias)
	if a.Database != nil && a.Database.Password == "" {
		a.Database.Password = catalog.Generate(24)
	}
	var out store.App
	err := s.opts.Store.Update(func(tx *store.Tx) (err error) {
		if out, err = tx.CreateApp(a); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: actor(c), Action: "app.create", Target: a.Name})
		return err
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.view(out, nil, nil))
}

func (s *Server) updateApp(c *fiber.Ctx) error {
	var req appRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	name := c.Params("name")
	if req.Name != "" && req.Name != name {
		return badRequest("name", "an app cannot be renamed; create a new one")
	}
	req.Name = name
	a := req.app(s.opts.DatabaseAlias)
	var out store.App
	err := s.opts.Store.Update(func(tx *store.Tx) (err error) {
		if old, err := tx.App(name); err == nil && old.Database == nil && a.Database != nil && a.Database.Password == "" {
			a.Database.Password = catalog.Generate(24) // a database added now
		}
		if out, err = tx.UpdateApp(a); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: actor(c), Action: "app.update", Target: name, Detail: "version " + strconv.FormatUint(out.Version, 10)})
		return err
	})
	if err != nil {
		return err
	}
	return c.JSON(s.view(out, nil, nil))
}

func (s *Server) deleteApp(c *fiber.Ctx) error {
	deleteData := c.QueryBool("data", false)
	if err := s.opts.Deployer.Delete(c.UserContext(), c.Params("name"), deleteData, actor(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type jobResponse struct {
	Job    string `json:"job"`
	Status string `json:"status"`
	Stream string `json:"stream"`
}

func jobAnswer(c *fiber.Ctx, j *jobs.Job) error {
	st, _ := j.Status()
	return c.Status(fiber.StatusAccepted).JSON(jobResponse{Job: j.ID, Status: st, Stream: "/api/v1/jobs/" + j.ID + "/stream"})
}

// startDeploy runs a deploy as a job and answers with it. The job outlives
// the request: it ends with the server, not with the client.
func (s *Server) startDeploy(c *fiber.Ctx, app, kind string, rollback uint64) error {
	if _, err := s.opts.Store.App(app); err != nil {
		return err
	}
	if s.opts.Deployer.Busy(app) {
		return &apiError{Code: fiber.StatusConflict, Msg: "a deploy or operation of " + app + " is already running; wait for it, or cancel its job"}
	}
	if kind == "rollback" {
		// A rollback that cannot work is refused before a job starts.
		rels, err := s.opts.Store.Releases(app, 0)
		if err != nil {
			return err
		}
		if _, err := deploy.RollbackTarget(app, rels, rollback); err != nil {
			return err
		}
	}
	who := actor(c)
	j := s.opts.Jobs.Start(s.ctx, kind, app, who, func(ctx context.Context, emit jobs.Emit) error {
		var err error
		if kind == "rollback" {
			_, err = s.opts.Deployer.Rollback(ctx, app, rollback, who, emit)
		} else {
			_, err = s.opts.Deployer.Deploy(ctx, app, who, emit)
		}
		return err
	})
	return jobAnswer(c, j)
}

func (s *Server) deployApp(c *fiber.Ctx) error {
	return s.startDeploy(c, c.Params("name"), "deploy", 0)
}

type rollbackRequest struct {
	// Release is the release to return to; zero means the previous good
	// one.
	Release uint64 `json:"release"`
}

func (s *Server) rollbackApp(c *fiber.Ctx) error {
	var req rollbackRequest
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
	}
	return s.startDeploy(c, c.Params("name"), "rollback", req.Release)
}

func (s *Server) appAction(c *fiber.Ctx) error {
	name, who, ctx := c.Params("name"), actor(c), c.UserContext()
	var err error
	switch c.Params("action") {
	case "stop":
		err = s.opts.Deployer.Stop(ctx, name, who)
	case "start":
		err = s.opts.Deployer.Start(ctx, name, who)
	case "restart":
		err = s.opts.Deployer.Restart(ctx, name, who)
	default:
		return &apiError{Code: fiber.StatusNotFound, Msg: "unknown action " + c.Params("action") + "; use stop, start or restart"}
	}
	if err != nil {
		return err
	}
	return s.getApp(c)
}

func (s *Server) listReleases(c *fiber.Ctx) error {
	name := c.Params("name")
	if _, err := s.opts.Store.App(name); err != nil {
		return err
	}
	rels, err := s.opts.Store.Releases(name, clampLimit(c.QueryInt("limit", 50)))
	if err != nil {
		return err
	}
	return c.JSON(rels)
}

type passwordView struct {
	Password string `json:"password"`
}

// revealDatabasePassword is the one place a stored secret leaves kaj in
// plain text, on an explicit request that is recorded.
func (s *Server) revealDatabasePassword(c *fiber.Ctx) error {
	name := c.Params("name")
	sec, err := s.opts.Store.RevealApp(name)
	if err != nil {
		return err
	}
	if sec.DatabasePassword == "" {
		return &apiError{Code: fiber.StatusNotFound, Msg: "app " + name + " has no database"}
	}
	s.audit(actor(c), "database.reveal", name, c.IP())
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(passwordView{Password: sec.DatabasePassword})
}

func (s *Server) listTemplates(c *fiber.Ctx) error { return c.JSON(s.opts.Catalog.List()) }

// instantiateTemplate creates an app from a template and deploys it: the
// one-click deploy.
func (s *Server) instantiateTemplate(c *fiber.Ctx) error {
	var p catalog.Params
	if err := decode(c, &p); err != nil {
		return err
	}
	p.DatabaseAlias = s.opts.DatabaseAlias
	a, err := s.opts.Catalog.Instantiate(c.Params("id"), p)
	if err != nil {
		return err
	}
	if c.QueryBool("preview", false) {
		return c.JSON(a) // generated settings, not stored: shown before deploying
	}
	a.CreatedBy = actor(c)
	err = s.opts.Store.Update(func(tx *store.Tx) error {
		if _, err := tx.CreateApp(a); err != nil {
			return err
		}
		_, err := tx.AddEvent(store.Event{Actor: actor(c), Action: "app.create", Target: a.Name, Detail: "from template " + a.Template})
		return err
	})
	if err != nil {
		return err
	}
	return s.startDeploy(c, a.Name, "deploy", 0)
}

func (s *Server) listEvents(c *fiber.Ctx) error {
	before, _ := strconv.ParseUint(c.Query("before"), 10, 64)
	evs, err := s.opts.Store.Events(before, clampLimit(c.QueryInt("limit", 100)))
	if err != nil {
		return err
	}
	return c.JSON(evs)
}

// clampLimit keeps a page between 1 and 1000 items.
func clampLimit(n int) int { return min(max(n, 1), 1000) }

package server

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/apps"
	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/dashboard"
	"github.com/kajhq/kaj/dockerfile"
	"github.com/kajhq/kaj/internal/buildinfo"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/microblog"
	"github.com/kajhq/kaj/store"
)

// dashboardRenderer parses the embedded templates once per process: they
// are the binary's own, the same for every server.
var dashboardRenderer = sync.OnceValues(dashboard.New)

// templateDockerfiles are the recipes of the templates' default images,
// offered on the lint page.
var templateDockerfiles = []dashboard.Example{
	{ID: "microblog-mysql", Title: "Microblog (the Microblog + MySQL template's image)", Dockerfile: microblog.DockerfileProd},
}

// contentSecurityPolicy allows the dashboard's own scripts, styles and
// websockets and nothing else: no inline script, no third party.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' %s; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// site serves the dashboard's pages from the server's own data.
type site struct {
	s *Server
	d *dashboard.Renderer
}

// pages registers the dashboard's pages. They read the store and the
// deployer directly; the live parts of a page talk to the API.
func (s *Server) pages() {
	d, err := dashboardRenderer()
	if err != nil {
		// The API still serves; pages say what is wrong.
		s.log.Error("loading the dashboard", "err", err)
		s.app.Get("/", func(c *fiber.Ctx) error {
			return &apiError{Code: fiber.StatusInternalServerError, Msg: "the dashboard is broken in this build", Err: err}
		})
		return
	}
	p := &site{s: s, d: d}
	authed := s.requireAuth
	s.app.Get("/static/:version/*", p.static)
	s.app.Get("/login", p.loginForm)
	s.app.Post("/login", s.loginLimit, p.login)
	s.app.Post("/logout", authed, p.logout)

	viewer, deployer, admin := s.need(auth.Viewer), s.need(auth.Deployer), s.need(auth.Admin)
	s.app.Get("/", authed, viewer, p.apps)
	s.app.Get("/apps/new", authed, deployer, p.newApp)
	s.app.Get("/apps/:name", authed, viewer, p.app)
	s.app.Get("/registries", authed, viewer, p.registries)
	s.app.Get("/images", authed, viewer, p.images)
	s.app.Get("/lint", authed, viewer, p.lint)
	s.app.Get("/tokens", authed, deployer, p.tokens)
	s.app.Get("/users", authed, admin, p.users)
	s.app.Get("/events", authed, viewer, p.events)
	s.app.Get("/notifications", authed, admin, p.notifications)
	s.app.Get("/nodes", authed, viewer, p.nodes)
	s.app.Get("/xterm/*", authed, admin, s.xtermFile)
	s.app.Get("/account", authed, viewer, p.account)
	s.app.Post("/account", authed, viewer, s.loginLimit, p.changePassword)
}

// static serves the embedded assets. A URL with the current version names
// that content forever and may be cached for a year; an old version (a
// page from before an upgrade) gets today's file, revalidated.
func (p *site) static(c *fiber.Ctx) error {
	a, ok := p.d.Asset(c.Params("*"))
	if !ok {
		return &apiError{Code: fiber.StatusNotFound, Msg: "no such asset"}
	}
	if c.Params("version") == p.d.Version() {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	c.Set(fiber.HeaderETag, a.ETag)
	c.Set(fiber.HeaderContentType, a.ContentType)
	c.Vary(fiber.HeaderAcceptEncoding)
	if c.Get(fiber.HeaderIfNoneMatch) == a.ETag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	if a.Gzip != nil && strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(a.Gzip)
	}
	return c.Send(a.Body)
}

// render writes a page, or, with ?fragment=a,b, only those parts of it,
// each in a <template data-part> for the page's script to merge.
func (p *site) render(c *fiber.Ctx, code int, page string, data any) error {
	pageHeaders(c, code)
	parts := c.Query("fragment")
	if parts == "" {
		return p.d.Render(c, page, data)
	}
	for part := range strings.SplitSeq(parts, ",") {
		if !p.d.HasFragment(page, part) {
			return badRequest("fragment", "this page has no part %q", part)
		}
	}
	for part := range strings.SplitSeq(parts, ",") {
		c.WriteString(`<template data-part="` + html.EscapeString(part) + `">`)
		if err := p.d.RenderFragment(c, page, part, data); err != nil {
			return err
		}
		c.WriteString(`</template>`)
	}
	return nil
}

// pageHeaders are every page's: its policy, and no caching of pages that
// carry a CSRF token and an app's settings.
func pageHeaders(c *fiber.Ctx, code int) {
	host := c.Hostname()
	c.Set("Content-Security-Policy", fmt.Sprintf(contentSecurityPolicy, "ws://"+host+" wss://"+host))
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Status(code)
}

func (p *site) base(c *fiber.Ctx, nav string) dashboard.Base {
	b := dashboard.Base{Nav: nav, Version: buildinfo.Version(), Instance: p.s.opts.Instance}
	if id, ok := c.Locals(localUser).(identity); ok {
		b.User = id.User
		b.Role, b.CanDeploy, b.IsAdmin = string(id.Role), id.Role.Allows(auth.Deployer), id.Role.Allows(auth.Admin)
		b.ChangePassword = id.User == "admin" && p.s.firstStart()
		b.Swarm = nav == "nodes" || p.s.isSwarmManager()
		if id.Session != nil {
			b.CSRF = id.Session.CSRF
		}
		if st := p.s.opts.Engine.State(); st.Known && !st.Answering {
			b.Engine = &dashboard.EngineProblem{State: st.Condition(), Host: st.Host, Since: st.Since}
			if st.Err != nil {
				b.Engine.Error = st.Err.Error()
			}
		}
	}
	return b
}

// htmlError is the error handler's answer to a browser: a page instead of
// JSON.
func (s *Server) htmlError(c *fiber.Ctx, code int, body errorBody) error {
	d, err := dashboardRenderer()
	if err != nil {
		return c.Status(code).JSON(body)
	}
	p := &site{s: s, d: d}
	page := dashboard.ErrorPage{Base: p.base(c, ""), Code: code, Message: body.Error, Detail: body.Detail}
	if code == fiber.StatusNotFound {
		page.Message = "Not found"
		if page.Detail == "" {
			page.Detail = "There is no page at " + c.Path() + "."
		}
	}
	if len(page.Message) > 0 {
		page.Message = strings.ToUpper(page.Message[:1]) + page.Message[1:]
	}
	// Whatever the page had written goes; a fragment request gets the
	// whole error page, which its script shows as a failed refresh.
	c.Response().ResetBody()
	pageHeaders(c, code)
	return d.Render(c, "error", page)
}

// ---------- login ----------

// safeNext keeps a post-login redirect on this site: a path, never an
// absolute or scheme-relative URL that would send the user elsewhere.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// firstStart is true while the only user is the first admin with the
// password kaj generated (never changed: version 1).
func (s *Server) firstStart() bool {
	var users []store.User
	err := s.opts.Store.View(func(tx *store.Tx) (err error) { users, err = tx.Users(); return err })
	return err == nil && len(users) == 1 && users[0].Name == "admin" && users[0].Version == 1
}

func (p *site) loginPage(c *fiber.Ctx) dashboard.LoginPage {
	page := dashboard.LoginPage{Base: p.base(c, ""), Next: safeNext(c.Query("next", c.FormValue("next")))}
	if p.s.firstStart() {
		page.FirstStart = true
		if p.s.opts.DataDir != "" {
			page.PasswordFile = filepath.Join(p.s.opts.DataDir, "initial-admin-password")
		}
	}
	return page
}

func (p *site) loginForm(c *fiber.Ctx) error {
	// Already logged in: go where the login was meant to lead.
	if cookie := p.s.sessionToken(c); cookie != "" {
		err := p.s.opts.Store.View(func(tx *store.Tx) error { _, err := tx.Session(cookie); return err })
		if err == nil {
			return c.Redirect(safeNext(c.Query("next")), fiber.StatusSeeOther)
		}
	}
	return p.render(c, fiber.StatusOK, "login", p.loginPage(c))
}

func (p *site) login(c *fiber.Ctx) error {
	s := p.s
	name, pw := strings.TrimSpace(c.FormValue("username")), c.FormValue("password")
	u, err := auth.Check(s.opts.Store, name, pw)
	if err != nil {
		s.audit("anonymous", store.ActionLoginFail, name, c.IP())
		page := p.loginPage(c)
		page.Username = name
		page.Error = "Wrong user name or password."
		if errors.Is(err, auth.ErrDisabled) {
			page.Error = capitalize(err.Error()) + "."
			return p.render(c, fiber.StatusUnauthorized, "login", page)
		}
		if !errors.Is(err, auth.ErrBadLogin) {
			return err
		}
		return p.render(c, fiber.StatusUnauthorized, "login", page)
	}
	token, sess, err := auth.NewSession(s.opts.Store, u.Name, s.opts.SessionTTL, s.now())
	if err != nil {
		return err
	}
	s.audit(u.Name, store.ActionLogin, u.Name, c.IP())
	s.setSessionCookie(c, token, sess.ExpiresAt)
	return c.Redirect(safeNext(c.FormValue("next")), fiber.StatusSeeOther)
}

func (p *site) logout(c *fiber.Ctx) error {
	if cookie := p.s.sessionToken(c); cookie != "" {
		if err := p.s.opts.Store.Update(func(tx *store.Tx) error { return tx.DeleteSession(cookie) }); err != nil {
			return err
		}
	}
	p.s.clearCookie(c)
	return c.Redirect("/login", fiber.StatusSeeOther)
}

// ---------- account ----------

func (p *site) accountPage(c *fiber.Ctx) dashboard.AccountPage {
	page := dashboard.AccountPage{Base: p.base(c, "account"), MinLen: auth.MinPasswordLen, Changed: c.Query("changed") == "1", Revoked: -1}
	if n, err := strconv.Atoi(c.Query("revoked")); err == nil && page.Changed {
		page.Revoked = n
	}
	if id, ok := c.Locals(localUser).(identity); ok && id.Session != nil {
		page.ExpiresAt = id.Session.ExpiresAt
	}
	var toks []store.Token
	if err := p.s.opts.Store.View(func(tx *store.Tx) (err error) { toks, err = tx.Tokens(); return err }); err == nil {
		for _, t := range toks {
			if t.User == page.User {
				page.Tokens++
			}
		}
	}
	return page
}

func (p *site) account(c *fiber.Ctx) error {
	return p.render(c, fiber.StatusOK, "account", p.accountPage(c))
}

func (p *site) changePassword(c *fiber.Ctx) error {
	s := p.s
	page := p.accountPage(c)
	page.Changed = false
	current, next := c.FormValue("current"), c.FormValue("new")
	if next != c.FormValue("confirm") {
		page.Error, page.Field = "The two new passwords differ; type the same one twice.", "confirm"
		return p.render(c, fiber.StatusUnprocessableEntity, "account", page)
	}
	user := actor(c)
	revoked, err := auth.ChangePassword(s.opts.Store, user, current, next, c.FormValue("revoke_tokens") == "1")
	if err != nil {
		var ve *store.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		page.Error, page.Field = capitalize(ve.Error()), ve.Field
		return p.render(c, fiber.StatusUnprocessableEntity, "account", page)
	}
	// Every session ended; this browser gets a fresh one.
	token, sess, err := auth.NewSession(s.opts.Store, user, s.opts.SessionTTL, s.now())
	if err != nil {
		return err
	}
	s.setSessionCookie(c, token, sess.ExpiresAt)
	s.forgetInitialPassword(user)
	to := "/account?changed=1"
	if c.FormValue("revoke_tokens") == "1" {
		to += "&revoked=" + strconv.Itoa(revoked)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ---------- apps ----------

// engineText is what a page says when the engine did not answer.
func engineText(err error) string {
	if err == nil {
		return ""
	}
	_, body := classify(err)
	if body.Detail != "" {
		return body.Error + ": " + body.Detail
	}
	return body.Error
}

func (p *site) apps(c *fiber.Ctx) error {
	views, engErr, err := p.s.opts.Apps.List(c.UserContext())
	if err != nil {
		return err
	}
	page := dashboard.AppsPage{Base: p.base(c, "apps"), EngineError: engineText(engErr), Apps: views, Usage: p.s.usage(views)}
	return p.render(c, fiber.StatusOK, "apps", page)
}

func (p *site) app(c *fiber.Ctx) error {
	name := c.Params("name")
	v, engErr, err := p.s.opts.Apps.GetWithEngine(c.UserContext(), name)
	if err != nil {
		return err
	}
	rels, err := p.s.opts.Apps.Releases(name, 1000)
	if err != nil {
		return err
	}
	page := dashboard.AppPage{Base: p.base(c, "apps"), App: v.App, Row: v, Releases: rels, EngineError: engineText(engErr)}
	page.Xterm, page.XtermWhy = p.s.xtermAvailable()
	if v.App.Source != nil && v.App.Source.Repo != "" {
		page.WebhookURL = c.BaseURL() + apps.WebhookPath(v.App.Name)
	}
	// The page follows the deploy it was opened for (?job=, from the page
	// that started it, even when it has ended by now), else one running.
	if j, ok := p.s.opts.Jobs.Get(c.Query("job")); ok && j.Target == name {
		page.Job = j.ID
	}
	for _, j := range p.s.opts.Jobs.List() {
		if page.Job != "" {
			break
		}
		if j.Target != name || (j.Kind != apps.JobDeploy && j.Kind != apps.JobRollback && j.Kind != apps.JobBuild) {
			continue
		}
		if st, _ := j.Status(); st == jobs.StatusRunning {
			page.Job = j.ID
		}
	}
	return p.render(c, fiber.StatusOK, "app", page)
}

func (p *site) newApp(c *fiber.Ctx) error {
	page := dashboard.NewAppPage{Base: p.base(c, "apps"), Templates: p.s.opts.Catalog.List(), DatabaseKinds: store.DatabaseKinds}
	return p.render(c, fiber.StatusOK, "new", page)
}

// ---------- images and registries ----------

func (p *site) images(c *fiber.Ctx) error {
	page := dashboard.ImagesPage{Base: p.base(c, "images")}
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	imgs, err := p.s.opts.Registry.ListLocal(ctx, nil)
	if err != nil {
		p.s.log.Warn("listing images for the dashboard", "err", err)
		_, body := classify(err)
		page.Error = strings.TrimSuffix(body.Error+": "+body.Detail, ": ")
	}
	for _, i := range imgs {
		page.Images = append(page.Images, dashboard.Image{ID: i.ID, Tags: i.Tags, Digests: i.Digests, Size: i.Size, Created: i.Created})
	}
	creds, err := p.s.opts.Store.Credentials()
	if err != nil {
		return err
	}
	for _, cr := range creds {
		page.Hosts = append(page.Hosts, cr.Host)
	}
	return p.render(c, fiber.StatusOK, "images", page)
}

func (p *site) registries(c *fiber.Ctx) error {
	creds, err := p.s.opts.Store.Credentials()
	if err != nil {
		return err
	}
	return p.render(c, fiber.StatusOK, "registries", dashboard.RegistriesPage{Base: p.base(c, "registries"), Credentials: creds})
}

// ---------- lint ----------

func (p *site) lint(c *fiber.Ctx) error {
	threshold := p.s.opts.Lint.Threshold
	if threshold < dockerfile.SeverityStyle || threshold > dockerfile.SeverityError {
		threshold = dockerfile.SeverityStyle
	}
	page := dashboard.LintPage{Base: p.base(c, "lint"), Rules: dockerfile.Rules(), Threshold: threshold.String()}
	for _, e := range templateDockerfiles {
		if _, err := p.s.opts.Catalog.Get(e.ID); err == nil && e.Dockerfile != "" {
			page.Examples = append(page.Examples, e)
		}
	}
	return p.render(c, fiber.StatusOK, "lint", page)
}

// ---------- access ----------

func (p *site) tokens(c *fiber.Ctx) error {
	var toks []store.Token
	if err := p.s.opts.Store.View(func(tx *store.Tx) (err error) { toks, err = tx.Tokens(); return err }); err != nil {
		return err
	}
	return p.render(c, fiber.StatusOK, "tokens", dashboard.TokensPage{Base: p.base(c, "tokens"), Tokens: toks})
}

func (p *site) users(c *fiber.Ctx) error {
	var users []store.User
	if err := p.s.opts.Store.View(func(tx *store.Tx) (err error) { users, err = tx.Users(); return err }); err != nil {
		return err
	}
	page := dashboard.UsersPage{Base: p.base(c, "users"), MinLen: auth.MinPasswordLen}
	for _, u := range users {
		page.Users = append(page.Users, dashboard.User{Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Me: u.Name == page.User, Disabled: u.Disabled})
	}
	return p.render(c, fiber.StatusOK, "users", page)
}

// eventsPerPage is one screenful of the audit trail.
const eventsPerPage = 50

func (p *site) events(c *fiber.Ctx) error {
	var before uint64
	if v := c.Query("before"); v != "" {
		var err error
		if before, err = strconv.ParseUint(v, 10, 64); err != nil {
			return badRequest("before", "before must be an event number")
		}
	}
	evs, err := p.s.opts.Store.Events(before, eventsPerPage+1)
	if err != nil {
		return err
	}
	page := dashboard.EventsPage{Base: p.base(c, "events"), Paged: before != 0}
	if len(evs) > eventsPerPage {
		evs = evs[:eventsPerPage]
		page.Older = evs[len(evs)-1].Seq
	}
	page.Events = evs
	return p.render(c, fiber.StatusOK, "events", page)
}

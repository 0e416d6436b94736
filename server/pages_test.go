package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/apps"
	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/logstream"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/server"
	"github.com/kajhq/kaj/store"
)

// pageDeployer answers Containers from a fixed list, as the engine would;
// the pages only read.
type pageDeployer struct{ containers []runtime.Status }

func (d *pageDeployer) Deploy(ctx context.Context, app, actor string, emit jobs.Emit) (store.Release, error) {
	return store.Release{}, nil
}
func (d *pageDeployer) Rollback(ctx context.Context, app string, to uint64, actor string, emit jobs.Emit) (store.Release, error) {
	return store.Release{}, nil
}
func (d *pageDeployer) Stop(ctx context.Context, app, actor string) error    { return nil }
func (d *pageDeployer) Start(ctx context.Context, app, actor string) error   { return nil }
func (d *pageDeployer) Restart(ctx context.Context, app, actor string) error { return nil }
func (d *pageDeployer) Delete(ctx context.Context, app string, deleteData bool, actor string) error {
	return nil
}
func (d *pageDeployer) Containers(ctx context.Context, app string) ([]runtime.Status, error) {
	var out []runtime.Status
	for _, c := range d.containers {
		if app == "" || c.App == app {
			out = append(out, c)
		}
	}
	return out, nil
}
func (d *pageDeployer) Busy(app string) bool { return false }

type pageRegistry struct{}

func (pageRegistry) TestCredentials(ctx context.Context, host, user, pw string) error { return nil }
func (pageRegistry) ListLocal(ctx context.Context, labels map[string]string) ([]registry.LocalImage, error) {
	return []registry.LocalImage{{ID: "sha256:" + strings.Repeat("a", 64), Tags: []string{"microblog:1.0.0-prod"}, Size: 24 << 20, Created: time.Now()}}, nil
}
func (pageRegistry) Push(ctx context.Context, local, target string, progress registry.ProgressFunc) (*registry.PushResult, error) {
	return &registry.PushResult{}, nil
}

type pageEngine struct{}

func (e pageEngine) Check(context.Context) runtime.EngineState { return e.State() }

func (pageEngine) State() runtime.EngineState {
	return runtime.EngineState{Known: true, Answering: true}
}

type pageLogs struct{}

// pageLogSource is a log that stays quiet: pages never read it.
type pageLogSource struct{}

func (pageLogSource) Tail(ctx context.Context, container string, n int) ([]logstream.Line, error) {
	return nil, nil
}
func (pageLogSource) Follow(ctx context.Context, container string, since time.Time, emit func([]logstream.Line)) error {
	<-ctx.Done()
	return nil
}

func (pageLogs) Logs(ctx context.Context, id string, opts runtime.LogOptions, emit func(runtime.LogLine) error) error {
	return nil
}

// pageSite is a server with a real store in a temporary directory and
// the deployer above.
type pageSite struct {
	t   testing.TB
	srv *server.Server
	st  *store.Store
	dep *pageDeployer
	pw  string
}

func newPageSite(t testing.TB) *pageSite {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "kaj.db"), store.Options{Key: bytes.Repeat([]byte{7}, store.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pw, err := auth.EnsureAdmin(st)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	dep := &pageDeployer{}
	jm := jobs.NewManager(10)
	svc, err := apps.New(apps.Options{Store: st, Deployer: dep, Catalog: cat, Jobs: jm})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{
		Store: st, Engine: pageEngine{}, Apps: svc, Jobs: jm, Registry: pageRegistry{}, Catalog: cat, Logs: pageLogs{},
		Hub:     logstream.NewHub(pageLogSource{}, logstream.Options{}),
		DataDir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return &pageSite{t: t, srv: srv, st: st, dep: dep, pw: pw}
}

// do sends a request the way a browser navigating would.
func (p *pageSite) do(method, path, cookie string, form url.Values) *http.Response {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		r.Header.Set("Cookie", "kaj_session="+cookie)
	}
	resp, err := p.srv.App().Test(r, -1)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

func readBody(t testing.TB, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sessionOf(r *http.Response) string {
	for _, c := range r.Cookies() {
		if c.Name == "kaj_session" && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// login posts the login form and returns the session cookie.
func (p *pageSite) login() string {
	p.t.Helper()
	resp := p.do("POST", "/login", "", url.Values{"username": {"admin"}, "password": {p.pw}, "next": {"/"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		p.t.Fatalf("login: %d to %q: %s", resp.StatusCode, resp.Header.Get("Location"), readBody(p.t, resp))
	}
	cookie := sessionOf(resp)
	if cookie == "" {
		p.t.Fatal("login set no session cookie")
	}
	return cookie
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// csrf reads the CSRF token a page gives its scripts.
func (p *pageSite) csrf(cookie string) string {
	p.t.Helper()
	m := csrfMeta.FindStringSubmatch(readBody(p.t, p.do("GET", "/account", cookie, nil)))
	if m == nil {
		p.t.Fatal("no CSRF token on the account page")
	}
	return m[1]
}

func (p *pageSite) addApp(name string, releases int) {
	p.t.Helper()
	err := p.st.Update(func(tx *store.Tx) error {
		_, err := tx.CreateApp(store.App{
			Name: name, Image: "registry.example.com/team/" + name + ":1.0", Port: 5000, HealthPath: "/healthz",
			Env:      []store.EnvVar{{Name: "LOG_TO_STDOUT", Value: "1"}, {Name: "SECRET_KEY", Value: "s3cret-value-123", Secret: true}},
			Database: &store.Database{Kind: "mysql", Image: "mysql:8.4", Alias: "dbserver", Name: "app", User: "app", Volume: name + "-data", Password: "db-password-123"},
		})
		if err != nil {
			return err
		}
		for i := 1; i <= releases; i++ {
			r, err := tx.CreateRelease(store.Release{App: name, CreatedBy: "admin"})
			if err != nil {
				return err
			}
			r.Digest = fmt.Sprintf("sha256:%064x", i)
			r.Status = store.ReleaseSuperseded
			if i == releases {
				r.Status, r.ContainerID = store.ReleaseLive, name+"-app-id"
			}
			if _, err := tx.UpdateRelease(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		p.t.Fatal(err)
	}
	p.dep.containers = append(p.dep.containers,
		runtime.Status{Container: runtime.Container{ID: name + "-app-id", Name: "kaj-" + name + "-r1", App: name, Role: runtime.RoleApp, Release: fmt.Sprint(releases), HostPort: netip.MustParseAddrPort("0.0.0.0:32768")}, State: "running"},
		runtime.Status{Container: runtime.Container{ID: name + "-db-id", Name: "kaj-" + name + "-db", App: name, Role: runtime.RoleDB}, State: "running"},
	)
}

var pagePaths = []string{"/", "/apps/new", "/apps/blog", "/registries", "/images", "/lint", "/tokens", "/users", "/events", "/account"}

func TestPages_redirectWhenLoggedOut(t *testing.T) {
	p := newPageSite(t)
	for _, path := range append(pagePaths, "/events?before=3") {
		t.Run(path, func(t *testing.T) {
			for _, accept := range []string{"text/html", "*/*", ""} {
				r := httptest.NewRequest("GET", path, nil)
				if accept != "" {
					r.Header.Set("Accept", accept)
				}
				resp, err := p.srv.App().Test(r, -1)
				if err != nil {
					t.Fatal(err)
				}
				want := "/login?next=" + url.QueryEscape(path)
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
					t.Errorf("Accept %q: %d to %q; want 303 to %q", accept, resp.StatusCode, resp.Header.Get("Location"), want)
				}
			}
		})
	}
	// The API keeps answering JSON.
	r := httptest.NewRequest("GET", "/api/v1/apps", nil)
	r.Header.Set("Accept", "text/html")
	resp, _ := p.srv.App().Test(r, -1)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("API without login: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestPages_renderWhenLoggedIn(t *testing.T) {
	p := newPageSite(t)
	p.addApp("blog", 2)
	cookie := p.login()
	for _, path := range pagePaths {
		t.Run(path, func(t *testing.T) {
			resp := p.do("GET", path, cookie, nil)
			body := readBody(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("%d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("content type %q", ct)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
				t.Fatalf("content security policy %q", csp)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("cache control %q", resp.Header.Get("Cache-Control"))
			}
			if !csrfMeta.MatchString(body) || !strings.Contains(body, `<strong>admin</strong>`) {
				t.Fatal("page lacks the CSRF token or the user")
			}
			if strings.Contains(body, "s3cret-value-123") || strings.Contains(body, "db-password-123") {
				t.Fatal("a page shows a stored secret")
			}
		})
	}
}

func TestPages_appPage(t *testing.T) {
	p := newPageSite(t)
	p.addApp("blog", 3)
	cookie := p.login()
	resp := p.do("GET", "/apps/blog", cookie, nil)
	body := readBody(t, resp)
	for _, want := range []string{
		`data-app="blog"`, "#3", "Roll back", `href="http://blog.localhost:32768"`, "kaj-blog-db", "LOG_TO_STDOUT",
		`id="env-value-1" name="value" type="password"`, "blog-data", "Delete the data too?",
		`id="tab-backups"`, "js/backups.js", `id="backup-now"`, "it has never been backed up",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("app page lacks %q", want)
		}
	}
	resp = p.do("GET", "/apps/nope", cookie, nil)
	if body := readBody(t, resp); resp.StatusCode != 404 || !strings.Contains(body, "Not found") || !strings.Contains(body, `class="sidebar"`) {
		t.Fatalf("missing app: %d %s", resp.StatusCode, body)
	}
}

func TestPages_fragments(t *testing.T) {
	p := newPageSite(t)
	p.addApp("blog", 1)
	cookie := p.login()
	resp := p.do("GET", "/?fragment=count,list", cookie, nil)
	body := readBody(t, resp)
	if resp.StatusCode != 200 || strings.Contains(body, "<html") ||
		!strings.Contains(body, `<template data-part="count">1 app on this host</template>`) ||
		!strings.Contains(body, `<template data-part="list">`) || !strings.Contains(body, `data-key="blog"`) {
		t.Fatalf("fragments: %d %s", resp.StatusCode, body)
	}
	resp = p.do("GET", "/?fragment=nope", cookie, nil)
	if resp.StatusCode != 400 {
		t.Fatalf("unknown fragment: %d", resp.StatusCode)
	}
}

func TestPages_login(t *testing.T) {
	p := newPageSite(t)
	resp := p.do("GET", "/login?next=%2Ftokens", "", nil)
	body := readBody(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, `name="next" value="/tokens"`) || !strings.Contains(body, "initial-admin-password") ||
		!strings.Contains(body, "First start") || strings.Contains(body, `class="sidebar"`) {
		t.Fatalf("login page: %d %s", resp.StatusCode, body)
	}

	resp = p.do("POST", "/login", "", url.Values{"username": {"admin"}, "password": {"wrong-password"}})
	body = readBody(t, resp)
	if resp.StatusCode != 401 || !strings.Contains(body, "Wrong user name or password") || sessionOf(resp) != "" || !strings.Contains(body, `value="admin"`) {
		t.Fatalf("wrong password: %d %s", resp.StatusCode, body)
	}

	for next, want := range map[string]string{
		"/apps/blog?x=1": "/apps/blog?x=1", "//evil.example": "/", "https://evil.example/": "/", "/\\evil.example": "/", "": "/",
	} {
		resp = p.do("POST", "/login", "", url.Values{"username": {"admin"}, "password": {p.pw}, "next": {next}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("next %q: %d to %q; want %q", next, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}

	// Logged in already: the form sends the browser on.
	cookie := p.login()
	resp = p.do("GET", "/login?next=%2Fusers", cookie, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/users" {
		t.Fatalf("login page when logged in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestPages_csrf(t *testing.T) {
	p := newPageSite(t)
	cookie := p.login()
	token := p.csrf(cookie)

	for _, form := range []url.Values{{}, {"_csrf": {"not-the-token"}}} {
		resp := p.do("POST", "/logout", cookie, form)
		if body := readBody(t, resp); resp.StatusCode != 403 || !strings.Contains(body, "CSRF") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("logout with %v: %d %s", form, resp.StatusCode, body)
		}
		resp = p.do("POST", "/account", cookie, url.Values{"current": {p.pw}, "new": {"a-new-password-1"}, "confirm": {"a-new-password-1"}, "_csrf": form["_csrf"]})
		if resp.StatusCode != 403 {
			t.Fatalf("password change without the token: %d", resp.StatusCode)
		}
	}
	if resp := p.do("GET", "/", cookie, nil); resp.StatusCode != 200 {
		t.Fatalf("refused requests ended the session: %d", resp.StatusCode)
	}

	// The password form: mismatch and wrong current password are explained.
	resp := p.do("POST", "/account", cookie, url.Values{"_csrf": {token}, "current": {p.pw}, "new": {"a-new-password-1"}, "confirm": {"another-one-123"}})
	if body := readBody(t, resp); resp.StatusCode != 422 || !strings.Contains(body, "differ") {
		t.Fatalf("mismatch: %d %s", resp.StatusCode, body)
	}
	resp = p.do("POST", "/account", cookie, url.Values{"_csrf": {token}, "current": {"wrong-current"}, "new": {"a-new-password-1"}, "confirm": {"a-new-password-1"}})
	if body := readBody(t, resp); resp.StatusCode != 422 || !strings.Contains(body, "current password is wrong") {
		t.Fatalf("wrong current: %d %s", resp.StatusCode, body)
	}
	resp = p.do("POST", "/account", cookie, url.Values{"_csrf": {token}, "current": {p.pw}, "new": {"a-new-password-1"}, "confirm": {"a-new-password-1"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account?changed=1" || sessionOf(resp) == "" {
		t.Fatalf("change: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := auth.Check(p.st, "admin", "a-new-password-1"); err != nil {
		t.Fatalf("the new password does not work: %v", err)
	}
	if resp := p.do("GET", "/", cookie, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the old session outlived the password change: %d", resp.StatusCode)
	}
	fresh := sessionOf(resp)
	freshToken := p.csrf(fresh)
	if resp := p.do("GET", "/account?changed=1", fresh, nil); !strings.Contains(readBody(t, resp), "Password changed") {
		t.Fatal("no confirmation after the change")
	}

	// Logout with the token ends the session.
	resp = p.do("POST", "/logout", fresh, url.Values{"_csrf": {freshToken}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := p.do("GET", "/", fresh, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("session alive after logout: %d", resp.StatusCode)
	}
}

var assetURL = regexp.MustCompile(`/static/([0-9a-f]{12})/css/app\.css`)

func TestPages_static(t *testing.T) {
	p := newPageSite(t)
	m := assetURL.FindStringSubmatch(readBody(t, p.do("GET", "/login", "", nil)))
	if m == nil {
		t.Fatal("the login page names no stylesheet")
	}
	get := func(path string, hdr map[string]string) *http.Response {
		r := httptest.NewRequest("GET", path, nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		resp, err := p.srv.App().Test(r, -1)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := get(m[0], nil)
	css := readBody(t, resp)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.Contains(css, "prefers-color-scheme: dark") {
		t.Fatalf("stylesheet: %d %v", resp.StatusCode, resp.Header)
	}
	resp = get(m[0], map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatal("stylesheet not compressed for a client that takes gzip")
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if unzipped, _ := io.ReadAll(zr); string(unzipped) != css {
		t.Fatal("compressed stylesheet differs")
	}
	if resp := get(m[0], map[string]string{"If-None-Match": resp.Header.Get("ETag")}); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", resp.StatusCode)
	}
	if resp := get("/static/000000000000/js/logs.js", nil); resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("old version: %d %v", resp.StatusCode, resp.Header)
	}
	for _, path := range []string{"/static/" + m[1] + "/nope.js", "/static/" + m[1] + "/../dashboard.go"} {
		if resp := get(path, nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}

func TestPages_notFound(t *testing.T) {
	p := newPageSite(t)
	resp := p.do("GET", "/no/such/page", "", nil)
	body := readBody(t, resp)
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "Not found") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// BenchmarkAppsList100 is the server time of the apps list with 100 apps
// of 5 releases and 2 containers each: the store read, the state of every
// app and the page, through the HTTP stack. The containers come from a
// fake deployer, so the engine's own time is not in it.
func BenchmarkAppsList100(b *testing.B) {
	p := newPageSite(b)
	for i := range 100 {
		p.addApp(fmt.Sprintf("app-%03d", i), 5)
	}
	cookie := p.login()
	if body := readBody(b, p.do("GET", "/", cookie, nil)); strings.Count(body, `<tr data-key="app-`) != 100 {
		b.Fatal("the list does not show 100 apps")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp := p.do("GET", "/", cookie, nil)
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			b.Fatal(resp.StatusCode)
		}
	}
}

// TestPages_passwordChangeRevokesTokens: the Account form offers the
// user's tokens for revoking with the change, and says how many went.
func TestPages_passwordChangeRevokesTokens(t *testing.T) {
	p := newPageSite(t)
	cookie := p.login()
	secret, _, err := auth.NewToken(p.st, "admin", "ci")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, p.do("GET", "/account", cookie, nil)); !strings.Contains(body, `name="revoke_tokens"`) || !strings.Contains(body, "Also revoke my API tokens (1)") {
		t.Fatalf("the account page does not offer to revoke the token: %s", body)
	}
	resp := p.do("POST", "/account", cookie, url.Values{"_csrf": {p.csrf(cookie)}, "current": {p.pw}, "new": {"a-new-password-1"}, "confirm": {"a-new-password-1"}, "revoke_tokens": {"1"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account?changed=1&revoked=1" {
		t.Fatalf("change: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if err := p.st.View(func(tx *store.Tx) error { _, err := tx.TokenFor(secret); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the token survived: %v", err)
	}
	if body := readBody(t, p.do("GET", "/account?changed=1&revoked=1", sessionOf(resp), nil)); !strings.Contains(body, "1 API token revoked") {
		t.Fatal("the page does not say the token was revoked")
	}
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/apps"
	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/logstream"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// fakeDeployer records calls; deploys succeed unless failWith is set.
type fakeDeployer struct {
	mu       sync.Mutex
	calls    []string
	failWith error
	busy     bool
	st       *store.Store
}

func (f *fakeDeployer) record(s string) { f.mu.Lock(); f.calls = append(f.calls, s); f.mu.Unlock() }
func (f *fakeDeployer) Deploy(ctx context.Context, app, actor string, emit jobs.Emit) (store.Release, error) {
	f.record("deploy " + app + " by " + actor)
	emit(jobs.Event{Type: jobs.TypeStep, Step: "image", Status: jobs.StatusSucceeded})
	return store.Release{App: app}, f.failWith
}
func (f *fakeDeployer) Rollback(ctx context.Context, app string, to uint64, actor string, emit jobs.Emit) (store.Release, error) {
	f.record("rollback " + app)
	return store.Release{App: app}, f.failWith
}
func (f *fakeDeployer) Stop(ctx context.Context, app, actor string) error {
	f.record("stop " + app)
	return f.failWith
}
func (f *fakeDeployer) Start(ctx context.Context, app, actor string) error {
	f.record("start " + app)
	return f.failWith
}
func (f *fakeDeployer) Restart(ctx context.Context, app, actor string) error {
	f.record("restart " + app)
	return f.failWith
}
func (f *fakeDeployer) Delete(ctx context.Context, app string, deleteData bool, actor string) error {
	if deleteData {
		f.record("delete " + app + " with data")
	} else {
		f.record("delete " + app)
	}
	return f.st.DeleteApp(app, !deleteData)
}
func (f *fakeDeployer) Containers(ctx context.Context, app string) ([]runtime.Status, error) {
	return nil, nil
}
func (f *fakeDeployer) Busy(app string) bool { return f.busy }

type fakeRegistry struct{ badPassword string }

func (f *fakeRegistry) TestCredentials(ctx context.Context, host, user, pw string) error {
	if pw == f.badPassword {
		return &registry.Error{Kind: registry.ErrBadCredentials, Registry: host}
	}
	return nil
}
func (f *fakeRegistry) ListLocal(ctx context.Context, labels map[string]string) ([]registry.LocalImage, error) {
	return []registry.LocalImage{{ID: "sha256:abc", Tags: []string{"app:1"}}}, nil
}
func (f *fakeRegistry) Push(ctx context.Context, local, target string, progress registry.ProgressFunc) (*registry.PushResult, error) {
	progress(registry.Progress{Index: 0, Layer: "sha256:l1", Phase: "upload", Done: 10, Total: 10})
	return &registry.PushResult{Digest: "sha256:pushed"}, nil
}

type fakeEngine struct{ err error }

func (f fakeEngine) Check(context.Context) runtime.EngineState { return f.State() }

func (f fakeEngine) State() runtime.EngineState {
	return runtime.EngineState{Known: true, Answering: f.err == nil, Err: f.err, Info: runtime.EngineInfo{Version: "test"}}
}

type idleLogs struct{}

func (idleLogs) Tail(ctx context.Context, c string, n int) ([]logstream.Line, error) { return nil, nil }
func (idleLogs) Follow(ctx context.Context, c string, since time.Time, emit func([]logstream.Line)) error {
	<-ctx.Done()
	return nil
}

type fakeLogs struct{}

func (fakeLogs) Logs(ctx context.Context, id string, opts runtime.LogOptions, emit func(runtime.LogLine) error) error {
	return nil
}

type fixture struct {
	t    *testing.T
	s    *Server
	st   *store.Store
	dep  *fakeDeployer
	pw   string
	csrf string
	// cookie is the admin's session cookie after login.
	cookie string
}

func newFixture(t *testing.T, edits ...func(*Options)) *fixture {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "kaj.db"), store.Options{Key: bytes.Repeat([]byte{1}, store.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pw, err := auth.EnsureAdmin(st)
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := catalog.Default()
	dep := &fakeDeployer{st: st}
	jm := jobs.NewManager(10)
	svc, err := apps.New(apps.Options{Store: st, Deployer: dep, Catalog: cat, Jobs: jm})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Store: st, Engine: fakeEngine{}, Apps: svc, Jobs: jm, Registry: &fakeRegistry{badPassword: "wrong"},
		Catalog: cat, Hub: logstream.NewHub(idleLogs{}, logstream.Options{}),
		Logs: fakeLogs{},
	}
	for _, e := range edits {
		e(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	f := &fixture{t: t, s: s, st: st, dep: dep, pw: pw}
	resp := f.req("POST", "/api/v1/auth/login", `{"username":"admin","password":"`+pw+`"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body(resp))
	}
	var me meResponse
	json.NewDecoder(resp.Body).Decode(&me)
	f.csrf = me.CSRFToken
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			f.cookie = c.Value
		}
	}
	if f.cookie == "" || f.csrf == "" {
		t.Fatal("login gave no cookie or CSRF token")
	}
	return f
}

func body(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// req sends a request; hdr may set headers (nil for none).
func (f *fixture) req(method, path, payload string, hdr map[string]string) *http.Response {
	f.t.Helper()
	var rd io.Reader
	if payload != "" {
		rd = strings.NewReader(payload)
	}
	r := httptest.NewRequest(method, path, rd)
	if payload != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := f.s.App().Test(r, 10000)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// as sends a request as the logged-in admin, with the CSRF token.
func (f *fixture) as(method, path, payload string) *http.Response {
	return f.req(method, path, payload, map[string]string{"Cookie": sessionCookie + "=" + f.cookie, csrfHeader: f.csrf})
}

func (f *fixture) expect(resp *http.Response, code int, contains ...string) string {
	f.t.Helper()
	b := body(resp)
	if resp.StatusCode != code {
		f.t.Fatalf("status %d; want %d: %s", resp.StatusCode, code, b)
	}
	for _, c := range contains {
		if !strings.Contains(b, c) {
			f.t.Fatalf("body %s does not contain %q", b, c)
		}
	}
	return b
}

const blogApp = `{"name":"blog","image":"microblog:1","port":5000,"health_path":"/healthz",
 "env":[{"name":"LOG_TO_STDOUT","value":"1"},{"name":"SECRET_KEY","value":"topsecret-123456","secret":true}],
 "database":{"kind":"mysql","image":"mysql:8.4"}}`

func TestAuth_refusals(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		method string
		path   string
		hdr    map[string]string
		code   int
		want   string
	}{
		{"no cookie", "GET", "/api/v1/apps", nil, 401, "log in first"},
		{"unknown cookie", "GET", "/api/v1/apps", map[string]string{"Cookie": sessionCookie + "=nope"}, 401, "session has ended"},
		{"wrong token", "GET", "/api/v1/apps", map[string]string{"Authorization": "Bearer kaj_wrong"}, 401, "unknown or revoked"},
		{"not bearer", "GET", "/api/v1/apps", map[string]string{"Authorization": "Basic abc"}, 401, "log in first"},
		{"missing CSRF", "POST", "/api/v1/apps", map[string]string{"Cookie": sessionCookie + "=" + f.cookie}, 403, "CSRF"},
		{"wrong CSRF", "DELETE", "/api/v1/tokens/x", map[string]string{"Cookie": sessionCookie + "=" + f.cookie, csrfHeader: "nope"}, 403, "CSRF"},
		{"websocket without login", "GET", "/api/v1/events/stream", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"}, 401, "log in first"},
		{"websocket bad origin", "GET", "/api/v1/events/stream", map[string]string{"Cookie": sessionCookie + "=" + f.cookie, "Origin": "https://evil.example", "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, 403, "origin"},
		{"websocket route over plain http", "GET", "/api/v1/events/stream", map[string]string{"Cookie": sessionCookie + "=" + f.cookie}, 426, "websocket"},
		{"logs websocket bad origin", "GET", "/api/v1/apps/blog/logs", map[string]string{"Cookie": sessionCookie + "=" + f.cookie, "Origin": "http://evil.example"}, 403, "origin"},
		{"job stream bad origin", "GET", "/api/v1/jobs/x/stream", map[string]string{"Cookie": sessionCookie + "=" + f.cookie, "Origin": "http://evil.example"}, 403, "origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.t = t
			f.expect(f.req(tt.method, tt.path, "", tt.hdr), tt.code, tt.want)
		})
	}
}

func TestAuth_loginLogoutPassword(t *testing.T) {
	f := newFixture(t)
	f.expect(f.req("POST", "/api/v1/auth/login", `{"username":"admin","password":"wrong-password"}`, nil), 401, "wrong user name or password")
	f.expect(f.req("POST", "/api/v1/auth/login", `{"username":"nobody","password":"x"}`, nil), 401, "wrong user name or password")
	f.expect(f.req("POST", "/api/v1/auth/login", `{"user":"admin"}`, nil), 400, "unknown field")
	f.expect(f.as("GET", "/api/v1/auth/me", ""), 200, `"user":"admin"`, f.csrf)

	// Too short, then a wrong current password, then a good change.
	f.expect(f.as("POST", "/api/v1/auth/password", `{"current":"`+f.pw+`","new":"short"}`), 422, "at least 12")
	f.expect(f.as("POST", "/api/v1/auth/password", `{"current":"nope","new":"a-long-enough-password"}`), 422, "current password is wrong")
	resp := f.as("POST", "/api/v1/auth/password", `{"current":"`+f.pw+`","new":"a-long-enough-password"}`)
	f.expect(resp, 200)
	// The old session ended with the change.
	f.expect(f.as("GET", "/api/v1/apps", ""), 401)
	f.expect(f.req("POST", "/api/v1/auth/login", `{"username":"admin","password":"a-long-enough-password"}`, nil), 200)

	f2 := newFixture(t)
	f2.expect(f2.as("POST", "/api/v1/auth/logout", ""), 204)
	f2.expect(f2.as("GET", "/api/v1/apps", ""), 401)
}

func TestAuth_loginRateLimited(t *testing.T) {
	f := newFixture(t) // one login already used
	var last *http.Response
	for range 10 {
		last = f.req("POST", "/api/v1/auth/login", `{"username":"admin","password":"guess-guess-guess"}`, nil)
	}
	f.expect(last, 429, "too many login attempts")
}

func TestAuth_loginLimitBehindTrustedProxy(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TrustedProxies = []string{"0.0.0.0"} }) // app.Test's peer
	var last *http.Response
	for range 11 {
		last = f.req("POST", "/api/v1/auth/login", `{"username":"admin","password":"guess-guess-guess"}`, map[string]string{"X-Forwarded-For": "203.0.113.7"})
	}
	f.expect(last, 429)
	// Another client behind the same proxy is not locked out with it.
	f.expect(f.req("POST", "/api/v1/auth/login", `{"username":"admin","password":"guess-guess-guess"}`, map[string]string{"X-Forwarded-For": "198.51.100.9"}), 401)
}

func TestTokens(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("POST", "/api/v1/tokens", `{"name":""}`), 400, "name")
	b := f.expect(f.as("POST", "/api/v1/tokens", `{"name":"ci"}`), 201, `"token":"kaj_`)
	var tok tokenResponse
	json.Unmarshal([]byte(b), &tok)
	bearer := map[string]string{"Authorization": "Bearer " + tok.Secret}
	// A token works without CSRF: it is not sent by browsers on their own.
	f.expect(f.req("POST", "/api/v1/apps", blogApp, bearer), 201)
	list := f.expect(f.as("GET", "/api/v1/tokens", ""), 200, `"name":"ci"`)
	if strings.Contains(list, tok.Secret) || strings.Contains(list, `"hash"`) {
		t.Fatalf("token list shows the secret or its hash: %s", list)
	}
	f.expect(f.as("DELETE", "/api/v1/tokens/"+tok.ID, ""), 204)
	f.expect(f.req("GET", "/api/v1/apps", "", bearer), 401, "revoked")
	f.expect(f.as("DELETE", "/api/v1/tokens/"+tok.ID, ""), 404)
}

func TestUsers(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("POST", "/api/v1/users", `{"name":"ann","password":"short"}`), 422, "password")
	f.expect(f.as("POST", "/api/v1/users", `{"name":"Ann!","password":"long-enough-password"}`), 422, "name")
	f.expect(f.as("POST", "/api/v1/users", `{"name":"ann","password":"long-enough-password"}`), 201, `"name":"ann"`)
	f.expect(f.as("POST", "/api/v1/users", `{"name":"ann","password":"long-enough-password"}`), 409)
	b := f.expect(f.as("GET", "/api/v1/users", ""), 200, `"ann"`, `"admin"`)
	if strings.Contains(b, "hash") {
		t.Fatal("user list shows password hashes")
	}
}

func TestApps_CRUD(t *testing.T) {
	f := newFixture(t)
	b := f.expect(f.as("POST", "/api/v1/apps", blogApp), 201, `"name":"blog"`, `"alias":"dbserver"`, `"volume":"blog-data"`)
	if strings.Contains(b, "topsecret") {
		t.Fatalf("create echoed a secret: %s", b)
	}
	f.expect(f.as("POST", "/api/v1/apps", blogApp), 409)
	got := f.expect(f.as("GET", "/api/v1/apps/blog", ""), 200, `"version":1`)
	if strings.Contains(got, "topsecret") || strings.Contains(got, "password") && strings.Contains(got, `"password":"`) {
		t.Fatalf("get shows a secret: %s", got)
	}
	f.expect(f.as("GET", "/api/v1/apps", ""), 200, `"blog"`)
	f.expect(f.as("GET", "/api/v1/apps/nope", ""), 404)

	// Update with a stale version conflicts; the right version works and
	// keeps the secret whose value was left empty.
	upd := strings.Replace(blogApp, `"value":"topsecret-123456"`, `"value":""`, 1)
	upd = strings.Replace(upd, `"port":5000`, `"port":5001,"version":1`, 1)
	f.expect(f.as("PUT", "/api/v1/apps/blog", upd), 200, `"port":5001`, `"version":2`)
	f.expect(f.as("PUT", "/api/v1/apps/blog", upd), 409, "changed")
	sec, _ := f.st.RevealApp("blog")
	if sec.Env["SECRET_KEY"] != "topsecret-123456" || len(sec.DatabasePassword) < 20 {
		t.Fatalf("secrets after update: %+v", sec)
	}
	f.expect(f.as("PUT", "/api/v1/apps/blog", `{"name":"other","image":"x:1","port":1}`), 422, "renamed")

	pw := f.expect(f.as("GET", "/api/v1/apps/blog/database/password", ""), 200)
	if !strings.Contains(pw, sec.DatabasePassword) {
		t.Fatalf("reveal = %s", pw)
	}
	f.expect(f.as("GET", "/api/v1/events?limit=5", ""), 200, "database.reveal")

	f.expect(f.as("DELETE", "/api/v1/apps/blog?data=true", ""), 204)
	if f.dep.calls[len(f.dep.calls)-1] != "delete blog with data" {
		t.Fatalf("calls = %v", f.dep.calls)
	}
	f.expect(f.as("GET", "/api/v1/apps/blog", ""), 404)
}

func TestApps_validation(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		body  string
		code  int
		field string
	}{
		{"bad name", `{"name":"My App","image":"x:1","port":80}`, 422, `"field":"name"`},
		{"reserved name", `{"name":"new","image":"x:1","port":80}`, 422, "reserved"},
		{"bad image", `{"name":"a","image":"UPPER::x","port":80}`, 422, `"field":"image"`},
		{"port out of range", `{"name":"a","image":"x:1","port":70000}`, 422, `"field":"port"`},
		{"env key with equals", `{"name":"a","image":"x:1","port":80,"env":[{"name":"A=B","value":"1"}]}`, 422, `"field":"env[0].name"`},
		{"memory below minimum", `{"name":"a","image":"x:1","port":80,"memory_bytes":1024}`, 422, `"field":"memory_bytes"`},
		{"wrong type", `{"name":"a","image":"x:1","port":"eighty"}`, 400, `"field":"port"`},
		{"unknown field", `{"name":"a","image":"x:1","port":80,"colour":"red"}`, 400, "colour"},
		{"not json", `{"name":`, 400, "JSON"},
		{"bad db kind", `{"name":"a","image":"x:1","port":80,"database":{"kind":"oracle","image":"o:1"}}`, 422, `"field":"database.kind"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.t = t
			f.expect(f.as("POST", "/api/v1/apps", tt.body), tt.code, tt.field)
		})
	}
	f.t = t
	if apps, _ := f.st.Apps(); len(apps) != 0 {
		t.Fatalf("refused apps were stored: %+v", apps)
	}
}

func waitJob(t *testing.T, s *Server, id string) *jobs.Job {
	t.Helper()
	j, ok := s.opts.Jobs.Get(id)
	if !ok {
		t.Fatalf("job %s unknown", id)
	}
	select {
	case <-j.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("job did not end")
	}
	return j
}

func TestApps_deployActions(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("POST", "/api/v1/apps/blog/deploy", ""), 404)
	f.expect(f.as("POST", "/api/v1/apps", blogApp), 201)
	b := f.expect(f.as("POST", "/api/v1/apps/blog/deploy", ""), 202, `"job"`, `"stream":"/api/v1/jobs/`)
	var jr jobResponse
	json.Unmarshal([]byte(b), &jr)
	waitJob(t, f.s, jr.Job)
	f.expect(f.as("GET", "/api/v1/jobs/"+jr.Job, ""), 200, `"status":"succeeded"`, `"step":"image"`)
	f.expect(f.as("GET", "/api/v1/jobs/nope", ""), 404)

	// The fake deployer records no releases: mark one as having served.
	rels, _ := f.st.Releases("blog", 0)
	if len(rels) == 0 {
		if _, err := f.st.CreateRelease(store.Release{App: "blog", Status: store.ReleaseSuperseded}); err != nil {
			t.Fatal(err)
		}
	}
	f.expect(f.as("POST", "/api/v1/apps/blog/rollback", `{"release":99}`), 422, "no release 99")
	f.expect(f.as("POST", "/api/v1/apps/blog/rollback", ``), 422, "no earlier good release")
	b = f.expect(f.as("POST", "/api/v1/apps/blog/rollback", `{"release":1}`), 202)
	json.Unmarshal([]byte(b), &jr)
	waitJob(t, f.s, jr.Job)
	f.expect(f.as("POST", "/api/v1/apps/blog/rollback", `{"release":"one"}`), 400, "release")

	for _, a := range []string{"stop", "start", "restart"} {
		f.expect(f.as("POST", "/api/v1/apps/blog/"+a, ""), 200, `"name":"blog"`)
	}
	f.expect(f.as("POST", "/api/v1/apps/blog/explode", ""), 404)
	want := []string{"deploy blog by admin", "rollback blog", "stop blog", "start blog", "restart blog"}
	if strings.Join(f.dep.calls, ",") != strings.Join(want, ",") {
		t.Fatalf("calls = %v", f.dep.calls)
	}
	f.expect(f.as("GET", "/api/v1/apps/blog/releases", ""), 200)

	f.dep.busy = true
	f.expect(f.as("POST", "/api/v1/apps/blog/deploy", ""), 409, "already running")
	f.dep.busy = false
	f.dep.failWith = runtime.ErrEngineUnreachable
	f.expect(f.as("POST", "/api/v1/apps/blog/stop", ""), 503, "Docker Engine is unreachable")
}

func TestTemplates(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("GET", "/api/v1/templates", ""), 200, "microblog-mysql", "single")
	prev := f.expect(f.as("POST", "/api/v1/templates/microblog-mysql?preview=1", `{"name":"blog"}`), 200, `"SECRET_KEY"`, `"url_scheme":"mysql+pymysql"`)
	if _, err := f.st.App("blog"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("preview stored the app: %v (%s)", err, prev)
	}
	f.expect(f.as("POST", "/api/v1/templates/microblog-mysql", `{"name":"Blog"}`), 422, `"field":"name"`)
	f.expect(f.as("POST", "/api/v1/templates/nope", `{"name":"blog"}`), 404)
	b := f.expect(f.as("POST", "/api/v1/templates/microblog-mysql", `{"name":"blog"}`), 202)
	var jr jobResponse
	json.Unmarshal([]byte(b), &jr)
	waitJob(t, f.s, jr.Job)
	a, err := f.st.App("blog")
	if err != nil || a.Template != "microblog-mysql" {
		t.Fatalf("template app: %+v %v", a, err)
	}
}

func TestRegistries(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("POST", "/api/v1/registries", `{"host":"https://Reg.Example.com/","username":"ann","password":"pw-123"}`), 201, `"host":"reg.example.com"`)
	list := f.expect(f.as("GET", "/api/v1/registries", ""), 200, `"username":"ann"`)
	if strings.Contains(list, "pw-123") {
		t.Fatal("registry list shows the password")
	}
	f.expect(f.as("POST", "/api/v1/registries", `{"host":"reg.example.com","username":"ann","password":"pw-2"}`), 409)
	f.expect(f.as("PUT", "/api/v1/registries/reg.example.com", `{"username":"bob","version":1}`), 200, `"username":"bob"`)
	if c, _ := f.st.RevealCredential("reg.example.com"); c.Password != "pw-123" {
		t.Fatal("update without password lost it")
	}
	f.expect(f.as("POST", "/api/v1/registries/reg.example.com/test", ""), 200, `"ok":true`)
	f.expect(f.as("POST", "/api/v1/registries", `{"host":"127.0.0.1:5000","username":"ann","password":"pw"}`), 201)
	f.expect(f.as("POST", "/api/v1/registries/127.0.0.1%3A5000/test", ""), 200, `"ok":true`)
	f.expect(f.as("POST", "/api/v1/registries/reg.example.com/test", `{"host":"reg.example.com","username":"x","password":"wrong"}`), 200, `"ok":false`, "bad credentials")
	f.expect(f.as("POST", "/api/v1/registries", `{"host":"a b","username":"x","password":"y"}`), 422, `"field":"host"`)
	f.expect(f.as("DELETE", "/api/v1/registries/reg.example.com", ""), 204)
	f.expect(f.as("DELETE", "/api/v1/registries/reg.example.com", ""), 404)
}

func TestImages_push(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("GET", "/api/v1/images", ""), 200, "app:1")
	f.expect(f.as("POST", "/api/v1/images/push", `{"image":"app:1","target":"NOT A REF"}`), 422, `"field":"target"`)
	f.expect(f.as("POST", "/api/v1/images/push", `{"image":"","target":"127.0.0.1:5000/app:1"}`), 400, `"field":"image"`)
	b := f.expect(f.as("POST", "/api/v1/images/push", `{"image":"app:1","target":"127.0.0.1:5000/app:1"}`), 202)
	var jr jobResponse
	json.Unmarshal([]byte(b), &jr)
	waitJob(t, f.s, jr.Job)
	f.expect(f.as("GET", "/api/v1/jobs/"+jr.Job, ""), 200, `"current":10`, `"total":10`, "pushed sha256:pushed")
	f.expect(f.as("DELETE", "/api/v1/jobs/"+jr.Job, ""), 202)
}

func TestLint(t *testing.T) {
	f := newFixture(t)
	df := "FROM python:3.8-alpine\nRUN a\nRUN b\n"
	f.expect(f.as("POST", "/api/v1/lint", `{"dockerfile":`+quote(df)+`}`), 200, `"code":"DL3059"`, `"line":3`, `"failed":true`)
	f.expect(f.as("POST", "/api/v1/lint", `{"dockerfile":`+quote(df)+`,"ignore":["DL3059"]}`), 200, `"findings":[]`, `"failed":false`)
	f.expect(f.as("POST", "/api/v1/lint", `{"dockerfile":"FROM x:1\nFOO bar\n"}`), 422, `"line":2`)
	f.expect(f.as("POST", "/api/v1/lint", `{"dockerfile":"FROM x:1\n","threshold":"loud"}`), 422, `"field":"threshold"`)
	f.expect(f.as("POST", "/api/v1/lint", `{"dockerfile":"FROM x:1\n","ignore":["bogus"]}`), 422, `"field":"ignore"`)
	f.expect(f.as("GET", "/api/v1/lint/rules", ""), 200, "DL3059")
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	f.expect(f.req("GET", "/healthz", "", nil), 200, `"status":"ok"`, `"reachable":true`)
	f.s.opts.Engine = fakeEngine{err: errors.New("dial unix /var/run/docker.sock: connect: no such file")}
	f.expect(f.req("GET", "/healthz", "", nil), 200, `"status":"degraded"`, "no such file")
	f.expect(f.req("GET", "/api/v1/version", "", nil), 200, `"version"`)
	f.expect(f.as("GET", "/api/v1/nowhere", ""), 404, "no such API route")
}

// TestTokens_ownOnly: a deployer sees and revokes only their own tokens;
// an admin, everyone's.
func TestTokens_ownOnly(t *testing.T) {
	f := newFixture(t)
	var adminTok tokenResponse
	json.Unmarshal([]byte(f.expect(f.as("POST", "/api/v1/tokens", `{"name":"admin-ci"}`), 201)), &adminTok)
	f.expect(f.as("POST", "/api/v1/users", `{"name":"dee","password":"long-enough-password","role":"deployer"}`), 201)
	resp := f.req("POST", "/api/v1/auth/login", `{"username":"dee","password":"long-enough-password"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login as dee: %d %s", resp.StatusCode, body(resp))
	}
	var me meResponse
	json.NewDecoder(resp.Body).Decode(&me)
	hdr := map[string]string{csrfHeader: me.CSRFToken}
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			hdr["Cookie"] = sessionCookie + "=" + c.Value
		}
	}
	var deeTok tokenResponse
	json.Unmarshal([]byte(f.expect(f.req("POST", "/api/v1/tokens", `{"name":"dee-ci"}`, hdr), 201)), &deeTok)
	list := f.expect(f.req("GET", "/api/v1/tokens", "", hdr), 200, `"dee-ci"`)
	if strings.Contains(list, "admin-ci") {
		t.Fatalf("a deployer sees another user's token: %s", list)
	}
	f.expect(f.req("DELETE", "/api/v1/tokens/"+adminTok.ID, "", hdr), 404)
	f.expect(f.as("GET", "/api/v1/tokens", ""), 200, `"admin-ci"`, `"dee-ci"`)
	f.expect(f.req("DELETE", "/api/v1/tokens/"+deeTok.ID, "", hdr), 204)
	f.expect(f.as("DELETE", "/api/v1/tokens/"+adminTok.ID, ""), 204)
}

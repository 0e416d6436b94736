package server

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/store"
)

// routeRoles is the least role of every route and websocket, as the
// issue's role model says: viewers read (logs included), deployers also
// change apps, admins also manage users, secrets, terminals, pruning and
// notifications. A route missing here fails the test, so a new route is
// given a role on purpose.
var routeRoles = map[string]auth.Role{
	"GET /api/v1/auth/me":        auth.Viewer,
	"POST /api/v1/auth/password": auth.Viewer,
	"GET /api/v1/users":          auth.Admin,
	"POST /api/v1/users":         auth.Admin,
	"PUT /api/v1/users/:name":    auth.Admin,
	"DELETE /api/v1/users/:name": auth.Admin,
	"GET /api/v1/tokens":         auth.Deployer,
	"POST /api/v1/tokens":        auth.Deployer,
	"DELETE /api/v1/tokens/:id":  auth.Deployer,

	"GET /api/v1/apps":                            auth.Viewer,
	"POST /api/v1/apps/:name/build":               auth.Deployer,
	"GET /api/v1/apps/:name/backups":              auth.Viewer,
	"POST /api/v1/apps/:name/backups":             auth.Deployer,
	"GET /api/v1/apps/:name/backups/:id/download": auth.Admin,
	"POST /api/v1/apps/:name/backups/:id/verify":  auth.Deployer,
	"POST /api/v1/apps/:name/backups/:id/restore": auth.Admin,
	"DELETE /api/v1/apps/:name/backups/:id":       auth.Admin,
	"POST /api/v1/apps/:name/restore":             auth.Admin,
	"POST /api/v1/apps/:name/upload":              auth.Deployer,
	"GET /api/v1/apps/:name/webhook":              auth.Admin,
	"POST /api/v1/apps":                           auth.Deployer,
	"GET /api/v1/apps/:name":                      auth.Viewer,
	"PUT /api/v1/apps/:name":                      auth.Deployer,
	"DELETE /api/v1/apps/:name":                   auth.Admin,
	"POST /api/v1/apps/:name/deploy":              auth.Deployer,
	"POST /api/v1/apps/:name/rollback":            auth.Deployer,
	"POST /api/v1/apps/:name/:action":             auth.Deployer,
	"GET /api/v1/apps/:name/releases":             auth.Viewer,
	"GET /api/v1/apps/:name/database/password":    auth.Admin,
	"GET /api/v1/apps/:name/logs":                 auth.Viewer, // websocket
	"GET /api/v1/apps/:name/stats":                auth.Viewer, // websocket
	"GET /api/v1/apps/:name/terminal":             auth.Admin,  // websocket
	"GET /api/v1/apps/:name/notifications":        auth.Admin,
	"POST /api/v1/apps/:name/notifications":       auth.Admin,

	"GET /api/v1/certificates":           auth.Viewer,
	"POST /api/v1/certificates":          auth.Admin,
	"DELETE /api/v1/certificates/:name":  auth.Admin,
	"GET /api/v1/templates":              auth.Viewer,
	"POST /api/v1/templates/:id":         auth.Deployer,
	"GET /api/v1/registries":             auth.Viewer,
	"POST /api/v1/registries":            auth.Admin,
	"PUT /api/v1/registries/:host":       auth.Admin,
	"DELETE /api/v1/registries/:host":    auth.Admin,
	"POST /api/v1/registries/:host/test": auth.Admin,
	"GET /api/v1/images":                 auth.Viewer,
	"POST /api/v1/images/push":           auth.Deployer,
	"POST /api/v1/images/prune":          auth.Admin,
	"GET /api/v1/host":                   auth.Viewer,
	"GET /api/v1/stats":                  auth.Viewer,
	"GET /api/v1/stats/stream":           auth.Viewer, // websocket

	"GET /api/v1/notifications":           auth.Admin,
	"POST /api/v1/notifications":          auth.Admin,
	"DELETE /api/v1/notifications/:id":    auth.Admin,
	"POST /api/v1/notifications/:id/test": auth.Admin,

	"GET /api/v1/jobs/:id":            auth.Viewer,
	"DELETE /api/v1/jobs/:id":         auth.Deployer,
	"GET /api/v1/jobs/:id/stream":     auth.Viewer, // websocket
	"GET /api/v1/events":              auth.Viewer,
	"GET /api/v1/events/stream":       auth.Viewer, // websocket
	"GET /api/v1/nodes":               auth.Viewer,
	"GET /api/v1/nodes/join":          auth.Admin,
	"POST /api/v1/nodes/:id/drain":    auth.Admin,
	"POST /api/v1/nodes/:id/activate": auth.Admin,
	"POST /api/v1/lint":               auth.Viewer,
	"GET /api/v1/lint/rules":          auth.Viewer,

	// Pages.
	"GET /":              auth.Viewer,
	"GET /apps/new":      auth.Deployer,
	"GET /apps/:name":    auth.Viewer,
	"GET /registries":    auth.Viewer,
	"GET /images":        auth.Viewer,
	"GET /lint":          auth.Viewer,
	"GET /tokens":        auth.Deployer,
	"GET /users":         auth.Admin,
	"GET /events":        auth.Viewer,
	"GET /notifications": auth.Admin,
	"GET /nodes":         auth.Viewer,
	"GET /xterm/*":       auth.Admin,
	"GET /account":       auth.Viewer,
	"POST /account":      auth.Viewer,
	"POST /logout":       auth.Viewer,
}

// public routes need no login at all.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /api/v1/version": true, "POST /api/v1/auth/login": true, "POST /api/v1/auth/logout": true,
	"GET /login": true, "POST /login": true, "GET /static/:version/*": true,
	// Authenticated by the forge's signature, not a login (see
	// server/build.go).
	"POST /api/v1/hooks/:name": true,
}

var routeParam = regexp.MustCompile(`:action<[^>]*>`)

// TestRoles_everyRoute walks the server's own route table: every route is
// in routeRoles or publicRoutes, and for each, a user of each role is
// refused (403) exactly when their role is below the route's.
func TestRoles_everyRoute(t *testing.T) {
	f := newFixture(t)
	cookies := map[auth.Role][2]string{auth.Admin: {f.cookie, f.csrf}}
	for _, r := range []auth.Role{auth.Viewer, auth.Deployer} {
		name := string(r) + "-user"
		f.expect(f.as("POST", "/api/v1/users", `{"name":"`+name+`","password":"a-long-password-1","role":"`+string(r)+`"}`), 201)
		resp := f.req("POST", "/api/v1/auth/login", `{"username":"`+name+`","password":"a-long-password-1"}`, nil)
		var me meResponse
		decodeJSON(t, resp, &me)
		if me.Role != string(r) {
			t.Fatalf("%s logged in with role %q", name, me.Role)
		}
		for _, c := range resp.Cookies() {
			if c.Name == sessionCookie {
				cookies[r] = [2]string{c.Value, me.CSRFToken}
			}
		}
	}
	seen := map[string]bool{}
	routes := f.s.App().GetRoutes(true)
	// Logging out ends the session the later checks use: last.
	sort.SliceStable(routes, func(i, j int) bool {
		return !strings.HasSuffix(routes[i].Path, "logout") && strings.HasSuffix(routes[j].Path, "logout")
	})
	for _, rt := range routes {
		if rt.Method == http.MethodHead || rt.Method == "USE" || rt.Method == "CONNECT" || rt.Method == "TRACE" || rt.Method == "OPTIONS" || rt.Method == "PATCH" {
			continue
		}
		key := rt.Method + " " + routeParam.ReplaceAllString(rt.Path, ":action")
		if seen[key] || publicRoutes[key] || strings.HasPrefix(rt.Path, "/api/v1/*") {
			continue
		}
		seen[key] = true
		need, ok := routeRoles[key]
		if !ok {
			t.Errorf("route %s has no role in routeRoles: decide who may use it", key)
			continue
		}
		path := strings.NewReplacer(":name", "blog", ":id", "x1", ":host", "registry.example.com", ":action", "restart", "*", "xterm.js").Replace(routeParam.ReplaceAllString(rt.Path, ":action"))
		for _, role := range auth.Roles {
			t.Run(key+" as "+string(role), func(t *testing.T) {
				ck := cookies[role]
				resp := f.req(rt.Method, path, "{}", map[string]string{"Cookie": sessionCookie + "=" + ck[0], csrfHeader: ck[1]})
				b := body(resp)
				if role.Allows(need) && resp.StatusCode == http.StatusForbidden {
					t.Errorf("%s refused to %s (needs %s): %s", key, role, need, b)
				}
				if !role.Allows(need) && resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s answered %s with %d; want 403 (needs %s): %s", key, role, resp.StatusCode, need, b)
				}
			})
		}
	}
	for key := range routeRoles {
		if !seen[key] {
			t.Errorf("routeRoles names %s, which the server does not have", key)
		}
	}
}

// TestUsers_lastAdmin: kaj never disables, demotes or removes its last
// admin; a disabled user's session stops working at once.
func TestUsers_lastAdmin(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("PUT", "/api/v1/users/admin", `{"role":"viewer"}`), 409, "at least one enabled admin")
	f.expect(f.as("PUT", "/api/v1/users/admin", `{"disabled":true}`), 409)
	f.expect(f.as("DELETE", "/api/v1/users/admin", ""), 409)
	f.expect(f.as("POST", "/api/v1/users", `{"name":"bob","password":"a-long-password-1","role":"viewer"}`), 201)
	resp := f.req("POST", "/api/v1/auth/login", `{"username":"bob","password":"a-long-password-1"}`, nil)
	f.expect(resp, 200)
	bob := resp.Cookies()[0].Value
	f.expect(f.req("GET", "/api/v1/apps", "", map[string]string{"Cookie": sessionCookie + "=" + bob}), 200)
	f.expect(f.as("PUT", "/api/v1/users/bob", `{"disabled":true}`), 200)
	f.expect(f.req("GET", "/api/v1/apps", "", map[string]string{"Cookie": sessionCookie + "=" + bob}), 401)
	f.expect(f.req("POST", "/api/v1/auth/login", `{"username":"bob","password":"a-long-password-1"}`, nil), 401, "disabled")
	f.expect(f.as("DELETE", "/api/v1/users/bob", ""), 204)
	var evs []store.Event
	f.st.View(func(tx *store.Tx) (err error) { evs, err = tx.Events(0, 10); return err })
	if len(evs) == 0 || evs[0].Action != store.ActionUserDelete {
		t.Fatalf("the trail does not end with the removal: %+v", evs)
	}
}

func decodeJSON(t *testing.T, resp *http.Response, out any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("decoding: %v", err)
	}
}

// TestFirstLogin_asksAndForgetsPassword: while the first admin keeps the
// generated password every page asks to change it; changing it deletes
// the initial-admin-password file.
func TestFirstLogin_asksAndForgetsPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "initial-admin-password")
	f := newFixture(t, func(o *Options) { o.DataDir = dir })
	os.WriteFile(file, []byte(f.pw+"\n"), 0o600)
	f.expect(f.as("GET", "/", ""), 200, `id="change-password"`)
	b := f.expect(f.as("POST", "/api/v1/auth/password", `{"current":"`+f.pw+`","new":"another-long-password-2"}`), 200)
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the initial password file is still there (%v) after the change: %s", err, b)
	}
	var me meResponse
	json.Unmarshal([]byte(b), &me)
	resp := f.req("GET", "/", "", map[string]string{"Cookie": sessionCookie + "=" + sessionOf(t, resp0(f, "another-long-password-2"))})
	if strings.Contains(body(resp), `id="change-password"`) {
		t.Fatal("the page still asks to change the password")
	}
}

func resp0(f *fixture, pw string) *http.Response {
	return f.req("POST", "/api/v1/auth/login", `{"username":"admin","password":"`+pw+`"}`, nil)
}

func sessionOf(t *testing.T, r *http.Response) string {
	for _, c := range r.Cookies() {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	t.Fatalf("no session cookie (status %d)", r.StatusCode)
	return ""
}

package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/store"
)

// clock is a settable clock for confirmation windows.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sensitive are the routes that need the password typed recently.
var sensitive = []struct{ method, path, body string }{
	{"POST", "/api/v1/tokens", `{"name":"ci"}`},
	{"GET", "/api/v1/apps/blog/database/password", ""},
	{"GET", "/api/v1/apps/blog/webhook", ""},
	{"GET", "/api/v1/apps/blog/backups/x1/download", ""},
	{"GET", "/api/v1/apps/blog/terminal", ""},
	{"POST", "/api/v1/users", `{"name":"ann","password":"a-long-password-1","role":"viewer"}`},
	{"PUT", "/api/v1/users/ann", `{"role":"deployer"}`},
	{"DELETE", "/api/v1/users/ann", ""},
}

// TestConfirm_sensitiveActions: right after login a sensitive action
// works; once the window has passed it is refused with reauth_required,
// naming where to confirm; a wrong password does not confirm, the right
// one does, and the window closes again later.
func TestConfirm_sensitiveActions(t *testing.T) {
	clk := &clock{now: time.Now()}
	f := newFixture(t, func(o *Options) { o.Now = clk.Now; o.ConfirmWindow = 5 * time.Minute })
	f.expect(f.as("POST", "/api/v1/apps", blogApp), 201)

	f.expect(f.as("POST", "/api/v1/tokens", `{"name":"fresh"}`), 201, `"token":"kaj_`)
	me := f.expect(f.as("GET", "/api/v1/auth/me", ""), 200, `"confirmed_until"`)
	if !strings.Contains(me, clk.Now().Add(5*time.Minute).UTC().Format("2006-01-02T15:04")) {
		t.Fatalf("confirmed_until is not the login plus the window: %s", me)
	}

	clk.Advance(5*time.Minute + time.Second)
	for _, r := range sensitive {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			f.t = t
			b := f.expect(f.as(r.method, r.path, r.body), 403, `"code":"reauth_required"`, "/api/v1/session/confirm")
			var e errorBody
			json.Unmarshal([]byte(b), &e)
			if e.Code != "reauth_required" {
				t.Fatalf("refusal %+v", e)
			}
		})
	}
	f.t = t
	if me := f.expect(f.as("GET", "/api/v1/auth/me", ""), 200); strings.Contains(me, "confirmed_until") {
		t.Fatalf("me says confirmed after the window: %s", me)
	}
	// Reading and non-sensitive changes go on without the password.
	f.expect(f.as("GET", "/api/v1/tokens", ""), 200)
	f.expect(f.as("PUT", "/api/v1/apps/blog", strings.Replace(blogApp, `"port":5000`, `"port":5001,"version":1`, 1)), 200)

	f.expect(f.as("POST", "/api/v1/session/confirm", `{"password":"not-the-password"}`), 422, "password is wrong")
	f.expect(f.as("POST", "/api/v1/tokens", `{"name":"still"}`), 403, "reauth_required")
	f.expect(f.as("POST", "/api/v1/session/confirm", `{"password":"`+f.pw+`"}`), 200, `"confirmed_until"`)
	f.expect(f.as("POST", "/api/v1/tokens", `{"name":"confirmed"}`), 201)
	f.expect(f.as("GET", "/api/v1/apps/blog/database/password", ""), 200, `"password"`)

	clk.Advance(4 * time.Minute)
	f.expect(f.as("POST", "/api/v1/users", `{"name":"ann","password":"a-long-password-1","role":"viewer"}`), 201)
	clk.Advance(2 * time.Minute)
	f.expect(f.as("POST", "/api/v1/tokens", `{"name":"late"}`), 403, "reauth_required")

	var evs []store.Event
	f.st.View(func(tx *store.Tx) (err error) { evs, err = tx.Events(0, 100); return err })
	seen := map[store.Action]int{}
	for _, e := range evs {
		seen[e.Action]++
	}
	if seen[store.ActionConfirm] != 1 || seen[store.ActionLoginFail] != 1 {
		t.Fatalf("the trail has %d confirmations and %d failures; want 1 and 1", seen[store.ActionConfirm], seen[store.ActionLoginFail])
	}
}

// TestConfirm_tokensCannot: an API token never does a sensitive action,
// however fresh, and cannot confirm a password.
func TestConfirm_tokensCannot(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("POST", "/api/v1/apps", blogApp), 201)
	var tok tokenResponse
	json.Unmarshal([]byte(f.expect(f.as("POST", "/api/v1/tokens", `{"name":"ci"}`), 201)), &tok)
	bearer := map[string]string{"Authorization": "Bearer " + tok.Secret}
	for _, r := range sensitive {
		f.expect(f.req(r.method, r.path, r.body, bearer), 403, `"code":"session_required"`, "API tokens cannot")
	}
	f.expect(f.req("POST", "/api/v1/session/confirm", `{"password":"`+f.pw+`"}`, bearer), 400, "session_required")
	// Everything else a token may do it still does.
	f.expect(f.req("GET", "/api/v1/apps/blog", "", bearer), 200)
}

// TestPassword_endsOtherSessionsRevokesTokens: a password change ends
// every other session at once, keeps the browser that made it logged
// in, and with revoke_tokens revokes the user's API tokens, which the
// trail records.
func TestPassword_endsOtherSessionsRevokesTokens(t *testing.T) {
	f := newFixture(t)
	other := sessionOf(t, resp0(f, f.pw))
	otherHdr := map[string]string{"Cookie": sessionCookie + "=" + other}
	f.expect(f.req("GET", "/api/v1/apps", "", otherHdr), 200)
	var tok tokenResponse
	json.Unmarshal([]byte(f.expect(f.as("POST", "/api/v1/tokens", `{"name":"ci"}`), 201)), &tok)
	bearer := map[string]string{"Authorization": "Bearer " + tok.Secret}

	resp := f.as("POST", "/api/v1/auth/password", `{"current":"`+f.pw+`","new":"a-new-long-password","revoke_tokens":true}`)
	fresh := sessionOf(t, resp)
	f.expect(resp, 200, `"tokens_revoked":1`)
	f.expect(f.req("GET", "/api/v1/apps", "", otherHdr), 401, "session has ended")
	f.expect(f.req("GET", "/api/v1/apps", "", bearer), 401, "revoked")
	f.expect(f.req("GET", "/api/v1/apps", "", map[string]string{"Cookie": sessionCookie + "=" + fresh}), 200)

	evs, _ := f.st.Events(0, 1)
	if len(evs) != 1 || evs[0].Action != store.ActionUserPassword || !strings.Contains(evs[0].Detail, "1 API tokens revoked") {
		t.Fatalf("the trail does not record the change with its revocation: %+v", evs)
	}
}

// TestUsers_disabledAndSelf: disabling a user stops their session and
// their API token at once; an admin cannot disable, demote or remove
// themselves.
func TestUsers_disabledAndSelf(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("POST", "/api/v1/users", `{"name":"dana","password":"a-long-password-1","role":"deployer"}`), 201)
	resp := resp0as(f, "dana", "a-long-password-1")
	var me meResponse
	decodeJSON(t, resp, &me)
	dana := map[string]string{"Cookie": sessionCookie + "=" + sessionOf(t, resp), csrfHeader: me.CSRFToken}
	var tok tokenResponse
	json.Unmarshal([]byte(f.expect(f.req("POST", "/api/v1/tokens", `{"name":"dana-ci"}`, dana), 201)), &tok)
	bearer := map[string]string{"Authorization": "Bearer " + tok.Secret}
	f.expect(f.req("GET", "/api/v1/apps", "", bearer), 200)

	f.expect(f.as("PUT", "/api/v1/users/dana", `{"disabled":true}`), 200, `"disabled":true`)
	f.expect(f.req("GET", "/api/v1/apps", "", dana), 401)
	f.expect(f.req("GET", "/api/v1/apps", "", bearer), 401, "disabled")
	f.expect(resp0as(f, "dana", "a-long-password-1"), 401, "disabled")
	// Enabled again, the token works again; the session is gone for good.
	f.expect(f.as("PUT", "/api/v1/users/dana", `{"disabled":false}`), 200)
	f.expect(f.req("GET", "/api/v1/apps", "", bearer), 200)
	f.expect(f.req("GET", "/api/v1/apps", "", dana), 401)

	f.expect(f.as("PUT", "/api/v1/users/admin", `{"disabled":true}`), 409, "yourself")
	f.expect(f.as("PUT", "/api/v1/users/admin", `{"role":"deployer"}`), 409, "yourself")
	f.expect(f.as("DELETE", "/api/v1/users/admin", ""), 409, "yourself")
	f.expect(f.as("GET", "/api/v1/auth/me", ""), 200, `"role":"admin"`)
	f.expect(f.as("DELETE", "/api/v1/users/dana", ""), 204)
	f.expect(f.req("GET", "/api/v1/apps", "", bearer), 401)
}

func resp0as(f *fixture, user, pw string) *http.Response {
	return f.req("POST", "/api/v1/auth/login", `{"username":"`+user+`","password":"`+pw+`"}`, nil)
}

// TestCSRF_notFromQuery: the CSRF token counts in the header or a form
// body, never in the URL.
func TestCSRF_notFromQuery(t *testing.T) {
	f := newFixture(t)
	cookie := map[string]string{"Cookie": sessionCookie + "=" + f.cookie}
	f.expect(f.req("POST", "/api/v1/apps?_csrf="+url.QueryEscape(f.csrf), blogApp, cookie), 403, "CSRF")
	form := map[string]string{"Cookie": sessionCookie + "=" + f.cookie, "Content-Type": "application/x-www-form-urlencoded"}
	resp := f.req("POST", "/logout?_csrf="+url.QueryEscape(f.csrf), "x=1", form)
	f.expect(resp, 403, "CSRF")
	f.expect(f.req("GET", "/api/v1/apps", "", cookie), 200) // still logged in
	resp = f.req("POST", "/logout", "_csrf="+url.QueryEscape(f.csrf), form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout with the token in the form body: %d %s", resp.StatusCode, body(resp))
	}
	f.expect(f.req("GET", "/api/v1/apps", "", cookie), 401)
}

// TestLogin_oneBudget: the API login, the login form and the password
// confirmation draw on one budget of ten a minute per address.
func TestLogin_oneBudget(t *testing.T) {
	f := newFixture(t) // the fixture's own login is the first attempt
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for i := range 4 {
		f.expect(f.req("POST", "/api/v1/auth/login", `{"username":"admin","password":"guess-guess-guess"}`, nil), 401)
		f.expect(f.req("POST", "/login", "username=admin&password=guess-"+string(rune('a'+i)), form), 401)
	}
	f.expect(f.as("POST", "/api/v1/session/confirm", `{"password":"guess-guess-guess"}`), 422)
	// Ten spent: every door is shut now, the right password included.
	f.expect(f.req("POST", "/login", "username=admin&password="+url.QueryEscape(f.pw), form), 429, "oo many login attempts")
	f.expect(f.req("POST", "/api/v1/auth/login", `{"username":"admin","password":"`+f.pw+`"}`, nil), 429)
	f.expect(f.as("POST", "/api/v1/session/confirm", `{"password":"`+f.pw+`"}`), 429)
}

// TestSessionCookie_attributes: host-only, HttpOnly, SameSite=Strict,
// Path=/; over HTTPS (said by a trusted proxy) Secure and __Host-
// prefixed; an untrusted X-Forwarded-Proto changes nothing.
func TestSessionCookie_attributes(t *testing.T) {
	login := `{"username":"admin","password":"%s"}`
	setCookie := func(f *fixture, hdr map[string]string) string {
		t.Helper()
		resp := f.req("POST", "/api/v1/auth/login", strings.Replace(login, "%s", f.pw, 1), hdr)
		f.expect(resp, 200)
		return resp.Header.Get("Set-Cookie")
	}
	plain := newFixture(t)
	c := setCookie(plain, map[string]string{"X-Forwarded-Proto": "https"})
	for _, want := range []string{"kaj_session=", "path=/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(c, want) {
			t.Errorf("plain HTTP cookie %q lacks %q", c, want)
		}
	}
	if strings.Contains(c, "__Host-") || strings.Contains(strings.ToLower(c), "secure") || strings.Contains(strings.ToLower(c), "domain=") {
		t.Errorf("plain HTTP cookie %q is Secure, prefixed or has a Domain (X-Forwarded-Proto from an untrusted peer)", c)
	}

	proxied := newFixture(t, func(o *Options) { o.TrustedProxies = []string{"0.0.0.0"} }) // app.Test's peer
	c = setCookie(proxied, map[string]string{"X-Forwarded-Proto": "https"})
	for _, want := range []string{"__Host-kaj_session=", "path=/", "HttpOnly", "secure", "SameSite=Strict"} {
		if !strings.Contains(c, want) {
			t.Errorf("HTTPS cookie %q lacks %q", c, want)
		}
	}
	if strings.Contains(strings.ToLower(c), "domain=") {
		t.Errorf("HTTPS cookie %q has a Domain", c)
	}
	value := strings.TrimPrefix(strings.SplitN(c, ";", 2)[0], "__Host-kaj_session=")
	f := proxied
	f.expect(f.req("GET", "/api/v1/auth/me", "", map[string]string{"X-Forwarded-Proto": "https", "Cookie": "__Host-kaj_session=" + value}), 200)
	// Over HTTPS only the prefixed cookie counts: a plain one could have
	// been planted by a neighbouring host.
	f.expect(f.req("GET", "/api/v1/auth/me", "", map[string]string{"X-Forwarded-Proto": "https", "Cookie": "kaj_session=" + value}), 401)
}

// TestPages_crossSiteLinkReloads: a page link followed from another site
// comes without the Strict cookie; kaj answers with a page that reloads
// itself from its own origin (which sends the cookie) instead of the
// login, and only the reloaded request goes to the login.
func TestPages_crossSiteLinkReloads(t *testing.T) {
	f := newFixture(t)
	b := f.expect(f.req("GET", "/apps/blog?tab=logs", "", map[string]string{"Sec-Fetch-Site": "cross-site"}), 200, `http-equiv="refresh"`)
	if !strings.Contains(b, `url=/apps/blog?tab=logs"`) {
		t.Fatalf("the page does not reload itself: %s", b)
	}
	resp := f.req("GET", "/apps/blog?tab=logs", "", map[string]string{"Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("the reloaded request without a session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Never a way off the site.
	if b := body(f.req("GET", "//evil.example/x", "", map[string]string{"Sec-Fetch-Site": "cross-site"})); strings.Contains(b, "url=//") || strings.Contains(b, `href="//`) {
		t.Fatalf("the reload page leads off the site: %s", b)
	}
}

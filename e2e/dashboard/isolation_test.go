package dashboard

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestDashboard_appGetsNoSessionCookie: an app deployed through kaj and
// opened in the browser from the dashboard's own link receives no kaj
// cookie, behind the router and published on a host port alike. The
// app echoes the headers of its request (testapp's /headers). Because
// browsers do not keep cookies apart by port, the host-port case also
// shows that the same app reached on the dashboard's host (127.0.0.1,
// as links used to say) does get the session: the check would catch a
// link that leaked.
func TestDashboard_appGetsNoSessionCookie(t *testing.T) {
	for _, tc := range []struct {
		name   string
		router bool
	}{{"router", true}, {"host port", false}} {
		t.Run(tc.name, func(t *testing.T) {
			env := testutil.NewEnv(t)
			k := kajtest.Start(t, env, func(c *config.Config) { c.Router.Enabled = tc.router })
			api := k.Login(t)
			name := env.Name("echo")
			if code := api.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": env.TestAppImage(), "port": 8080, "health_path": "/healthz"}, nil); code != 201 {
				t.Fatalf("create: %d", code)
			}
			var job struct {
				Job string `json:"job"`
			}
			api.JSON("POST", "/api/v1/apps/"+name+"/deploy", nil, &job)
			if st, ev := api.WaitJob(job.Job, 3*time.Minute); st != "succeeded" {
				t.Fatalf("deploy %s: %v", st, ev)
			}

			b := newBrowser(t, k.URL)
			b.open("/apps/" + name)
			login(b, k.Password)
			// The app has no favicon; the browser asks for one and logs
			// its 404.
			b.expect("/favicon.ico")
			b.waitFor("the app's link", `document.querySelector("a.app-address") !== null`, 15*time.Second)
			href := eval[string](b, `document.querySelector("a.app-address").href`)
			link, err := url.Parse(href)
			must(t, "parsing the app's link", err)
			dash, _ := url.Parse(k.URL)
			if link.Hostname() == dash.Hostname() || link.Hostname() != name+".localhost" {
				t.Fatalf("the dashboard at %s links the app at %s; want %s.localhost, never the dashboard's own host", k.URL, href, name)
			}
			if c := eval[string](b, `document.cookie`); strings.Contains(c, "kaj") {
				t.Fatalf("the page's script reads the session cookie: %q", c)
			}

			// Follow the link's address. A navigation the browser itself
			// starts is the most generous case: it sends even SameSite=Strict
			// cookies to a host that has them.
			headers := func(at string) map[string]string {
				t.Helper()
				b.do("opening "+at, chromedp.Navigate(at), chromedp.WaitReady(chromedp.CSS("body")))
				var h map[string]string
				must(t, "decoding the app's echo", json.Unmarshal([]byte(eval[string](b, `document.body.innerText`)), &h))
				return h
			}
			h := headers(strings.TrimSuffix(href, "/") + "/headers")
			if h["Host"] != link.Host {
				t.Fatalf("the echo came from %q, not the app at %s", h["Host"], link.Host)
			}
			if strings.Contains(h["Cookie"], "kaj") {
				t.Fatalf("the app received kaj's cookie: %q", h["Cookie"])
			}
			t.Logf("the app at %s received Cookie %q", link.Host, h["Cookie"])

			if !tc.router {
				// The same container on the dashboard's host gets the
				// session: what a link to 127.0.0.1:<port> would have leaked.
				same := "http://" + dash.Hostname() + ":" + link.Port() + "/headers"
				if h := headers(same); !strings.Contains(h["Cookie"], "kaj_session=") {
					t.Fatalf("control: the app on the dashboard's host got Cookie %q; the browser should send the session there, so the check above proves nothing", h["Cookie"])
				}
			}
		})
	}
}

// TestDashboard_passwordPrompt: a sensitive action after the window asks
// for the password in a dialog, refuses a wrong one there, and goes on
// with the right one.
func TestDashboard_passwordPrompt(t *testing.T) {
	env := testutil.NewEnv(t)
	// Long enough that the retry after the password, on a loaded
	// machine, still falls inside it; short enough to wait out once.
	const window = 6 * time.Second
	k := kajtest.Start(t, env, func(c *config.Config) { c.Auth.ConfirmWindow = config.Duration(window) })
	b := newBrowser(t, k.URL)
	b.open("/tokens")
	login(b, k.Password)
	time.Sleep(window + 500*time.Millisecond) // the login's confirmation lapses

	b.expect("403") // the refused action and the wrong password; the browser logs them
	b.expect("422")
	b.typeInto("#token-name", "ci")
	b.click(`#token-form button[type="submit"]`)
	b.waitFor("the password prompt", `document.querySelector("dialog#reauth[open]") !== null`, 10*time.Second)
	b.screenshot("password-prompt")
	b.typeInto("#reauth-password", "not-the-password")
	b.click("#reauth-ok")
	b.waitFor("the prompt again, saying why", `document.querySelector("dialog#reauth[open] #reauth-error") !== null`, 10*time.Second)
	if msg := eval[string](b, `document.querySelector("#reauth-error").textContent`); !strings.Contains(msg, "wrong") {
		t.Fatalf("the prompt says %q after a wrong password", msg)
	}
	b.typeInto("#reauth-password", k.Password)
	b.click("#reauth-ok")
	b.waitFor("the new token, after the password", `document.querySelector("#token-secret").value.startsWith("kaj_")`, 10*time.Second)
	if open := eval[bool](b, `document.querySelector("dialog#reauth") !== null`); open {
		t.Fatal("the prompt stayed after the right password")
	}

	// Cancelling leaves the action undone and says why.
	time.Sleep(window + 500*time.Millisecond)
	b.typeInto("#token-name", "cancelled")
	b.click(`#token-form button[type="submit"]`)
	b.waitFor("the password prompt", `document.querySelector("dialog#reauth[open]") !== null`, 10*time.Second)
	b.click("#reauth-cancel")
	b.waitFor("the refusal shown", `!document.querySelector("#token-error").hidden && document.querySelector("#token-error").textContent.includes("password")`, 10*time.Second)
	var toks []struct {
		Name string `json:"name"`
	}
	api := k.Login(t)
	api.JSON("GET", "/api/v1/tokens", nil, &toks)
	if len(toks) != 1 || toks[0].Name != "ci" {
		t.Fatalf("tokens %+v; want only ci", toks)
	}

	// A link to kaj on another site (a chat, an e-mail) arrives without
	// the Strict cookie; kaj reloads the page from its own origin, which
	// sends it, so the user lands where the link says, still logged in.
	b.do("opening another site", chromedp.Navigate(`data:text/html,<a id="go" href="`+k.URL+`/events?from=chat">kaj</a>`))
	b.click("#go")
	b.waitFor("the linked page, logged in", `location.pathname === "/events" && document.querySelector(".me strong") !== null`, 15*time.Second)
}

package dashboard

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// login fills in the login form as a person would.
func login(b *browser, password string) {
	b.t.Helper()
	b.typeInto("#username", "admin")
	b.typeInto("#password", password)
	b.click(`form[action="/login"] button[type="submit"]`)
	b.waitFor("leaving the login page", `!location.pathname.startsWith("/login")`, 15*time.Second)
}

// TestDashboard_login: a stranger is sent to the login page, which
// explains the first start; a wrong password is refused there; the right
// one leads to the page first asked for.
func TestDashboard_login(t *testing.T) {
	env := testutil.NewEnv(t)
	k := kajtest.Start(t, env)
	b := newBrowser(t, k.URL)

	b.open("/tokens?from=bookmark")
	want := "/login?next=" + url.QueryEscape("/tokens?from=bookmark")
	if loc := b.location(); loc != k.URL+want {
		t.Fatalf("unauthenticated browser at %s; want %s", loc, k.URL+want)
	}
	if text := eval[string](b, `document.querySelector(".auth-help").innerText`); !strings.Contains(text, "initial-admin-password") || !strings.Contains(text, "admin") {
		t.Fatalf("login page does not explain the first start: %q", text)
	}
	b.screenshot("login")

	b.expect("401") // the refused login answers 401; the browser logs it
	b.typeInto("#username", "admin")
	b.typeInto("#password", "not-the-password")
	b.click(`form[action="/login"] button[type="submit"]`)
	b.waitFor("the login error", `document.querySelector(".auth-card .alert.bad") !== null`, 10*time.Second)
	if !strings.HasPrefix(b.location(), k.URL+"/login") {
		t.Fatalf("a wrong password got past the login: %s", b.location())
	}

	login(b, k.Password)
	if loc := b.location(); loc != k.URL+"/tokens?from=bookmark" {
		t.Fatalf("after login at %s; want the page first asked for", loc)
	}
	if user := eval[string](b, `document.querySelector(".me strong").textContent`); user != "admin" {
		t.Fatalf("logged in as %q", user)
	}

	// Logging out ends the session: the next page asks for a login again.
	b.click(`form[action="/logout"] button`)
	b.waitFor("the login page", `location.pathname === "/login"`, 10*time.Second)
	b.open("/")
	if loc := b.location(); !strings.HasPrefix(loc, k.URL+"/login") {
		t.Fatalf("after logout / is at %s", loc)
	}
}

// TestDashboard_deployLogsPush is a user's first hour: deploy the
// Microblog + MySQL template with one click (the test's own images stand
// in for Microblog and MySQL), watch it turn healthy, follow its log
// live, read back without the view jumping, flood it, push an image to a
// registry, look at every page, and delete the app with its data.
func TestDashboard_deployLogsPush(t *testing.T) {
	env := testutil.NewEnv(t)
	appImage := env.TestAppImageAs("kaj-e2e-web", "PORT=5000", "LOG_EVERY=300ms")
	dbImage := env.TestAppImageAs("kaj-e2e-fakedb", "FAKE_MYSQL_PORT=3306", "PORT=8081")
	// A broken release fails its health check within seconds, not the
	// default minute.
	// The password is not asked again during this long walk (the prompt
	// has its own test).
	k := kajtest.Start(t, env, func(c *config.Config) {
		c.Deploy.HealthTimeout = config.Duration(8 * time.Second)
		c.Auth.ConfirmWindow = config.Duration(time.Hour)
	})
	api := k.Login(t)
	b := newBrowser(t, k.URL)
	name := env.Name("blog")

	b.open("/")
	login(b, k.Password)
	b.waitFor("the empty apps list", `document.querySelector(".empty") !== null`, 10*time.Second)
	b.screenshot("apps-empty")

	// One click: the template, with the generated settings shown first.
	b.open("/apps/new")
	b.click(`[data-choose="microblog-mysql"]`)
	b.typeInto("#tpl-name", name)
	b.typeInto("#tpl-image", appImage)
	b.typeInto("#tpl-db-image", dbImage)
	b.waitFor("the preview of the generated settings",
		`document.querySelector("#tpl-preview-props").innerText.includes("SECRET_KEY") && document.querySelector("#tpl-preview-props").innerText.includes(`+js(dbImage)+`)`, 10*time.Second)
	if txt := eval[string](b, `document.querySelector("#tpl-preview-props").innerText`); !strings.Contains(txt, "generated") || !strings.Contains(txt, name+"-data") {
		t.Fatalf("preview does not show the generated settings: %q", txt)
	}
	b.screenshot("new-app")
	b.click("#tpl-deploy")
	b.waitFor("the deploy to end", `["succeeded","failed","canceled"].includes(document.querySelector("#deploy-panel").dataset.status)`, 3*time.Minute)
	if st := eval[string](b, `document.querySelector("#deploy-panel").dataset.status`); st != "succeeded" {
		b.screenshot("failure-deploy")
		t.Fatalf("deploy %s: %s", st, eval[string](b, `document.querySelector("#deploy-panel").innerText`))
	}
	for _, step := range []string{"image", "network", "database", "start", "health", "switch"} {
		if st := eval[string](b, `(document.querySelector('#deploy-panel [data-step="`+step+`"]') || {dataset: {}}).dataset.status || ""`); st != "succeeded" {
			t.Errorf("deploy step %s shows %q", step, st)
		}
	}
	b.screenshot("deploy-progress")

	// The apps list shows it running, with its database.
	b.open("/")
	row := `document.querySelector('tr[data-key="` + name + `"]')`
	b.waitFor("the app to show as running", row+` && `+row+`.dataset.state === "running"`, 30*time.Second)
	if txt := eval[string](b, row+`.innerText`); !strings.Contains(txt, "mysql") || !strings.Contains(txt, "#1") || !strings.Contains(txt, "admin") {
		t.Fatalf("apps row lacks database, release or who deployed: %q", txt)
	}
	b.screenshot("apps")

	b.open("/apps/" + name)
	b.waitFor("the app page", `document.querySelector("#app-head h1") !== null`, 10*time.Second)
	b.screenshot("app-overview")

	// Deploy again from the app page, then roll back to the first release.
	b.click("#deploy-btn")
	panel := `document.querySelector("#deploy-panel")`
	b.waitFor("the redeploy to end", panel+`.dataset.status && `+panel+`.dataset.status !== "running"`, 3*time.Minute)
	if st := eval[string](b, panel+`.dataset.status`); st != "succeeded" {
		t.Fatalf("redeploy %s: %s", st, eval[string](b, panel+`.innerText`))
	}
	b.click("#tab-releases")
	b.waitFor("release 2 live, release 1 ready to return to", `document.querySelector('[data-key="release-2"]') && document.querySelector('[data-key="release-2"]').innerText.includes("live") && document.querySelector('[data-rollback="1"]') !== null`, 15*time.Second)
	b.click(`[data-rollback="1"]`)
	b.click(`dialog[open] button[value="ok"]`)
	b.waitFor("the rollback to start", panel+`.dataset.status === "running" || `+panel+`.querySelector(".job-title").textContent.includes("back")`, 10*time.Second)
	b.waitFor("the rollback to end", panel+`.dataset.status !== "running"`, 3*time.Minute)
	if st := eval[string](b, panel+`.dataset.status`); st != "succeeded" {
		t.Fatalf("rollback %s: %s", st, eval[string](b, panel+`.innerText`))
	}
	b.click("#tab-releases")
	b.waitFor("release 3, a rollback to 1, live", `document.querySelector('[data-key="release-3"]') && document.querySelector('[data-key="release-3"]').innerText.includes("rollback to #1") && document.querySelector('[data-key="release-3"]').innerText.includes("live")`, 15*time.Second)
	b.screenshot("app-releases")

	var app struct {
		URL string `json:"url"`
	}
	if code := api.JSON("GET", "/api/v1/apps/"+name, nil, &app); code != 200 || app.URL == "" {
		t.Fatalf("app %s: %d %+v", name, code, app)
	}

	// Logs: new lines arrive without a reload.
	b.click("#tab-logs")
	eval[bool](b, `window.__samePage = true`)
	logs := `document.querySelector("#logs")`
	b.waitFor("log lines", logs+`.dataset.conn === "live" && Number(`+logs+`.dataset.lines) > 0`, 20*time.Second)
	first := eval[int](b, `Number(`+logs+`.dataset.lines)`)
	b.waitFor("new log lines", `Number(`+logs+`.dataset.lines) >= `+fmt.Sprint(first+3), 15*time.Second)
	if !eval[bool](b, `window.__samePage === true`) {
		t.Fatal("the page reloaded to show new lines")
	}
	b.waitFor("a stderr line, marked as such", `document.querySelector(".log-line.stderr .ln-text") !== null`, 10*time.Second)
	post(t, app.URL+"/log?n=2&text="+url.QueryEscape("\x1b[31mansi-red\x1b[0m"))
	b.waitFor("the ANSI colour rendered", `[...document.querySelectorAll(".log-line .a-f1")].some(e => e.textContent === "ansi-red")`, 10*time.Second)

	b.click("#log-times")
	b.waitFor("timestamps on the lines", `/^\d\d:\d\d:\d\d\.\d{3}$/.test(document.querySelector(".log-line .ln-time").textContent)`, 5*time.Second)
	b.click("#log-times")
	b.waitFor("timestamps off", `document.querySelector(".log-line .ln-time") === null`, 5*time.Second)

	// Reading back: with the view scrolled up, arriving lines do not move it.
	post(t, app.URL+"/log?n=400&text=filler")
	b.waitFor("the filler lines", `[...document.querySelectorAll(".log-line")].some(e => e.textContent.includes("filler 400"))`, 15*time.Second)
	view := `document.querySelector("#log-view")`
	eval[bool](b, view+`.scrollTop = 2000; true`)
	b.waitFor("the view to stop following", logs+`.dataset.follow === "false"`, 5*time.Second)
	top := eval[float64](b, view+`.scrollTop`)
	firstRow := `(() => { const v = ` + view + `, r = v.getBoundingClientRect(); return [...v.querySelectorAll(".log-line")].find(e => e.getBoundingClientRect().top >= r.top - 1).dataset.n })()`
	topLine := eval[string](b, firstRow)
	before := eval[int](b, `Number(`+logs+`.dataset.lines)`)
	b.waitFor("more lines while reading", `Number(`+logs+`.dataset.lines) >= `+fmt.Sprint(before+5), 15*time.Second)
	if now := eval[float64](b, view+`.scrollTop`); now != top {
		t.Fatalf("the view moved from %v to %v while lines arrived", top, now)
	}
	if now := eval[string](b, firstRow); now != topLine {
		t.Fatalf("the top line changed from %s to %s while lines arrived", topLine, now)
	}
	if !eval[bool](b, `!document.querySelector("#log-jump").hidden && document.querySelector("#log-jump").textContent.includes("new")`) {
		t.Fatal("no 'new lines' button while reading back")
	}
	b.screenshot("logs-reading")
	b.click("#log-jump")
	b.waitFor("following again", logs+`.dataset.follow === "true" && `+view+`.scrollTop + `+view+`.clientHeight >= `+view+`.scrollHeight - 2`, 5*time.Second)

	// Pause holds lines back without losing them.
	b.click("#log-pause")
	held := eval[int](b, `Number(`+logs+`.dataset.lines)`)
	b.waitFor("lines held while paused", `Number(`+logs+`.dataset.pending) >= 3`, 10*time.Second)
	if n := eval[int](b, `Number(`+logs+`.dataset.lines)`); n != held {
		t.Fatalf("the view changed while paused: %d lines, was %d", n, held)
	}
	pending := eval[int](b, `Number(`+logs+`.dataset.pending)`)
	b.click("#log-pause")
	if n := eval[int](b, `Number(`+logs+`.dataset.lines)`); n < held+pending {
		t.Fatalf("after resuming %d lines; want at least %d + %d held", n, held, pending)
	}

	// Filter: only matching lines, and the count says so.
	b.typeInto("#log-filter", "ansi-red")
	b.waitFor("the filter", logs+`.dataset.shown === "2"`, 5*time.Second)
	b.typeInto("#log-filter", "")
	b.waitFor("the filter cleared", `Number(`+logs+`.dataset.shown) > 400`, 5*time.Second)

	// Download: every line held, with time and stream, colours stripped.
	eval[bool](b, `window.__downloads = []; (orig => { URL.createObjectURL = blob => { window.__downloads.push(blob); return orig(blob); }; })(URL.createObjectURL.bind(URL)); true`)
	b.click("#log-download")
	b.waitFor("the download", `window.__downloads.length === 1`, 5*time.Second)
	file, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`window.__downloads[0].text()`, chromedp.EvalAwaitPromise))
	must(t, "reading the downloaded log", err)
	if lines := strings.Count(file, "\n"); lines < 400 || !strings.Contains(file, " stdout filler 400\n") ||
		!strings.Contains(file, " stderr tick ") || !strings.Contains(file, " stdout ansi-red 1\n") || strings.Contains(file, "\x1b") {
		t.Fatalf("downloaded log (%d lines) lacks lines, streams or times, or keeps escape codes:\n%.600s", lines, file)
	}

	// A hundred thousand lines: the page keeps a bounded DOM and counts.
	post(t, app.URL+"/flood?n=100000")
	b.waitFor("a hundred thousand lines", `Number(`+logs+`.dataset.lines) + Number(`+logs+`.dataset.dropped) + Number(`+logs+`.dataset.skipped) >= 100000`, 2*time.Minute)
	if n := eval[int](b, `document.querySelectorAll("#log-view .log-line").length`); n == 0 || n > 200 {
		t.Fatalf("%d log rows in the DOM after 100,000 lines; the view must stay bounded", n)
	}
	if txt := eval[string](b, `document.querySelector("#log-count").textContent`); !strings.Contains(txt, ",") {
		t.Fatalf("line count not shown: %q", txt)
	}
	b.screenshot("logs")

	// The database container's log, then the app's again.
	b.do("choosing the database's log", chromedp.SetValue(chromedp.CSS("#log-container"), "db"))
	b.waitFor("the database's lines", logs+`.dataset.conn === "live" && [...document.querySelectorAll(".log-line")].some(e => e.textContent.includes("listening on :8081"))`, 20*time.Second)
	b.do("choosing the app's log", chromedp.SetValue(chromedp.CSS("#log-container"), "app"))
	b.waitFor("the app's lines", logs+`.dataset.conn === "live" && [...document.querySelectorAll(".log-line")].some(e => e.textContent.startsWith("tick"))`, 20*time.Second)

	// Push the app's image to a registry, watching it reach 100%.
	reg := testutil.NewMemRegistry(t)
	target := reg.Host + "/kaj-e2e/pushed:1"
	b.open("/images")
	b.do("choosing the image", chromedp.SetValue(chromedp.CSS("#push-image"), appImage))
	b.typeInto("#push-target", target)
	b.click("#push-btn")
	b.waitFor("the push to end", `["succeeded","failed"].includes(document.querySelector("#push-panel").dataset.status)`, 2*time.Minute)
	if st := eval[string](b, `document.querySelector("#push-panel").dataset.status`); st != "succeeded" {
		t.Fatalf("push %s: %s", st, eval[string](b, `document.querySelector("#push-panel").innerText`))
	}
	if pct := eval[string](b, `document.querySelector("#push-panel .total-pct").dataset.pct`); pct != "100" {
		t.Fatalf("push progress ended at %s%%", pct)
	}
	resp, err := http.Get(reg.URL() + "/v2/kaj-e2e/pushed/manifests/1")
	must(t, "reading the pushed manifest", err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the registry has no pushed manifest: %d", resp.StatusCode)
	}
	b.screenshot("push")

	// An app from an image on a registry: the deploy pulls it, with a bar
	// per layer, and the app page follows it.
	pulled := env.Name("pulled")
	b.open("/apps/new#image")
	b.typeInto("#img-name", pulled)
	b.typeInto("#img-image", target)
	b.typeInto("#img-port", "5000")
	b.typeInto("#img-health", "/healthz")
	b.click(`#image-form button[value="deploy"]`)
	b.waitFor("the app page following the deploy", `location.pathname === "/apps/`+pulled+`" && document.querySelector("#deploy-panel").dataset.status`, 20*time.Second)
	b.waitFor("the pull and deploy to end", `document.querySelector("#deploy-panel").dataset.status !== "running"`, 2*time.Minute)
	if st := eval[string](b, `document.querySelector("#deploy-panel").dataset.status`); st != "succeeded" {
		t.Fatalf("deploy of %s %s: %s", target, st, eval[string](b, `document.querySelector("#deploy-panel").innerText`))
	}
	if n := eval[int](b, `document.querySelectorAll('#deploy-panel [data-step="image"] .layer').length`); n < 1 {
		t.Fatal("no layer progress for the pull")
	}
	if msg := eval[string](b, `document.querySelector('#deploy-panel [data-step="image"] .step-msg').textContent`); !strings.Contains(msg, "pulled") {
		t.Fatalf("image step says %q; want a pull", msg)
	}
	if pct := eval[string](b, `document.querySelector("#deploy-panel .total-pct").dataset.pct`); pct != "100" {
		t.Fatalf("pull progress ended at %s%%", pct)
	}
	b.screenshot("deploy-pull")

	// Registries: add a credential after testing it, test it stored,
	// remove it.
	b.open("/registries")
	b.typeInto("#reg-host", reg.Host)
	b.typeInto("#reg-user", "deploy")
	b.typeInto("#reg-password", "a-registry-token")
	b.click("#registry-test")
	b.waitFor("the test's answer", `!document.querySelector("#registry-note").hidden`, 15*time.Second)
	if note := eval[string](b, `document.querySelector("#registry-note").textContent`); !strings.Contains(note, "accepted") {
		t.Fatalf("testing the registry: %q", note)
	}
	b.click(`#registry-form button[type="submit"]`)
	b.waitFor("the saved credential", `document.querySelector('tr[data-key="`+reg.Host+`"]') !== null`, 10*time.Second)
	b.click(`[data-test="` + reg.Host + `"]`)
	b.waitFor("the stored credential's test", `document.querySelector('[data-result-for="`+reg.Host+`"]').textContent === "works"`, 15*time.Second)
	b.screenshot("registries")
	b.click(`[data-delete="` + reg.Host + `"]`)
	b.click(`dialog[open] button[value="ok"]`)
	b.waitFor("the credential gone", `document.readyState === "complete" && document.querySelector('tr[data-key="`+reg.Host+`"]') === null`, 10*time.Second)

	// The other pages, for the screenshots and to see they render cleanly.
	b.open("/lint")
	b.do("loading the template's Dockerfile", chromedp.SetValue(chromedp.CSS("#lint-example"), "microblog-mysql"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#lint-example").dispatchEvent(new Event("change"))`))
	b.waitFor("lint results", `document.querySelector("#lint-summary").textContent !== "Paste a Dockerfile and check it."`, 10*time.Second)
	b.do("pasting a Dockerfile", chromedp.SetValue(chromedp.CSS("#lint-input"), "FROM debian\nRUN apt-get update && apt-get install curl\n"))
	b.click(`#lint-form button[type="submit"]`)
	b.waitFor("findings by line", `[...document.querySelectorAll("#lint-findings .finding")].some(f => f.dataset.line === "1" && f.innerText.includes("DL3006"))`, 10*time.Second)
	b.screenshot("lint")
	b.open("/tokens")
	b.typeInto("#token-name", "ci")
	b.click(`#token-form button[type="submit"]`)
	b.waitFor("the new token, shown once", `document.querySelector("#token-secret").value.startsWith("kaj_")`, 10*time.Second)
	b.waitFor("the token in the list", `document.querySelector('[data-fragment="list"]').innerText.includes("ci")`, 10*time.Second)
	b.screenshot("tokens")
	b.open("/users")
	b.typeInto("#user-name", "alice")
	b.click("#user-generate")
	if pw := eval[string](b, `document.querySelector("#user-password").value`); len(pw) < 12 {
		t.Fatalf("generated password %q is too short", pw)
	}
	b.click(`#user-form button[type="submit"]`)
	b.waitFor("the new user", `document.querySelector('tr[data-key="alice"]') !== null`, 10*time.Second)
	b.screenshot("users")
	b.open("/events")
	b.waitFor("the live event feed", `document.querySelector("#events-conn").dataset.state === "live"`, 10*time.Second)
	b.screenshot("events")
	b.open("/account")
	b.screenshot("account")

	// The database panel: the password shows only on request.
	b.open("/apps/" + name + "#database")
	if eval[string](b, `document.querySelector("#db-password").textContent`) == "" ||
		!eval[bool](b, `document.querySelector("#db-password").dataset.masked === "true"`) {
		t.Fatal("the database password is not masked")
	}
	b.click("#db-reveal")
	b.waitFor("the revealed password", `document.querySelector("#db-password").dataset.masked === "false" && document.querySelector("#db-password").textContent.length === 24`, 10*time.Second)
	b.screenshot("app-database")
	// The env editor: a new plain variable is saved; the secret, shown
	// empty, keeps its stored value.
	b.open("/apps/" + name + "#env")
	b.click("#env-add")
	b.do("typing a variable", chromedp.SendKeys(chromedp.CSS(`#env-rows .env-row:last-child input[name="name"]`), "GREETING"),
		chromedp.SendKeys(chromedp.CSS(`#env-rows .env-row:last-child input[name="value"]`), "hello"))
	b.screenshot("app-env")
	b.click(`#env-form button[value="save"]`)
	var saved struct {
		Env []struct {
			Name   string `json:"name"`
			Value  string `json:"value"`
			Secret bool   `json:"secret"`
		} `json:"env"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		api.JSON("GET", "/api/v1/apps/"+name, nil, &saved)
		got := map[string]string{}
		for _, e := range saved.Env {
			got[e.Name] = fmt.Sprintf("%s secret=%v", e.Value, e.Secret)
		}
		if got["GREETING"] == "hello secret=false" && got["SECRET_KEY"] == " secret=true" && got["LOG_TO_STDOUT"] == "1 secret=false" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("env after saving: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A release whose health check fails: the deploy stops there, shows
	// the container's last log lines, and the running release stays.
	b.click("#env-add")
	b.do("typing a variable", chromedp.SendKeys(chromedp.CSS(`#env-rows .env-row:last-child input[name="name"]`), "HEALTH_STATUS"),
		chromedp.SendKeys(chromedp.CSS(`#env-rows .env-row:last-child input[name="value"]`), "500"))
	b.click(`#env-form button[value="deploy"]`)
	b.waitFor("the broken deploy to end", `["failed","succeeded"].includes(document.querySelector("#deploy-panel").dataset.status)`, 2*time.Minute)
	if st := eval[string](b, `document.querySelector("#deploy-panel").dataset.status`); st != "failed" {
		t.Fatalf("an unhealthy release deployed: %s", st)
	}
	if st := eval[string](b, `document.querySelector('#deploy-panel [data-step="health"]').dataset.status`); st != "failed" {
		t.Fatalf("health step shows %q", st)
	}
	if tail := eval[string](b, `(document.querySelector("#deploy-panel .log-tail") || {textContent: ""}).textContent`); !strings.Contains(tail, "stderr: tick ") {
		t.Fatalf("no log tail of the failed container: %q", tail)
	}
	b.waitFor("the previous release still shown running", `document.querySelector("#app-head .badge").innerText.includes("running")`, 15*time.Second)
	b.screenshot("deploy-failed")
	if code, _ := http.Get(app.URL + "/healthz"); code == nil || code.StatusCode != 200 {
		t.Fatal("the running release stopped serving after the failed deploy")
	}
	// Make it healthy again.
	b.click("#tab-env")
	b.do("removing HEALTH_STATUS", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#env-rows .env-row")].find(r => r.querySelector('[name="name"]').value === "HEALTH_STATUS").querySelector("[data-remove]").click()`))
	b.click(`#env-form button[value="save"]`)
	b.waitFor("the save", `[...document.querySelectorAll(".toast")].some(t => t.textContent.includes("Saved"))`, 10*time.Second)

	// Stop and start from the header; the state follows without a reload.
	b.open("/apps/" + name)
	b.click(`#startstop-btn[data-action="stop"]`)
	b.waitFor("the app to show as stopped", `document.querySelector("#app-head").innerText.includes("stopped") && document.querySelector('#startstop-btn[data-action="start"]') !== null`, 30*time.Second)
	b.click(`#startstop-btn[data-action="start"]`)
	b.waitFor("the app to show as running", `document.querySelector("#app-head .badge").innerText.includes("running")`, 30*time.Second)

	// Dark theme, by the toggle: system, light, dark.
	b.open("/apps/" + name)
	b.click("#theme-toggle")
	b.click("#theme-toggle")
	if th := eval[string](b, `document.documentElement.dataset.theme || ""`); th != "dark" {
		t.Fatalf("theme after two toggles: %q", th)
	}
	b.screenshot("app-overview-dark")
	b.open("/apps/" + name + "#logs")
	b.waitFor("log lines", logs+`.dataset.conn === "live" && Number(`+logs+`.dataset.lines) > 0`, 20*time.Second)
	b.screenshot("logs-dark")
	b.open("/")
	b.screenshot("apps-dark")
	b.do("a phone's screen", chromedp.EmulateViewport(390, 844))
	b.open("/")
	b.screenshot("apps-mobile")
	b.do("a desktop screen", chromedp.EmulateViewport(1360, 900))

	// Delete asks, and asks again before deleting the data.
	volume := name + "-data"
	b.open("/apps/" + name + "#settings")
	b.click(`[data-open="delete-dialog"]`)
	b.click("#delete-data")
	b.click("#delete-confirm")
	b.waitFor("the second question", `document.querySelector("#delete-data-dialog").open`, 5*time.Second)
	if !eval[bool](b, `document.querySelector("#delete-data-confirm").disabled`) {
		t.Fatal("the data can be deleted without typing the app's name")
	}
	b.screenshot("delete-data")
	b.typeInto("#delete-data-name", name)
	b.click("#delete-data-confirm")
	b.waitFor("the apps list", `location.pathname === "/"`, 60*time.Second)
	if code, _ := api.Do("GET", "/api/v1/apps/"+name, nil); code != 404 {
		t.Fatalf("app still there after delete: %d", code)
	}
	if _, err := env.Client.VolumeInspect(t.Context(), volume, mclient.VolumeInspectOptions{}); err == nil {
		t.Fatalf("volume %s kept after deleting with data", volume)
	}
}

func post(t *testing.T, u string) {
	t.Helper()
	resp, err := http.Post(u, "text/plain", nil)
	must(t, "POST "+u, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %d", u, resp.StatusCode)
	}
}

// TestDashboard_openAppThroughRouter: the app page links to the app's
// stable *.localhost address on kaj's router, and the browser, following
// that link, reaches the app through the front door.
func TestDashboard_openAppThroughRouter(t *testing.T) {
	env := testutil.NewEnv(t)
	img := env.TestAppImageAs("kaj-e2e-link", "PORT=5000", "VERSION=linked")
	k := kajtest.Start(t, env)
	api := k.Login(t)
	name := env.Name("link")
	if code := api.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": img, "port": 5000}, nil); code != 201 {
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
	b.waitFor("the app's link", `document.querySelector("a.app-url") !== null`, 15*time.Second)
	href := eval[string](b, `document.querySelector("a.app-url").href`)
	u, _ := url.Parse(k.RouterURL)
	if want := "http://" + name + ".localhost:" + u.Port() + "/"; href != want {
		t.Fatalf("the app page links to %q; want the router address %q", href, want)
	}
	b.screenshot("app-link")
	// The app has no favicon; the browser asks for one and logs its 404.
	b.expect("/favicon.ico")
	b.do("following the app's link", chromedp.Navigate(href+"env"), chromedp.WaitReady(chromedp.CSS("body")))
	if body := eval[string](b, `document.body.innerText`); !strings.Contains(body, `"VERSION":"linked"`) {
		t.Fatalf("the browser at %s got %q; want the app's answer", href, body)
	}
}

package dashboard

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// overflow is a script listing what sticks out past the viewport's right
// edge, empty when the document is exactly as wide as the viewport.
const overflow = `(() => {
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= vw) return "";
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.right > vw + 1 && r.width > 0 && getComputedStyle(el).position !== "fixed") {
      out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") + " right=" + Math.round(r.right));
      if (out.length > 6) break;
    }
  }
  return "document " + document.documentElement.scrollWidth + "px wide in a " + vw + "px viewport: " + out.join(", ");
})()`

// TestDashboard_fitsEveryWidth opens every main page at 360 px, 768 px
// and desktop width, light and dark, and checks that nothing overflows
// horizontally (the document is exactly as wide as the viewport), with a
// screenshot of each.
func TestDashboard_fitsEveryWidth(t *testing.T) {
	env := testutil.NewEnv(t)
	k := kajtest.Start(t, env)
	api := k.Login(t)
	name := env.Name("narrow")
	if code := api.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": env.TestAppImage("LOG_EVERY=500ms"), "port": 8080, "health_path": "/healthz",
		"env": []map[string]any{{"name": "A_RATHER_LONG_VARIABLE_NAME_FOR_A_NARROW_SCREEN", "value": strings.Repeat("x", 80)}}}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	var job struct {
		Job string `json:"job"`
	}
	api.JSON("POST", "/api/v1/apps/"+name+"/deploy", nil, &job)
	if st, ev := api.WaitJob(job.Job, 2*time.Minute); st != "succeeded" {
		t.Fatalf("deploy %s: %v", st, ev)
	}
	b := newBrowser(t, k.URL)
	b.open("/")
	login(b, k.Password)

	// Download saves what the filter shows; wrapping lays long lines out
	// in full.
	b.open("/apps/" + name)
	b.click("#tab-logs")
	b.waitFor("some stderr lines", `document.querySelectorAll("#log-view .log-line.stderr").length >= 2`, 30*time.Second)
	b.typeInto("#log-filter", "err")
	b.waitFor("the filter", `Array.from(document.querySelectorAll("#log-view .log-line")).every(l => l.textContent.includes("err"))`, 10*time.Second)
	eval[bool](b, `(() => { const orig = URL.createObjectURL; URL.createObjectURL = (blob) => { blob.text().then((t) => (window.downloaded = t)); return orig(blob); }; return true; })()`)
	b.click("#log-download")
	b.waitFor("the download", `typeof window.downloaded === "string"`, 10*time.Second)
	dl := eval[string](b, `window.downloaded`)
	lines := strings.Split(strings.TrimSpace(dl), "\n")
	for _, l := range lines {
		if !strings.Contains(l, "err") {
			t.Fatalf("the download holds a line the filter hides: %q (of %d)", l, len(lines))
		}
	}
	if len(lines) < 1 || !strings.Contains(dl, "stderr") {
		t.Fatalf("the download is %q", dl)
	}
	b.click("#log-wrap")
	b.waitFor("wrapped lines", `document.querySelector("#log-view").classList.contains("wrap") && getComputedStyle(document.querySelector("#log-view .log-line")).whiteSpace === "pre-wrap"`, 5*time.Second)
	b.click("#log-wrap")
	b.typeInto("#log-filter", "")

	// The apps list's CPU and memory column fills from the live stream.
	b.open("/")
	b.waitFor("the usage column", `document.querySelector('td.usage[data-usage=`+js(name)+`]').textContent.includes("%")`, 20*time.Second)

	pages := []struct{ name, path, tab string }{
		{"apps", "/", ""}, {"app", "/apps/" + name, ""}, {"app-logs", "/apps/" + name + "#logs", "#tab-logs"},
		{"app-env", "/apps/" + name + "#env", "#tab-env"}, {"app-resources", "/apps/" + name + "#resources", "#tab-resources"},
		{"app-terminal", "/apps/" + name + "#terminal", "#tab-terminal"}, {"app-settings", "/apps/" + name + "#settings", "#tab-settings"},
		{"new", "/apps/new", ""}, {"images", "/images", ""}, {"registries", "/registries", ""}, {"lint", "/lint", ""},
		{"tokens", "/tokens", ""}, {"users", "/users", ""}, {"events", "/events", ""}, {"notifications", "/notifications", ""},
		{"account", "/account", ""},
	}
	for _, width := range []int{360, 768, 1360} {
		for _, theme := range []string{"light", "dark"} {
			b.do("sizing the window", chromedp.EmulateViewport(int64(width), 800))
			eval[bool](b, `(localStorage.setItem("kaj-theme", `+js(theme)+`), true)`)
			for _, p := range pages {
				b.open(p.path)
				if got := eval[string](b, `document.documentElement.dataset.theme || ""`); got != theme {
					t.Fatalf("%s: theme %q; want %q", p.name, got, theme)
				}
				if p.tab != "" {
					b.click(p.tab)
				}
				time.Sleep(150 * time.Millisecond) // let fonts and live parts settle
				shot := fmt.Sprintf("fit-%s-%d-%s", p.name, width, theme)
				if msg := eval[string](b, overflow); msg != "" {
					b.screenshot("failure-" + shot)
					t.Errorf("%s at %d px, %s: %s", p.name, width, theme, msg)
					continue
				}
				b.screenshot(shot)
			}
		}
	}
	// The login page too, logged out.
	b.click(`form[action="/logout"] button`)
	b.waitFor("the login page", `location.pathname === "/login"`, 10*time.Second)
	for _, width := range []int{360, 768, 1360} {
		b.do("sizing the window", chromedp.EmulateViewport(int64(width), 800))
		b.open("/login")
		if msg := eval[string](b, overflow); msg != "" {
			t.Errorf("login at %d px: %s", width, msg)
		}
	}
}

// fakeXterm stands in for a browser build of xterm.js: a Terminal with
// the xterm 4/5 API that prints what it is written into the page, so a
// test can read it. Padded past kaj's stub check.
const fakeXterm = `window.Terminal = class {
  constructor() { this.rows = 24; this.cols = 80; this.handlers = []; }
  open(el) { this.el = document.createElement("pre"); this.el.className = "fake-xterm"; el.append(this.el); }
  write(s) { this.el.textContent += s; }
  onData(f) { this.handlers.push(f); }
  input(s) { for (const f of this.handlers) f(s); }
  focus() {}
  dispose() { this.el.remove(); }
};
window.fakeTerminals = [];
const Real = window.Terminal;
window.Terminal = class extends Real { constructor(o) { super(o); window.fakeTerminals.push(this); } };
`

// TestDashboard_statsAndTerminal: the Resources tab's charts update
// from the live stream; the Terminal tab echoes, with kaj's line console
// when the host's xterm.js is missing or Debian 12's unusable stub, and
// with xterm.js served from kaj's own origin when it is a browser build.
func TestDashboard_statsAndTerminal(t *testing.T) {
	env := testutil.NewEnv(t)
	image := env.ShellImage()
	for _, tc := range []struct {
		name  string
		xterm func(t *testing.T) string
	}{
		{"line-console", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none") }},
		{"xterm", func(t *testing.T) string {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "xterm.js"), []byte(fakeXterm+"/*"+strings.Repeat(" padding ", 600)+"*/\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "xterm.css"), []byte(".fake-xterm{margin:0}\n"), 0o644)
			return dir
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.xterm(t)
			k := kajtest.Start(t, env, func(c *config.Config) { c.Dashboard.XtermDir = dir })
			api := k.Login(t)
			name := env.Name("ops")
			if code := api.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": image, "port": 8080, "health_path": "/healthz"}, nil); code != 201 {
				t.Fatalf("create: %d", code)
			}
			var job struct {
				Job string `json:"job"`
			}
			api.JSON("POST", "/api/v1/apps/"+name+"/deploy", nil, &job)
			if st, ev := api.WaitJob(job.Job, 2*time.Minute); st != "succeeded" {
				t.Fatalf("deploy %s: %v", st, ev)
			}
			b := newBrowser(t, k.URL)
			b.open("/")
			login(b, k.Password)
			b.open("/apps/" + name)

			b.click("#tab-resources")
			b.waitFor("three readings", `Number(document.querySelector("#panel-resources").dataset.samples || 0) >= 3`, 30*time.Second)
			before := eval[string](b, `document.querySelector("#chart-mem polyline").getAttribute("points")`)
			n := eval[int](b, `Number(document.querySelector("#panel-resources").dataset.samples)`)
			b.waitFor("another reading", fmt.Sprintf(`Number(document.querySelector("#panel-resources").dataset.samples) > %d`, n), 15*time.Second)
			after := eval[string](b, `document.querySelector("#chart-mem polyline").getAttribute("points")`)
			if before == after || strings.Count(after, ",") < 3 {
				t.Fatalf("the memory chart did not move: %q then %q", before, after)
			}
			if txt := eval[string](b, `document.querySelector("#stat-mem").textContent`); !strings.Contains(txt, "B") {
				t.Fatalf("memory reads %q", txt)
			}
			b.screenshot("resources-" + tc.name)

			b.click("#tab-terminal")
			kind := eval[string](b, `document.querySelector("#term-kind").textContent`)
			b.click("#term-open")
			b.waitFor("the session to open", `!document.querySelector("#term-close").disabled`, 15*time.Second)
			if tc.name == "xterm" {
				if !strings.Contains(kind, "xterm.js") {
					t.Fatalf("the page does not say it uses xterm.js: %q", kind)
				}
				b.waitFor("xterm.js to start", `window.fakeTerminals && window.fakeTerminals.length === 1`, 10*time.Second)
				eval[bool](b, `(window.fakeTerminals[0].input("echo from-$((40+2))-xterm\r"), true)`)
				b.waitFor("the echo", `document.querySelector(".fake-xterm").textContent.includes("from-42-xterm")`, 15*time.Second)
			} else {
				if !strings.Contains(kind, "line console") {
					t.Fatalf("the page does not say it uses the line console: %q", kind)
				}
				b.typeInto("#term-input", "echo from-$((40+2))-console")
				b.click(`#term-line button[type="submit"]`)
				b.waitFor("the echo", `document.querySelector("#term-screen").textContent.includes("from-42-console")`, 15*time.Second)
				// Ctrl-C interrupts a running command.
				b.typeInto("#term-input", "sleep 30")
				b.click(`#term-line button[type="submit"]`)
				time.Sleep(300 * time.Millisecond)
				b.click("#term-ctrlc")
				b.typeInto("#term-input", "echo back-$((1+1))")
				b.click(`#term-line button[type="submit"]`)
				b.waitFor("the prompt after Ctrl-C", `document.querySelector("#term-screen").textContent.includes("back-2")`, 10*time.Second)
			}
			b.screenshot("terminal-" + tc.name)
			b.click("#term-close")
		})
	}
}

// TestDashboard_viewerSeesNoActions: a viewer reads the app page and its
// logs, with no deploy, settings, terminal or user management offered;
// the pages an admin alone may use refuse them.
func TestDashboard_viewerSeesNoActions(t *testing.T) {
	env := testutil.NewEnv(t)
	k := kajtest.Start(t, env)
	api := k.Login(t)
	name := env.Name("view")
	if code := api.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": "example.invalid/app:1", "port": 8080}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if code := api.JSON("POST", "/api/v1/users", map[string]any{"name": "vera", "password": "a-long-password-1", "role": "viewer"}, nil); code != 201 {
		t.Fatalf("creating the viewer: %d", code)
	}
	b := newBrowser(t, k.URL)
	b.open("/")
	b.typeInto("#username", "vera")
	b.typeInto("#password", "a-long-password-1")
	b.click(`form[action="/login"] button[type="submit"]`)
	b.waitFor("leaving the login page", `!location.pathname.startsWith("/login")`, 15*time.Second)
	b.waitFor("the apps page", `document.querySelector('a[href="/apps/new"]') !== null`, 15*time.Second)
	if v := eval[bool](b, `document.querySelector('a[href="/apps/new"]').offsetParent !== null`); v {
		t.Fatal("a viewer is offered New app")
	}
	if v := eval[bool](b, `document.querySelector('a[href="/users"]') !== null`); v {
		t.Fatal("a viewer is offered Users")
	}
	b.open("/apps/" + name)
	for sel, what := range map[string]string{"#deploy-btn": "Deploy", `#settings-form button[type="submit"]`: "Save settings", `[data-open="delete-dialog"]`: "Delete"} {
		if eval[bool](b, `(() => { const e = document.querySelector(`+js(sel)+`); return !!e && e.offsetParent !== null; })()`) {
			t.Errorf("a viewer is offered %s", what)
		}
	}
	if eval[bool](b, `document.querySelector("#tab-terminal") !== null`) {
		t.Error("a viewer is offered the terminal")
	}
	if role := eval[string](b, `document.body.dataset.role`); role != "viewer" {
		t.Fatalf("the page says role %q", role)
	}
	b.click("#tab-logs")
	b.screenshot("viewer-app")
	b.expect("403")
	b.open("/users")
	if txt := eval[string](b, `document.body.innerText`); !strings.Contains(txt, "admin role") {
		t.Fatalf("the users page did not refuse a viewer: %q", txt)
	}
}

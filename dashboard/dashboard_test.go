package dashboard

import (
	"bytes"
	"flag"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/apps"
	"github.com/kajhq/kaj/catalog"
	"github.com/kajhq/kaj/dockerfile"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var now = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func newRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	r.now = func() time.Time { return now }
	return r
}

func ago(d time.Duration) time.Time { return now.Add(-d) }

func ptr[T any](v T) *T { return &v }

// sampleApps are three apps in three states: running with a database,
// crash-looping, and never deployed.
func sampleApps() []AppRow {
	blog := store.App{
		Name: "blog", Image: "microblog:1.0.0-prod", Port: 5000, HealthPath: "/healthz", Template: "microblog-mysql",
		Env:      []store.EnvVar{{Name: "LOG_TO_STDOUT", Value: "1"}, {Name: "SECRET_KEY", Secret: true}},
		Database: &store.Database{Kind: "mysql", Image: "mysql:8.4", Alias: "dbserver", Name: "microblog", User: "microblog", Volume: "blog-data"},
	}
	blogRels := []store.Release{
		{App: "blog", Number: 2, Image: blog.Image, Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Status: store.ReleaseLive, CreatedBy: "admin", StartedAt: ago(3 * time.Hour), FinishedAt: ptr(ago(3*time.Hour - 14*time.Second))},
		{App: "blog", Number: 1, Image: blog.Image, Digest: "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", Status: store.ReleaseSuperseded, CreatedBy: "admin", StartedAt: ago(50 * time.Hour)},
	}
	blogRels[0].ContainerID = strings.Repeat("a1", 32)
	blogCs := []runtime.Status{
		{Container: runtime.Container{ID: strings.Repeat("a1", 32), Name: "blog-app-2", App: "blog", Role: runtime.RoleApp, Release: "2"}, State: "running"},
		{Container: runtime.Container{ID: strings.Repeat("b2", 32), Name: "blog-db", App: "blog", Role: runtime.RoleDB}, State: "running"},
	}
	api := store.App{Name: "api", Image: "registry.example.com/team/api:2.1", Port: 8080}
	apiRels := []store.Release{{App: "api", Number: 7, Image: api.Image, Status: store.ReleaseLive, CreatedBy: "ci", StartedAt: ago(20 * time.Minute)}}
	apiRels[0].ContainerID = strings.Repeat("c3", 32)
	apiCs := []runtime.Status{{Container: runtime.Container{ID: strings.Repeat("c3", 32), Name: "api-app-7", App: "api", Role: runtime.RoleApp, Release: "7"}, State: "restarting", RestartCount: 4, ExitCode: 3}}
	fresh := store.App{Name: "fresh", Image: "nginx:1.27", Port: 80}
	blogView := apps.NewView(blog, blogCs, blogRels, false, true, []string{"http://blog.localhost:8000", "https://blog.example.com"})
	blogView.Certificates = []apps.DomainCert{{Domain: "blog.example.com", State: "valid", NotAfter: ago(-60 * 24 * time.Hour), Issuer: "Pebble", Source: "acme"}, {Domain: "*.example.com", State: "none", LastError: "wildcard domains need DNS-01"}}
	return []AppRow{
		blogView,
		apps.NewView(api, apiCs, apiRels, false, true, []string{"http://api.localhost:8000"}),
		apps.NewView(fresh, nil, nil, false, true, []string{"http://fresh.localhost:8000"}),
	}
}

func base(nav string) Base {
	return Base{User: "admin", CSRF: "csrf-token-value", Nav: nav, Version: "1.2.3", Role: "admin", CanDeploy: true, IsAdmin: true}
}

// samplePages is one of every page with data that exercises its
// branches.
func samplePages() map[string]any {
	rows := sampleApps()
	cat, _ := catalog.Default()
	return map[string]any{
		"login":      LoginPage{Next: "/apps/blog", FirstStart: true, PasswordFile: "/var/lib/kaj/initial-admin-password"},
		"apps":       AppsPage{Base: base("apps"), Apps: rows, Usage: map[string]Usage{"blog": {CPU: 1.5, Memory: 42 << 20}}},
		"app":        AppPage{Base: base("apps"), App: store.App{Name: "blog", Image: "microblog:1.0.0-prod", Port: 5000, Env: []store.EnvVar{{Name: "A", Value: "1"}, {Name: "S", Secret: true}}, Database: rows[0].Database}, Row: rows[0], Releases: []apps.ReleaseView{{Release: *rows[0].Live, Changes: []store.Change{{Field: "image", From: "microblog:1", To: "microblog:2"}, {Field: "env.SECRET_KEY", From: "(secret)", To: "(secret, changed)"}}}}, Job: "job123"},
		"new":        NewAppPage{Base: base("apps"), Templates: cat.List(), DatabaseKinds: store.DatabaseKinds},
		"images":     ImagesPage{Base: base("images"), Images: []Image{{ID: "sha256:" + strings.Repeat("9", 64), Tags: []string{"microblog:1.0.0-prod"}, Size: 23 << 20, Created: ago(time.Hour)}}, Hosts: []string{"registry.example.com"}},
		"registries": RegistriesPage{Base: base("registries"), Credentials: []store.Credential{{Host: "registry.example.com", Username: "deploy", UpdatedAt: ago(48 * time.Hour)}}},
		"lint":       LintPage{Base: base("lint"), Examples: []Example{{ID: "microblog-mysql", Title: "Microblog", Dockerfile: "FROM scratch\n"}}, Rules: dockerfile.Rules(), Threshold: "style"},
		"tokens":     TokensPage{Base: base("tokens"), Tokens: []store.Token{{ID: "abc123", Name: "ci", User: "admin", CreatedAt: ago(time.Hour)}}},
		"users":      UsersPage{Base: base("users"), Users: []User{{Name: "admin", Role: "admin", CreatedAt: ago(time.Hour), Me: true}}, MinLen: 12},
		"events":     EventsPage{Base: base("events"), Events: []store.Event{{Seq: 3, Time: ago(time.Minute), Actor: "admin", Action: "deploy.start", Target: "blog"}}},
		"account":    AccountPage{Base: base("account"), MinLen: 12, Error: "The current password is wrong", Field: "current"},
		"notifications": NotificationsPage{Base: base("notifications"), Kinds: []string{"deploy.failed"}, Targets: []store.NotifyTarget{
			{ID: "a1", Name: "ops", Kind: "webhook", URL: "https://hooks.example.com/…", LastError: "sending to ops: the webhook answered 500"},
			{ID: "b2", Name: "mail", Kind: "email", App: "blog", SMTPAddr: "smtp.example.com:587", LastSentAt: new(time.Time)}}},
		"nodes": NodesPage{Base: base("nodes"), Manager: true, JoinCommand: "docker swarm join --token SWMTKN-1-abc-•••••••• 10.0.0.1:2377", Nodes: []Node{
			{ID: "n1" + strings.Repeat("a", 23), Hostname: "manager-1", Role: "manager", State: "ready", Availability: "active", Addr: "10.0.0.1", EngineVersion: "20.10.24", OS: "linux", Arch: "x86_64", CPUs: 4, Memory: 8 << 30, Labels: map[string]string{"kaj.volume.kaj-blog-db": "true"}, Leader: true, Reachability: "reachable", Self: true},
			{ID: "n2" + strings.Repeat("b", 23), Hostname: "worker-1", Role: "worker", State: "down", Message: "heartbeat failure", Availability: "drain", Addr: "10.0.0.2", EngineVersion: "20.10.24", OS: "linux", Arch: "x86_64", CPUs: 2, Memory: 4 << 30}}},
		"error": ErrorPage{Code: 404, Message: "Not found", Detail: "There is no page at /nope."},
	}
}

func TestRenderer_everyPage(t *testing.T) {
	r := newRenderer(t)
	pages := samplePages()
	files, _ := fs.Glob(templateFS, "templates/*.html")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".html")
		if strings.HasPrefix(name, "_") {
			continue
		}
		if _, ok := pages[name]; !ok {
			t.Errorf("page %s has no sample data in this test", name)
		}
	}
	for name, data := range pages {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := r.Render(&buf, name, data); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if !strings.HasPrefix(out, "<!doctype html>") || !strings.Contains(out, "</html>") {
				t.Fatalf("not a whole page:\n%s", out)
			}
			if strings.Contains(out, "<no value>") || strings.Contains(out, "ZgotmplZ") {
				t.Fatalf("template output has a missing or unsafe value:\n%s", out)
			}
			loggedIn := name != "login" && name != "error"
			if loggedIn != strings.Contains(out, `<meta name="csrf-token" content="csrf-token-value">`) {
				t.Errorf("CSRF meta tag present: %v; want %v", !loggedIn, loggedIn)
			}
			if loggedIn != strings.Contains(out, `class="sidebar"`) {
				t.Errorf("navigation present: %v; want %v", !loggedIn, loggedIn)
			}
		})
	}
}

func TestRenderer_login(t *testing.T) {
	r := newRenderer(t)
	var buf bytes.Buffer
	if err := r.Render(&buf, "login", samplePages()["login"]); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`action="/login"`, `name="next" value="/apps/blog"`, "initial-admin-password",
		"cat /var/lib/kaj/initial-admin-password", `<label for="password">`, "First start",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	if strings.Contains(out, `class="sidebar"`) {
		t.Error("login page shows the navigation")
	}
}

func TestRenderer_appsGolden(t *testing.T) {
	r := newRenderer(t)
	var buf bytes.Buffer
	if err := r.RenderFragment(&buf, "apps", "list", samplePages()["apps"]); err != nil {
		t.Fatal(err)
	}
	out := strings.ReplaceAll(buf.String(), r.Version(), "VERSION")
	golden := filepath.Join("testdata", "apps-list.golden.html")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if out != string(want) {
		t.Errorf("apps list differs from %s; if the change is intended, run go test ./dashboard/ -run Golden -update\ngot:\n%s", golden, out)
	}
}

func TestRenderer_fragments(t *testing.T) {
	r := newRenderer(t)
	pages := samplePages()
	for _, tc := range []struct{ page, part, want string }{
		{"apps", "list", `data-key="blog"`},
		{"apps", "count", "3 apps on this host"},
		{"app", "head", `id="deploy-btn"`},
		{"app", "overview", "blog-app-2"},
		{"app", "releases", "#2"},
		{"tokens", "list", "abc123"},
		{"users", "list", "admin"},
	} {
		if !r.HasFragment(tc.page, tc.part) {
			t.Errorf("%s has no fragment %s", tc.page, tc.part)
			continue
		}
		var buf bytes.Buffer
		if err := r.RenderFragment(&buf, tc.page, tc.part, pages[tc.page]); err != nil {
			t.Errorf("%s/%s: %v", tc.page, tc.part, err)
			continue
		}
		if strings.Contains(buf.String(), "<html") {
			t.Errorf("%s/%s renders a whole page", tc.page, tc.part)
		}
		if !strings.Contains(buf.String(), tc.want) {
			t.Errorf("%s/%s lacks %q:\n%s", tc.page, tc.part, tc.want, buf.String())
		}
	}
	if r.HasFragment("apps", "nope") || r.HasFragment("nope", "list") {
		t.Error("HasFragment invents fragments")
	}
}

func TestRenderer_escapes(t *testing.T) {
	r := newRenderer(t)
	evil := `<script>alert(1)</script>`
	page := AppsPage{Base: base("apps"), Apps: []AppRow{apps.NewView(store.App{Name: "x", Image: evil}, nil, nil, false, true, nil)}}
	var buf bytes.Buffer
	if err := r.Render(&buf, "apps", page); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), evil) {
		t.Fatal("an image name went into the page unescaped")
	}
}

// TestAssets checks that every asset a template or a script names exists,
// so a typo shows here and not as a 404 in a browser.
func TestAssets(t *testing.T) {
	r := newRenderer(t)
	tmplRef := regexp.MustCompile(`asset "([^"]+)"`)
	importRef := regexp.MustCompile(`(?m)^import .* from "\./([^"]+)";`)
	files, _ := fs.Glob(templateFS, "templates/*.html")
	for _, f := range files {
		b, _ := templateFS.ReadFile(f)
		for _, m := range tmplRef.FindAllSubmatch(b, -1) {
			if _, ok := r.Asset(string(m[1])); !ok {
				t.Errorf("%s names asset %s, which does not exist", f, m[1])
			}
		}
	}
	scripts, _ := fs.Glob(staticFS, "static/js/*.js")
	for _, f := range scripts {
		b, _ := staticFS.ReadFile(f)
		for _, m := range importRef.FindAllSubmatch(b, -1) {
			if _, ok := r.Asset("js/" + string(m[1])); !ok {
				t.Errorf("%s imports %s, which does not exist", f, m[1])
			}
		}
	}
	a, ok := r.Asset("css/app.css")
	if !ok || !strings.HasPrefix(a.ContentType, "text/css") || a.Gzip == nil || a.ETag == "" {
		t.Fatalf("css/app.css: %+v", a)
	}
	if len(r.Version()) != 12 || r.AssetURL("x.js") != "/static/"+r.Version()+"/x.js" {
		t.Fatalf("version %q, URL %q", r.Version(), r.AssetURL("x.js"))
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Ago(now, time.Time{}), "never"},
		{Ago(now, ago(10*time.Second)), "just now"},
		{Ago(now, ago(5*time.Minute)), "5 min ago"},
		{Ago(now, ago(3*time.Hour)), "3 h ago"},
		{Ago(now, ago(49*time.Hour)), "2 days ago"},
		{Ago(now, ago(24*time.Hour)), "1 day ago"},
		{Ago(now, time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)), "2 Jan 2025"},
		{Ago(now, now.Add(time.Minute)), "just now"},
		{Bytes(512), "512 B"},
		{Bytes(1536), "1.5 KiB"},
		{Bytes(23 << 20), "23.0 MiB"},
		{ShortDigest("sha256:0123456789abcdef0123"), "0123456789ab"},
		{ShortDigest("latest"), "latest"},
		{Took(now, nil), ""},
		{Took(now, ptr(now.Add(250*time.Millisecond))), "250 ms"},
		{Took(now, ptr(now.Add(14500*time.Millisecond))), "14.5 s"},
		{Took(now, ptr(now.Add(125*time.Second))), "2m 05s"},
		{Plural(1, "app"), "1 app"},
		{Plural(0, "app"), "0 apps"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestBadgeClass(t *testing.T) {
	for state, want := range map[string]string{
		apps.StateRunning: "ok", apps.StateHealthy: "ok", store.ReleaseLive: "ok",
		apps.StateDeploying: "warn", apps.StateRestarting: "warn", apps.StateStarting: "warn",
		apps.StateUnhealthy: "bad", apps.StateFailed: "bad", apps.StateMissing: "bad",
		apps.StateStopped: "off", apps.StateNew: "off", apps.StateUnknown: "off", store.ReleaseSuperseded: "off",
	} {
		if got := BadgeClass(state); got != want {
			t.Errorf("BadgeClass(%q) = %q; want %q", state, got, want)
		}
	}
}

// TestImports pins the package's place in the tree: it renders data the
// server gathers, so it speaks neither HTTP nor to the engine.
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"github.com/kajhq/kaj/store": true, "github.com/kajhq/kaj/apps": true, "github.com/kajhq/kaj/catalog": true, "github.com/kajhq/kaj/dockerfile": true,
	}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.Contains(p, ".") && !allowed[p] {
				t.Errorf("%s imports %s; the dashboard uses only the standard library and kaj's data packages", f, p)
			}
			if p == "net/http" {
				t.Errorf("%s imports net/http; serving is the server's job", f)
			}
		}
	}
}

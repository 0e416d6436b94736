package runtime_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// countingEngine is an engine that answers nothing but counts requests: a
// call refused by validation must leave the count at zero.
func countingEngine(t *testing.T) (*runtime.Docker, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, `{"message":"counting engine"}`, http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	d, err := runtime.NewDocker("tcp://" + strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, &n
}

func goodApp() runtime.AppSpec {
	return runtime.AppSpec{App: "web", Release: "3", Image: "registry.example.com/web:1", Port: 5000}
}

func goodDB() runtime.DatabaseSpec {
	return runtime.DatabaseSpec{App: "web", Kind: runtime.MySQL, Password: "secret"}
}

func TestValidation_refusedBeforeTheEngine(t *testing.T) {
	d, calls := countingEngine(t)
	ctx := t.Context()
	app := func(f func(*runtime.AppSpec)) runtime.AppSpec { s := goodApp(); f(&s); return s }
	db := func(f func(*runtime.DatabaseSpec)) runtime.DatabaseSpec { s := goodDB(); f(&s); return s }
	startApp := func(s runtime.AppSpec) func() error {
		return func() error { _, err := d.StartApp(ctx, s); return err }
	}
	ensureDB := func(s runtime.DatabaseSpec) func() error {
		return func() error { _, err := d.EnsureDatabase(ctx, s); return err }
	}
	cases := []struct {
		name  string
		call  func() error
		field string
	}{
		{"app name uppercase", startApp(app(func(s *runtime.AppSpec) { s.App = "Web" })), "AppSpec.App"},
		{"app name underscore", startApp(app(func(s *runtime.AppSpec) { s.App = "my_app" })), "AppSpec.App"},
		{"app name leading dash", startApp(app(func(s *runtime.AppSpec) { s.App = "-web" })), "AppSpec.App"},
		{"app name too long", startApp(app(func(s *runtime.AppSpec) { s.App = strings.Repeat("a", 64) })), "AppSpec.App"},
		{"app name empty", startApp(app(func(s *runtime.AppSpec) { s.App = "" })), "AppSpec.App"},
		{"release with slash", startApp(app(func(s *runtime.AppSpec) { s.Release = "1/2" })), "AppSpec.Release"},
		{"release empty", startApp(app(func(s *runtime.AppSpec) { s.Release = "" })), "AppSpec.Release"},
		{"image empty", startApp(app(func(s *runtime.AppSpec) { s.Image = "" })), "AppSpec.Image"},
		{"image with space", startApp(app(func(s *runtime.AppSpec) { s.Image = "web :1" })), "AppSpec.Image"},
		{"port too big", startApp(app(func(s *runtime.AppSpec) { s.Port = 65536 })), "AppSpec.Port"},
		{"port negative", startApp(app(func(s *runtime.AppSpec) { s.Port = -1 })), "AppSpec.Port"},
		{"host port too big", startApp(app(func(s *runtime.AppSpec) { s.HostPort = 70000 })), "AppSpec.HostPort"},
		{"host port without port", startApp(app(func(s *runtime.AppSpec) { s.Port, s.HostPort = 0, 8080 })), "AppSpec.HostPort"},
		{"env key with =", startApp(app(func(s *runtime.AppSpec) { s.Env = map[string]string{"A=B": "c"} })), "AppSpec.Env key"},
		{"env key with space", startApp(app(func(s *runtime.AppSpec) { s.Env = map[string]string{"SECRET KEY": "c"} })), "AppSpec.Env key"},
		{"env key with tab", startApp(app(func(s *runtime.AppSpec) { s.Env = map[string]string{"A\tB": "c"} })), "AppSpec.Env key"},
		{"env key empty", startApp(app(func(s *runtime.AppSpec) { s.Env = map[string]string{"": "c"} })), "AppSpec.Env"},
		{"memory below engine minimum", startApp(app(func(s *runtime.AppSpec) { s.Memory = 4 << 20 })), "AppSpec.Memory"},
		{"memory negative", startApp(app(func(s *runtime.AppSpec) { s.Memory = -1 })), "AppSpec.Memory"},
		{"cpus negative", startApp(app(func(s *runtime.AppSpec) { s.CPUs = -0.5 })), "AppSpec.CPUs"},
		{"restart policy unknown", startApp(app(func(s *runtime.AppSpec) { s.Restart = "sometimes" })), "AppSpec.Restart"},
		{"reserved label", startApp(app(func(s *runtime.AppSpec) { s.Labels = map[string]string{"kaj.app": "other"} })), "AppSpec.Labels"},
		{"db kind unknown", ensureDB(db(func(s *runtime.DatabaseSpec) { s.Kind = "oracle" })), "DatabaseSpec.Kind"},
		{"db app invalid", ensureDB(db(func(s *runtime.DatabaseSpec) { s.App = "Web App" })), "DatabaseSpec.App"},
		{"db password empty", ensureDB(db(func(s *runtime.DatabaseSpec) { s.Password = "" })), "DatabaseSpec.Password"},
		{"db password newline", ensureDB(db(func(s *runtime.DatabaseSpec) { s.Password = "a\nb" })), "DatabaseSpec.Password"},
		{"db user root", ensureDB(db(func(s *runtime.DatabaseSpec) { s.User = "root" })), "DatabaseSpec.User"},
		{"db name with dash", ensureDB(db(func(s *runtime.DatabaseSpec) { s.Database = "micro-blog" })), "DatabaseSpec.Database"},
		{"db alias with dot", ensureDB(db(func(s *runtime.DatabaseSpec) { s.Alias = "db.server" })), "DatabaseSpec.Alias"},
		{"db volume with slash", ensureDB(db(func(s *runtime.DatabaseSpec) { s.Volume = "/var/lib/data" })), "DatabaseSpec.Volume"},
		{"db memory below minimum", ensureDB(db(func(s *runtime.DatabaseSpec) { s.Memory = 1 << 20 })), "DatabaseSpec.Memory"},
		{"network app invalid", func() error { _, err := d.EnsureNetwork(ctx, "a.b", nil); return err }, "app"},
		{"private with host port", func() error {
			_, err := d.StartApp(ctx, app(func(s *runtime.AppSpec) { s.Private, s.HostPort = true, 8080 }))
			return err
		}, "AppSpec.HostPort"},
		{"health path relative", func() error {
			return d.WaitHealthy(ctx, runtime.Container{ID: "abc"}, runtime.HealthOptions{Path: "healthz"})
		}, "HealthOptions.Path"},
		{"wait database not a database", func() error {
			return d.WaitDatabase(ctx, runtime.Container{ID: "abc", Role: runtime.RoleApp}, runtime.WaitOptions{})
		}, "Container.Kind"},
		{"logs negative tail", func() error {
			return d.Logs(ctx, "abc", runtime.LogOptions{Tail: -1}, func(runtime.LogLine) error { return nil })
		}, "LogOptions.Tail"},
		{"list app invalid", func() error { _, err := d.List(ctx, "UPPER"); return err }, "app"},
		{"remove app invalid", func() error { return d.RemoveApp(ctx, "", true) }, "app"},
		{"stop without id", func() error { return d.Stop(ctx, "", time.Second) }, "container"},
		{"remove object kind", func() error { return d.RemoveObject(ctx, runtime.Object{Kind: "image", ID: "x"}) }, "Object.Kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := calls.Load()
			err := c.call()
			if !errors.Is(err, runtime.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			var ve *runtime.ValidationError
			if !errors.As(err, &ve) || ve.Field != c.field {
				t.Fatalf("err = %#v, want a *ValidationError on %s", err, c.field)
			}
			if ve.Reason == "" || !strings.Contains(err.Error(), c.field) {
				t.Errorf("message %q does not say what is wrong with %s", err, c.field)
			}
			if n := calls.Load() - before; n != 0 {
				t.Errorf("the engine was called %d times", n)
			}
		})
	}

	// The counting engine does see a valid request: the zero counts above
	// are not an engine that is never reached.
	before := calls.Load()
	if _, err := d.StartApp(ctx, goodApp()); err == nil || errors.Is(err, runtime.ErrInvalid) {
		t.Fatalf("valid spec: err = %v, want the engine's refusal", err)
	}
	if calls.Load() == before {
		t.Fatal("a valid StartApp never reached the engine")
	}
}

func TestValidationError_secretsStayOut(t *testing.T) {
	_, err := runtime.DatabaseURL(runtime.DatabaseSpec{App: "web", Kind: runtime.MySQL, Password: "top\x00secret"}, "")
	if !errors.Is(err, runtime.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("the message shows the password: %v", err)
	}
}

func TestMemoryLimit_engineMinimumAccepted(t *testing.T) {
	d, calls := countingEngine(t)
	s := goodApp()
	s.Memory = runtime.MinMemory
	_, err := d.StartApp(t.Context(), s)
	if errors.Is(err, runtime.ErrInvalid) {
		t.Fatalf("MinMemory refused: %v", err)
	}
	if calls.Load() == 0 {
		t.Fatal("StartApp with MinMemory never reached the engine")
	}
}

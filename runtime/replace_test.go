package runtime_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
)

// TestDocker_Replace: a broken new version leaves the old one serving; a
// good one takes over and the old one goes.
func TestDocker_Replace(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	img := env.TestAppImage()
	app := env.Name("repl")
	health := runtime.HealthOptions{Path: "/healthz", Timeout: 30 * time.Second, Backoff: quick}
	// No restart policy, so a crash stays a crash the test can read.
	base := func(release string, vars map[string]string) runtime.AppSpec {
		return runtime.AppSpec{App: app, Release: release, Image: img, Port: 8080, Env: vars, Restart: runtime.RestartNo, Labels: env.Labels()}
	}

	v1, err := d.Replace(ctx, runtime.Container{}, base("1", map[string]string{"VERSION": "one"}), health)
	if err != nil {
		t.Fatal(err)
	}
	serves := func(c runtime.Container, version string) {
		t.Helper()
		code, body := get(t, c, "/env")
		if code != 200 || !strings.Contains(body, `"VERSION":"`+version+`"`) {
			t.Fatalf("%s: %d %s; want version %s serving", c.Name, code, body, version)
		}
	}
	serves(v1, "one")
	only := func(want ...string) {
		t.Helper()
		st, err := d.List(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range st {
			got = append(got, s.ID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("containers of the app: %v, want %v", got, want)
		}
	}

	t.Run("failing health check", func(t *testing.T) {
		h := health
		h.Timeout = 2 * time.Second
		_, err := d.Replace(ctx, v1, base("2", map[string]string{"VERSION": "two", "HEALTH_STATUS": "500"}), h)
		var we *runtime.WaitError
		if !errors.As(err, &we) || we.Exited || !strings.Contains(err.Error(), "500") {
			t.Fatalf("err = %v, want a timed-out WaitError naming the 500", err)
		}
		serves(v1, "one")
		only(v1.ID)
	})
	t.Run("crashing", func(t *testing.T) {
		_, err := d.Replace(ctx, v1, base("3", map[string]string{"VERSION": "three", "HEALTH_STATUS": "503", "EXIT_AFTER": "300ms", "EXIT_CODE": "7"}), health)
		var we *runtime.WaitError
		if !errors.As(err, &we) || !we.Exited || we.ExitCode != 7 {
			t.Fatalf("err = %v, want an exit with code 7", err)
		}
		if !strings.Contains(strings.Join(we.Logs, "\n"), "stderr: exiting on purpose with code 7") {
			t.Errorf("logs = %q, want the app's last words", we.Logs)
		}
		serves(v1, "one")
		only(v1.ID)
	})
	t.Run("fixed host port held by the old one", func(t *testing.T) {
		s := base("4", nil)
		s.HostPort = int(v1.HostPort.Port())
		if _, err := d.Replace(ctx, v1, s, health); !errors.Is(err, runtime.ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		serves(v1, "one")
	})
	t.Run("healthy", func(t *testing.T) {
		v5, err := d.Replace(ctx, v1, base("5", map[string]string{"VERSION": "five"}), health)
		if err != nil {
			t.Fatal(err)
		}
		serves(v5, "five")
		only(v5.ID)
	})
}

// TestDocker_WaitHealthy_imageHealthcheck: without a health path, the
// image's own HEALTHCHECK decides.
func TestDocker_WaitHealthy_imageHealthcheck(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	ref := healthcheckImage(t, env)
	app := env.Name("hc")
	for _, c := range []struct {
		status  string
		healthy bool
	}{{"200", true}, {"500", false}} {
		t.Run(c.status, func(t *testing.T) {
			web, err := d.StartApp(ctx, runtime.AppSpec{App: app, Release: "1", Image: ref, Env: map[string]string{"HEALTH_STATUS": c.status}, Labels: env.Labels()})
			if err != nil {
				t.Fatal(err)
			}
			err = d.WaitHealthy(ctx, web, runtime.HealthOptions{Timeout: 30 * time.Second, Backoff: quick})
			st, ierr := d.Inspect(ctx, web.ID)
			if ierr != nil {
				t.Fatal(ierr)
			}
			if c.healthy {
				if err != nil || st.Health != "healthy" || st.String() != "running (healthy)" {
					t.Fatalf("WaitHealthy = %v, status %q", err, st)
				}
				return
			}
			var we *runtime.WaitError
			if !errors.As(err, &we) || !strings.HasPrefix(we.Reason, "unhealthy") || !strings.Contains(we.Reason, "500") {
				t.Fatalf("err = %v, want an unhealthy WaitError with the check's output", err)
			}
			if st.Health != "unhealthy" {
				t.Errorf("health = %q", st.Health)
			}
		})
	}
}

// healthcheckImage is the testapp image with a HEALTHCHECK that asks its
// own /healthz.
func healthcheckImage(t *testing.T, env *testutil.Env) string {
	t.Helper()
	layer, err := testutil.TestAppLayer()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testutil.Image(testutil.ImageConfig{Entrypoint: []string{"/testapp"}, ExposedPorts: []string{"8080/tcp"}, Labels: env.Labels()}, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Healthcheck = &v1.HealthConfig{
		Test:     []string{"CMD", "/testapp", "check", "http://127.0.0.1:8080/healthz"},
		Interval: 200 * time.Millisecond,
		Timeout:  2 * time.Second,
		Retries:  2,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	ref := "kaj-testapp-healthcheck:" + env.ID
	if _, err := env.Load(t.Context(), ref, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

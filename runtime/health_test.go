package runtime_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// TestDocker_WaitHealthy_means: healthy means the app answers where kaj
// will send visitors and stays up, never merely "running".
func TestDocker_WaitHealthy_means(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	img := env.TestAppImage()
	app := env.Name("health")
	start := func(t *testing.T, release string, vars map[string]string) runtime.Container {
		t.Helper()
		// No restart policy, so a crash stays a crash the test can read.
		c, err := d.StartApp(ctx, runtime.AppSpec{App: app, Release: release, Image: img, Port: 8080, Env: vars, Restart: runtime.RestartNo, Labels: env.Labels()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Remove(ctx, c.ID, false) })
		return c
	}
	opts := func(path string, port int) runtime.HealthOptions {
		return runtime.HealthOptions{Path: path, Port: port, Timeout: 5 * time.Second, Backoff: quick}
	}

	t.Run("no health path, wrong port", func(t *testing.T) {
		c := start(t, "1", nil)
		err := d.WaitHealthy(ctx, c, opts("", 5000))
		var we *runtime.WaitError
		if !errors.As(err, &we) || we.Exited {
			t.Fatalf("err = %v, want a WaitError for an app that never answers on 5000", err)
		}
		if !strings.Contains(we.Hint, "listens on port 8080") || !strings.Contains(we.Hint, "port is 5000") {
			t.Errorf("hint = %q, want it to name the port in the app's log", we.Hint)
		}
	})
	t.Run("no health path, right port", func(t *testing.T) {
		c := start(t, "2", nil)
		if err := d.WaitHealthy(ctx, c, opts("", 8080)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("crash right after it answers", func(t *testing.T) {
		c := start(t, "3", map[string]string{"EXIT_AFTER": "400ms", "EXIT_CODE": "7"})
		err := d.WaitHealthy(ctx, c, opts("", 8080))
		var we *runtime.WaitError
		if !errors.As(err, &we) || !we.Exited || we.ExitCode != 7 {
			t.Fatalf("err = %v, want the exit with code 7 inside the stability window", err)
		}
	})
	t.Run("a restart before the wait counts since created", func(t *testing.T) {
		// Crashes 300ms after it starts and is restarted by the engine,
		// before the wait begins.
		c, err := d.StartApp(ctx, runtime.AppSpec{App: app, Release: "7", Image: img, Port: 8080, Env: map[string]string{"EXIT_AFTER": "300ms"},
			Restart: runtime.RestartAlways, Labels: env.Labels()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Remove(ctx, c.ID, false) })
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			st, err := d.Inspect(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st.RestartCount > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the engine never restarted the crashing container")
			}
		}
		o := opts("", 8080)
		o.StableFor, o.SinceCreated = -1, true
		err = d.WaitHealthy(ctx, c, o)
		var we *runtime.WaitError
		if !errors.As(err, &we) || !we.Exited {
			t.Fatalf("err = %v, want the restart before the wait to fail it", err)
		}
	})
	t.Run("slow start is not live before it answers", func(t *testing.T) {
		c := start(t, "4", map[string]string{"START_DELAY": "1500ms"})
		began := time.Now()
		if err := d.WaitHealthy(ctx, c, opts("", 8080)); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(began); took < 1500*time.Millisecond {
			t.Fatalf("healthy after %s, before the app listened (1.5s)", took)
		}
		if code, _ := get(t, c, "/"); code != 200 {
			t.Fatalf("GET / = %d right after the wait, want 200", code)
		}
	})
	t.Run("health path failing, 5xx", func(t *testing.T) {
		c := start(t, "5", map[string]string{"HEALTH_STATUS": "500"})
		o := opts("/healthz", 8080)
		// Long enough for the app to answer at least once on a loaded
		// machine: the failure names what it answered.
		o.Timeout = 8 * time.Second
		err := d.WaitHealthy(ctx, c, o)
		if err == nil || !strings.Contains(err.Error(), "500") {
			t.Fatalf("err = %v, want the 500 named", err)
		}
	})
	t.Run("retries fail early", func(t *testing.T) {
		c := start(t, "6", map[string]string{"HEALTH_STATUS": "503"})
		o := opts("/healthz", 8080)
		o.Timeout, o.Retries = time.Minute, 3
		began := time.Now()
		err := d.WaitHealthy(ctx, c, o)
		if err == nil || !strings.Contains(err.Error(), "3 health probes in a row") {
			t.Fatalf("err = %v, want a failure after 3 probes", err)
		}
		if time.Since(began) > 30*time.Second {
			t.Fatalf("retries did not end the wait early")
		}
	})
}

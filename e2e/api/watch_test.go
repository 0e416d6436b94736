package api

import (
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestApps_watchAfterLive: a release goes live at its first passing
// check, with the container it replaces kept up, unrouted, through the
// stability window. One that exits inside the window sends the route back
// to that container: the app's address serves the previous release again,
// the release is failed with the exit code, and the one before is live.
// One that lasts has the replaced container removed once the window ends.
func TestApps_watchAfterLive(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	img := env.TestAppImageAs("kaj-e2e-w", "PORT=5000")
	const window = 10 * time.Second
	k := kajtest.Start(t, env, func(c *config.Config) { c.Deploy.StableFor = config.Duration(window) })
	c := k.Login(t)
	name := env.Name("watch")
	version := func(v string, extra ...map[string]any) map[string]any {
		envs := append([]map[string]any{{"name": "VERSION", "value": v}}, extra...)
		// No engine restarts: the exit code stays to be read.
		return map[string]any{"name": name, "image": img, "port": 5000, "env": envs, "restart": "no"}
	}
	if code := c.JSON("POST", "/api/v1/apps", version("one"), nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if st, ev := deployNow(t, c, name); st != "succeeded" {
		t.Fatalf("deploy 1: %s %s", st, failure(ev))
	}
	var app fullApp
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	serves := func(v string) bool {
		code, body := kajtest.Visit(t, app.URL+"/env")
		return code == 200 && strings.Contains(body, `"VERSION":"`+v+`"`)
	}
	one := listAppContainers(t, env, name)
	if len(one) != 1 || !serves("one") {
		t.Fatalf("release 1: containers %v, serving one %v", one, serves("one"))
	}

	// Release 2 answers, then exits with code 3 five seconds after it
	// started: inside the window.
	upd := version("two", map[string]any{"name": "EXIT_AFTER", "value": "5s"}, map[string]any{"name": "EXIT_CODE", "value": "3"})
	upd["version"] = app.Version
	if code := c.JSON("PUT", "/api/v1/apps/"+name, upd, &app); code != 200 {
		t.Fatalf("update to two: %d", code)
	}
	if st, ev := deployNow(t, c, name); st != "succeeded" {
		t.Fatalf("deploy 2 passes its first check and goes live: %s %s", st, failure(ev))
	}
	if !serves("two") {
		t.Fatal("release 2 is not what the app's address serves right after its deploy")
	}
	if cs := listAppContainers(t, env, name); len(cs) != 2 {
		t.Fatalf("app containers during the window: %v; want release 2's and release 1's, kept up", cs)
	}
	var rels []release
	for deadline := time.Now().Add(window + 30*time.Second); ; time.Sleep(200 * time.Millisecond) {
		c.JSON("GET", "/api/v1/apps/"+name+"/releases", nil, &rels)
		if len(rels) == 2 && rels[0].Status == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("release 2 was never reverted: %+v", rels)
		}
	}
	if rels[1].Status != "live" || !strings.Contains(rels[0].Error, "exited with code 3") || !strings.Contains(rels[0].Error, "route went back") {
		t.Fatalf("releases after the crash: %+v; want 2 failed by its exit code 3, 1 live", rels)
	}
	if !serves("one") {
		t.Fatal("the app's address does not serve release 1 again after release 2 crashed")
	}
	if cs := listAppContainers(t, env, name); len(cs) != 1 || cs[0] != one[0] {
		t.Fatalf("app containers after the revert: %v; want release 1's %v alone", cs, one)
	}

	// Release 3 lasts: release 1's container goes once the window ends.
	c.JSON("GET", "/api/v1/apps/"+name, nil, &app)
	upd = version("three")
	upd["version"] = app.Version
	if code := c.JSON("PUT", "/api/v1/apps/"+name, upd, &app); code != 200 {
		t.Fatalf("update to three: %d", code)
	}
	if st, ev := deployNow(t, c, name); st != "succeeded" || !serves("three") {
		t.Fatalf("deploy 3: %s %s", st, failure(ev))
	}
	for deadline := time.Now().Add(window + 30*time.Second); ; time.Sleep(200 * time.Millisecond) {
		cs := listAppContainers(t, env, name)
		if len(cs) == 1 && cs[0] != one[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("app containers %v long after release 3's window; want release 3's alone", cs)
		}
	}
	c.JSON("GET", "/api/v1/apps/"+name+"/releases", nil, &rels)
	if len(rels) != 3 || rels[0].Status != "live" || rels[1].Status != "failed" || rels[2].Status != "superseded" {
		t.Fatalf("releases at the end: %+v", rels)
	}
	if !serves("three") {
		t.Fatal("release 3 stopped serving after its window")
	}
}

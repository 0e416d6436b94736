package testutil

import (
	"context"
	"os"
	"time"
)

// ShellImage loads the testapp image with a static busybox as /bin/sh
// (Debian's busybox-static), so terminals and execs have a shell, and
// returns its tag. Without /bin/busybox the test skips, or fails under
// KAJ_REQUIRE_DOCKER=1.
func (e *Env) ShellImage(env ...string) string {
	e.t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		if RequireDocker() {
			e.t.Fatalf("reading /bin/busybox: %v (apt-get install busybox-static) [KAJ_REQUIRE_DOCKER=1]", err)
		}
		e.t.Skipf("no static busybox for a test shell: apt-get install busybox-static (%v)", err)
	}
	app, err := TestAppLayer()
	if err != nil {
		e.t.Fatal(err)
	}
	sh, err := Layer(File{Path: "bin/sh", Mode: 0o755, Data: bb}, File{Path: "sh", Mode: 0o755, Data: bb})
	if err != nil {
		e.t.Fatal(err)
	}
	img, err := Image(ImageConfig{Entrypoint: []string{"/testapp"}, Env: append([]string{"PATH=/bin:/"}, env...), ExposedPorts: []string{"8080/tcp"}, Labels: e.Labels()}, app, sh)
	if err != nil {
		e.t.Fatal(err)
	}
	ref := "kaj-testshell:" + e.ID
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.Load(ctx, ref, img); err != nil {
		e.t.Fatal(err)
	}
	return ref
}

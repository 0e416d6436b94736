package runtime_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/runtime"
	"github.com/moby/moby/api/types/container"
	mclient "github.com/moby/moby/client"
)

// TestDocker_Reconcile finds a planted orphan and never reports or
// touches a container kaj did not label.
func TestDocker_Reconcile(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	img := env.TestAppImage()
	live, orphan := env.Name("live"), env.Name("orphan")

	keep, err := d.StartApp(ctx, runtime.AppSpec{App: live, Release: "2", Image: img, Labels: env.Labels()})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := d.StartApp(ctx, runtime.AppSpec{App: live, Release: "1", Image: img, Labels: env.Labels()})
	if err != nil {
		t.Fatal(err)
	}
	planted, err := d.StartApp(ctx, runtime.AppSpec{App: orphan, Release: "1", Image: img, Labels: env.Labels()})
	if err != nil {
		t.Fatal(err)
	}
	// Looks like kaj's but lacks kaj.managed: a user's own container.
	foreign, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name:   env.Name("foreign"),
		Config: &container.Config{Image: img, Labels: env.WithLabels(map[string]string{"kaj.app": orphan, "kaj.role": "app", "kaj.release": "1"})},
	})
	if err != nil {
		t.Fatal(err)
	}

	known := func(app, release string) bool { return app == live && (release == "" || release == "2") }
	objs, err := d.Reconcile(ctx, known)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]runtime.Object{}
	for _, o := range objs {
		found[o.ID] = o
	}
	if o, ok := found[planted.ID]; !ok || o.Kind != runtime.KindContainer || o.App != orphan || o.Release != "1" || o.Name != planted.Name {
		t.Errorf("planted orphan: %+v, found %v", o, ok)
	}
	// The caller's own labels come back, so a kaj sharing the engine can
	// keep to what it made.
	if o := found[planted.ID]; o.Labels[testutil.Label] != env.ID || o.Labels["kaj.managed"] != "true" {
		t.Errorf("orphan labels = %v", o.Labels)
	}
	if _, ok := found[stale.ID]; !ok {
		t.Error("an unknown release of a known app was not reported")
	}
	for _, o := range objs {
		if o.Kind == runtime.KindNetwork && o.App == live {
			t.Errorf("the live app's network was reported: %+v", o)
		}
		if o.Kind == runtime.KindNetwork && o.Name == "kaj-"+orphan {
			found["network"] = o
		}
	}
	if _, ok := found["network"]; !ok {
		t.Error("the orphan's network was not reported")
	}
	if _, ok := found[keep.ID]; ok {
		t.Error("the live release was reported")
	}
	if _, ok := found[foreign.ID]; ok {
		t.Error("a container without kaj.managed was reported")
	}

	if err := d.RemoveObject(ctx, found[planted.ID]); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveObject(ctx, found["network"]); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveObject(ctx, runtime.Object{Kind: runtime.KindContainer, ID: foreign.ID}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("RemoveObject of a foreign container: %v, want ErrNotFound", err)
	}
	if err := d.Remove(ctx, foreign.ID, true); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Remove of a foreign container: %v, want ErrNotFound", err)
	}
	if err := d.Stop(ctx, foreign.ID, 0); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Stop of a foreign container: %v, want ErrNotFound", err)
	}
	if err := d.RemoveApp(ctx, orphan, true); err != nil {
		t.Errorf("RemoveApp of the orphan: %v", err)
	}
	if _, err := env.Client.ContainerInspect(ctx, foreign.ID, mclient.ContainerInspectOptions{}); err != nil {
		t.Errorf("the foreign container was touched: %v", err)
	}
	if _, err := env.Client.ContainerInspect(ctx, planted.ID, mclient.ContainerInspectOptions{}); err == nil {
		t.Error("the orphan survived RemoveObject")
	}
}

// TestDocker_errorsTranslated: the engine's errors arrive as the
// package's sentinels, saying what was being done.
func TestDocker_errorsTranslated(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()

	_, err := d.StartApp(ctx, runtime.AppSpec{App: env.Name("noimg"), Release: "1", Image: "kaj-test-absent:" + env.ID, Labels: env.Labels()})
	if !errors.Is(err, runtime.ErrImageMissing) || !strings.Contains(err.Error(), "kaj-test-absent:"+env.ID) {
		t.Errorf("missing image: %v", err)
	}

	if _, err := d.Inspect(ctx, "kaj-no-such-container-"+env.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("missing container: %v", err)
	}

	// A network of kaj's name that kaj did not make is not reused.
	squatted := env.Name("squat")
	if _, err := env.Client.NetworkCreate(ctx, "kaj-"+squatted, mclient.NetworkCreateOptions{Labels: env.Labels()}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.EnsureNetwork(ctx, squatted, env.Labels()); !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("foreign network: %v", err)
	}
	// Nor is a container that holds the database's name.
	if _, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name:   "kaj-" + squatted + "-db",
		Config: &container.Config{Image: env.TestAppImage(), Labels: env.Labels()},
	}); err != nil {
		t.Fatal(err)
	}
	other := env.Name("squat2")
	if _, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name:   "kaj-" + other + "-db",
		Config: &container.Config{Image: env.TestAppImage(), Labels: env.Labels()},
	}); err != nil {
		t.Fatal(err)
	}
	_, err = d.EnsureDatabase(ctx, runtime.DatabaseSpec{App: other, Kind: runtime.MySQL, Image: env.TestAppImage(), Password: "pw", Labels: env.Labels()})
	if !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("foreign database container: %v", err)
	}

	off, err := runtime.NewDocker("unix:///nonexistent/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if _, err := off.Info(ctx); !errors.Is(err, runtime.ErrEngineUnreachable) {
		t.Errorf("no engine: %v", err)
	}
	if _, err := off.List(ctx, ""); !errors.Is(err, runtime.ErrEngineUnreachable) || !strings.Contains(err.Error(), "listing containers") {
		t.Errorf("no engine: %v", err)
	}
}

// TestDocker_EnsureNetwork_concurrent: callers racing for one app's
// network get one network, even from an engine that would make two.
func TestDocker_EnsureNetwork_concurrent(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	app := env.Name("race")
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, err := d.EnsureNetwork(ctx, app, env.Labels())
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("network IDs differ: %v", ids)
		}
	}
	ns, err := env.Client.NetworkList(ctx, mclient.NetworkListOptions{Filters: mclient.Filters{}.Add("label", "kaj.app="+app)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Items) != 1 {
		t.Fatalf("%d networks for the app, want 1", len(ns.Items))
	}
}

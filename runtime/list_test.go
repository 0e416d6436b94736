package runtime_test

import (
	"testing"

	"github.com/kajhq/kaj/runtime"
	"github.com/moby/moby/api/types/container"
	mclient "github.com/moby/moby/client"
)

// TestDocker_ListAll_oneInstance lists an instance's containers from one
// engine call: its running app matches what Inspect reports, its
// never-started container is there as created, and containers of another
// kaj instance on the same engine (same app name even) are not returned.
func TestDocker_ListAll_oneInstance(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	img := env.TestAppImage()
	app := env.Name("listall")
	mine := env.WithLabels(map[string]string{"owner": "a"})
	theirs := env.WithLabels(map[string]string{"owner": "b"})

	web, err := d.StartApp(ctx, runtime.AppSpec{App: app, Release: "3", Image: img, Port: 8080, Labels: mine})
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string, labels map[string]string) string {
		t.Helper()
		l := map[string]string{runtime.LabelManaged: "true", runtime.LabelApp: app, runtime.LabelRole: "app", runtime.LabelRelease: "2"}
		for k, v := range labels {
			l[k] = v
		}
		res, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{Name: name, Config: &container.Config{Image: img, Labels: l}})
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	idle := create(env.Name("listall-idle"), mine)
	create(env.Name("listall-other"), theirs)

	got, err := d.ListAll(ctx, mine)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("ListAll returned %d containers, want 2 (the other instance's must not be listed): %+v", len(got), got)
	}
	byID := map[string]runtime.Status{}
	for _, s := range got {
		byID[s.ID] = s
	}
	want, err := d.Inspect(ctx, web.ID)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := byID[web.ID]
	if !ok {
		t.Fatalf("the running app %s is missing from %+v", web.ID, got)
	}
	if s.Container != want.Container || s.State != want.State || s.Health != want.Health {
		t.Errorf("ListAll status\n %+v\nInspect\n %+v", s, want)
	}
	if !s.IP.IsValid() || !s.HostPort.IsValid() {
		t.Errorf("running app has IP %v, host port %v; want both", s.IP, s.HostPort)
	}
	if s := byID[idle]; s.State != "created" || s.Release != "2" || s.IP.IsValid() {
		t.Errorf("idle container = %+v, want created, release 2, no IP", s)
	}

	other, err := d.ListAll(ctx, theirs)
	if err != nil {
		t.Fatal(err)
	}
	if len(other) != 1 || other[0].ID == web.ID || other[0].ID == idle {
		t.Errorf("the other instance lists %+v, want its one container", other)
	}
	if _, err := d.ListAll(ctx, map[string]string{runtime.LabelApp: app}); err == nil {
		t.Error("ListAll with a reserved label key succeeded; want ErrInvalid")
	}
}

package runtime

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	mclient "github.com/moby/moby/client"
)

// EnsureNetwork makes sure the app's bridge network (Names(app).Network)
// exists, creating it with labels plus the scope's and kaj's own when it
// is missing, and returns its ID. A network of that name that is not this
// instance's for this app is an ErrConflict: kaj does not join containers
// to a stranger's network.
func (d *Docker) EnsureNetwork(ctx context.Context, app string, labels map[string]string) (string, error) {
	if err := checkApp("app", app); err != nil {
		return "", err
	}
	if err := checkLabels("labels", labels); err != nil {
		return "", err
	}
	return d.ensureNetwork(ctx, app, labels)
}

func (d *Docker) ensureNetwork(ctx context.Context, app string, labels map[string]string) (string, error) {
	name := d.Names(app).Network
	// Engines before API 1.44 create a second network of the same name
	// instead of refusing, so look and create under one lock.
	defer d.locks.lock("network/" + name)()
	res, err := d.cli.NetworkInspect(ctx, name, mclient.NetworkInspectOptions{})
	if err == nil {
		n := res.Network
		if n.Name != name || !d.owns(n.Labels) || n.Labels[LabelApp] != app {
			return "", fmt.Errorf("ensuring network: %w", foreign("network", name, app, n.Labels))
		}
		members := map[string]bool{}
		for id := range n.Containers {
			members[id] = true
		}
		return n.ID, d.joinNetwork(ctx, n.ID, members)
	}
	if !cerrdefs.IsNotFound(err) {
		return "", engineError("inspecting network "+name, err)
	}
	created, err := d.cli.NetworkCreate(ctx, name, mclient.NetworkCreateOptions{
		Driver: "bridge",
		Labels: d.labelsFor(labels, app, "", ""),
	})
	if err != nil {
		return "", engineError("creating network "+name, err)
	}
	return created.ID, d.joinNetwork(ctx, created.ID, nil)
}

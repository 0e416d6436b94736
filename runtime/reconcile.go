package runtime

import (
	"context"
	"fmt"

	mclient "github.com/moby/moby/client"
)

// ObjectKind is the kind of an engine object.
type ObjectKind string

// The kinds of objects kaj creates.
const (
	KindContainer ObjectKind = "container"
	KindNetwork   ObjectKind = "network"
	KindVolume    ObjectKind = "volume"
)

// Object is an engine object kaj created.
type Object struct {
	Kind ObjectKind
	// ID is the engine's ID; for volumes, which have none, the name.
	ID      string
	Name    string
	App     string
	Role    Role
	Release string
	// Labels are all the object's labels, for callers that share the
	// engine with another kaj and keep to their own.
	Labels map[string]string
}

// Reconcile lists every object of this instance (see Scope) and returns
// those no known app or release claims: what a crashed deploy left behind. known is
// asked known(app, release) for app containers and known(app, "") for the
// app-wide objects (network, database container, volumes); an object
// without an app label is always returned. Reconcile changes nothing and
// never lists objects kaj did not label; RemoveObject removes what the
// caller decides to drop. Another instance's objects are never listed.
func (d *Docker) Reconcile(ctx context.Context, known func(app, release string) bool) ([]Object, error) {
	f := d.filters(nil)
	var out []Object
	claimed := func(app, release string) bool { return app != "" && known(app, release) }

	cs, err := d.cli.ContainerList(ctx, mclient.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, engineError("listing kaj's containers", err)
	}
	for _, c := range cs.Items {
		l := c.Labels
		if !d.owns(l) {
			continue
		}
		o := Object{Kind: KindContainer, ID: c.ID, App: l[LabelApp], Role: Role(l[LabelRole]), Release: l[LabelRelease], Labels: l}
		if len(c.Names) > 0 {
			o.Name = c.Names[0][1:]
		}
		rel := ""
		if o.Role == RoleApp {
			rel = o.Release
		}
		if !claimed(o.App, rel) {
			out = append(out, o)
		}
	}
	ns, err := d.cli.NetworkList(ctx, mclient.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, engineError("listing kaj's networks", err)
	}
	for _, n := range ns.Items {
		if !d.owns(n.Labels) {
			continue
		}
		if !claimed(n.Labels[LabelApp], "") {
			out = append(out, Object{Kind: KindNetwork, ID: n.ID, Name: n.Name, App: n.Labels[LabelApp], Labels: n.Labels})
		}
	}
	vs, err := d.cli.VolumeList(ctx, mclient.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, engineError("listing kaj's volumes", err)
	}
	for _, v := range vs.Items {
		if !d.owns(v.Labels) {
			continue
		}
		if !claimed(v.Labels[LabelApp], "") {
			out = append(out, Object{Kind: KindVolume, ID: v.Name, Name: v.Name, App: v.Labels[LabelApp], Role: Role(v.Labels[LabelRole]), Labels: v.Labels})
		}
	}
	return out, nil
}

// RemoveObject removes an object Reconcile returned, after checking again
// that it is this instance's: a container after a graceful stop (its named
// volumes stay), a network, or a volume with its data.
func (d *Docker) RemoveObject(ctx context.Context, o Object) error {
	switch o.Kind {
	case KindContainer:
		return d.Remove(ctx, o.ID, false)
	case KindVolume:
		return d.removeVolume(ctx, o.ID)
	case KindNetwork:
		res, err := d.cli.NetworkInspect(ctx, o.ID, mclient.NetworkInspectOptions{})
		if err != nil {
			return engineError("inspecting network "+o.Name, err)
		}
		if !d.owns(res.Network.Labels) {
			return fmt.Errorf("removing network %s: %w: it is not a network of this kaj", o.Name, ErrNotFound)
		}
		d.leaveNetwork(ctx, res.Network.ID)
		if _, err := d.cli.NetworkRemove(ctx, res.Network.ID, mclient.NetworkRemoveOptions{}); err != nil {
			return engineError("removing network "+res.Network.Name, err)
		}
		return nil
	}
	return invalid("Object.Kind", string(o.Kind), `must be "container", "network" or "volume"`)
}

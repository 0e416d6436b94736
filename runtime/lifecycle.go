package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	mclient "github.com/moby/moby/client"
)

// Start starts one of kaj's stopped containers; a running one is left
// as it is.
func (d *Docker) Start(ctx context.Context, id string) error {
	c, err := d.inspect(ctx, id)
	if err != nil {
		return err
	}
	if _, err := d.cli.ContainerStart(ctx, c.ID, mclient.ContainerStartOptions{}); err != nil {
		return engineError("starting "+d.containerOf(c).Name, err)
	}
	return nil
}

// Stop stops one of kaj's containers: its stop signal, then, after grace,
// SIGKILL. A zero grace means the container's own stop timeout (30s for
// databases, else the engine's 10s). A stopped container stays stopped
// across engine restarts until Start.
func (d *Docker) Stop(ctx context.Context, id string, grace time.Duration) error {
	c, err := d.inspect(ctx, id)
	if err != nil {
		return err
	}
	// The engine answers once the container is down, after the grace
	// period at most: that wait is not the engine hanging.
	ctx = withCallTimeout(ctx, d.stopWait(c, grace))
	if _, err := d.cli.ContainerStop(ctx, c.ID, mclient.ContainerStopOptions{Timeout: graceSeconds(grace)}); err != nil {
		return engineError("stopping "+d.containerOf(c).Name, err)
	}
	return nil
}

// Restart stops one of kaj's containers as Stop does, then starts it.
func (d *Docker) Restart(ctx context.Context, id string, grace time.Duration) error {
	c, err := d.inspect(ctx, id)
	if err != nil {
		return err
	}
	ctx = withCallTimeout(ctx, d.stopWait(c, grace))
	if _, err := d.cli.ContainerRestart(ctx, c.ID, mclient.ContainerRestartOptions{Timeout: graceSeconds(grace)}); err != nil {
		return engineError("restarting "+d.containerOf(c).Name, err)
	}
	return nil
}

// stopWait is how long a stop of c with grace may take to be answered:
// the grace period (zero: the container's own stop timeout, else the
// engine's 10s), then the timeout for the engine itself.
func (d *Docker) stopWait(c container.InspectResponse, grace time.Duration) time.Duration {
	if grace <= 0 {
		grace = 10 * time.Second
		if c.Config != nil && c.Config.StopTimeout != nil {
			grace = time.Duration(*c.Config.StopTimeout) * time.Second
		}
	}
	return grace + d.dl.timeout
}

func graceSeconds(grace time.Duration) *int {
	if grace <= 0 {
		return nil
	}
	s := int(math.Ceil(grace.Seconds()))
	return &s
}

// Remove stops one of kaj's containers gracefully, as Stop with zero
// grace, and removes it. Its named volumes (a database's data) stay unless
// deleteData is set; then those kaj created are removed too.
func (d *Docker) Remove(ctx context.Context, id string, deleteData bool) error {
	c, err := d.inspect(ctx, id)
	if err != nil {
		return err
	}
	name := d.containerOf(c).Name
	if c.State != nil && c.State.Running {
		if _, err := d.cli.ContainerStop(withCallTimeout(ctx, d.stopWait(c, 0)), c.ID, mclient.ContainerStopOptions{}); err != nil {
			return engineError("stopping "+name, err)
		}
	}
	// RemoveVolumes takes only anonymous volumes (an image's VOLUME not
	// given a name), which belong to this container alone.
	if _, err := d.cli.ContainerRemove(ctx, c.ID, mclient.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
		if !strings.Contains(err.Error(), "already in progress") {
			return engineError("removing "+name, err)
		}
		// Another caller (a concurrent sweep, a second delete) is
		// removing it: it is gone once that finishes.
		if err := d.waitGone(ctx, c.ID); err != nil {
			return engineError("removing "+name, err)
		}
	}
	if !deleteData {
		return nil
	}
	var errs []error
	for _, m := range c.Mounts {
		if m.Type == mount.TypeVolume && m.Name != "" {
			if err := d.removeVolume(ctx, m.Name); err != nil && !errors.Is(err, ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// waitGone waits until the engine no longer knows container id.
func (d *Docker) waitGone(ctx context.Context, id string) error {
	return poll(ctx, Backoff{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond}, func(ctx context.Context) error {
		_, err := d.cli.ContainerInspect(ctx, id, mclient.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return nil
		}
		return retryable{errors.New("its removal is still in progress")}
	})
}

// removeVolume removes a volume this instance created; any other is
// ErrNotFound.
func (d *Docker) removeVolume(ctx context.Context, name string) error {
	v, err := d.cli.VolumeInspect(ctx, name, mclient.VolumeInspectOptions{})
	if err != nil {
		return engineError("inspecting volume "+name, err)
	}
	if !d.owns(v.Volume.Labels) {
		return fmt.Errorf("removing volume %s: %w: it is not a volume of this kaj", name, ErrNotFound)
	}
	if _, err := d.cli.VolumeRemove(ctx, name, mclient.VolumeRemoveOptions{}); err != nil {
		return engineError("removing volume "+name, err)
	}
	return nil
}

// RemoveApp removes everything this instance runs for app: its
// containers, after a graceful stop, and its network. Its data volumes
// stay unless deleteData is set. Objects of the app that this instance
// did not create (another kaj's of the same app name) are left alone. It
// goes on past failures and returns them all.
func (d *Docker) RemoveApp(ctx context.Context, app string, deleteData bool) error {
	if err := checkApp("app", app); err != nil {
		return err
	}
	f := d.filters(map[string]string{LabelApp: app})
	var errs []error
	cs, err := d.cli.ContainerList(ctx, mclient.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return engineError("listing containers of "+app, err)
	}
	for _, c := range cs.Items {
		if !d.owns(c.Labels) {
			continue
		}
		if err := d.Remove(ctx, c.ID, false); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	ns, err := d.cli.NetworkList(ctx, mclient.NetworkListOptions{Filters: f})
	if err != nil {
		errs = append(errs, engineError("listing networks of "+app, err))
	}
	for _, n := range ns.Items {
		if !d.owns(n.Labels) {
			continue
		}
		d.leaveNetwork(ctx, n.ID)
		if _, err := d.cli.NetworkRemove(ctx, n.ID, mclient.NetworkRemoveOptions{}); err != nil {
			errs = append(errs, engineError("removing network "+n.Name, err))
		}
	}
	if deleteData {
		vs, err := d.cli.VolumeList(ctx, mclient.VolumeListOptions{Filters: f})
		if err != nil {
			errs = append(errs, engineError("listing volumes of "+app, err))
		}
		for _, v := range vs.Items {
			if !d.owns(v.Labels) {
				continue
			}
			if _, err := d.cli.VolumeRemove(ctx, v.Name, mclient.VolumeRemoveOptions{}); err != nil {
				errs = append(errs, engineError("removing volume "+v.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

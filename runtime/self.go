package runtime

import (
	"bufio"
	"context"
	"os"
	"regexp"

	cerrdefs "github.com/containerd/errdefs"
	mclient "github.com/moby/moby/client"
)

// The engine bind-mounts a container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf from its own directory, named by the container's ID:
// that is how a process finds the container it runs in, with cgroup v1 or
// v2 alike.
var containerDir = regexp.MustCompile(`/containers/([0-9a-f]{64})/`)

// JoinAppNetworks makes kaj reach its apps from inside a container: when
// kaj runs in a container of this engine on a network of its own (not the
// host's), a container cannot reach ports published on the host's
// loopback or the addresses of other bridge networks. kaj's container then
// joins every app network it ensures, and health checks ask the app on
// its network address. It reports whether kaj runs so; outside a
// container, or on the host's network, it changes nothing.
func (d *Docker) JoinAppNetworks(ctx context.Context) (bool, error) {
	id := ownContainerID("/proc/self/mountinfo")
	if id == "" {
		return false, nil
	}
	res, err := d.cli.ContainerInspect(ctx, id, mclient.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return false, nil // a container of another engine
	}
	if err != nil {
		return false, engineError("inspecting kaj's own container", err)
	}
	if hc := res.Container.HostConfig; hc != nil && hc.NetworkMode.IsHost() {
		return false, nil
	}
	d.self = res.Container.ID
	return true, nil
}

// ownContainerID reads the container ID from a mountinfo file, or "".
func ownContainerID(mountinfo string) string {
	f, err := os.Open(mountinfo)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := containerDir.FindStringSubmatch(sc.Text()); m != nil {
			return m[1]
		}
	}
	return ""
}

// joinNetwork connects kaj's own container to network when kaj runs in
// one (see JoinAppNetworks); members lists the network's containers.
func (d *Docker) joinNetwork(ctx context.Context, network string, members map[string]bool) error {
	if d.self == "" || members[d.self] {
		return nil
	}
	_, err := d.cli.NetworkConnect(ctx, network, mclient.NetworkConnectOptions{Container: d.self})
	if err != nil && !cerrdefs.IsAlreadyExists(err) && !cerrdefs.IsConflict(err) {
		return engineError("joining kaj's container to network "+network, err)
	}
	return nil
}

// leaveNetwork disconnects kaj's own container from a network about to be
// removed; the engine refuses to remove a network with members.
func (d *Docker) leaveNetwork(ctx context.Context, network string) {
	if d.self == "" {
		return
	}
	d.cli.NetworkDisconnect(ctx, network, mclient.NetworkDisconnectOptions{Container: d.self, Force: true})
}

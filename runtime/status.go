package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	mclient "github.com/moby/moby/client"
)

// Container identifies one of kaj's containers.
type Container struct {
	ID   string
	Name string
	App  string
	Role Role
	// Release is the release an app container runs; empty for databases.
	Release string
	// Kind is a database container's server; empty for apps.
	Kind  DatabaseKind
	Image string
	// IP is the container's address on its app network; invalid while
	// the container is not running.
	IP netip.Addr
	// HostPort is where the app's port is published on the host; invalid
	// when nothing is published (databases, apps without a port).
	HostPort netip.AddrPort
	// Service is the swarm service the container is a task of; empty on
	// a single engine.
	Service string
}

// Status is a container's state as kaj reports it.
type Status struct {
	Container
	// State is the engine's: created, running, paused, restarting,
	// removing, exited or dead.
	State string
	// Health is the image's health check: "" when it has none, else
	// starting, healthy or unhealthy.
	Health string
	// ExitCode is the last exit's code; meaningful once it has exited.
	ExitCode int
	// RestartCount is how often the engine restarted it.
	RestartCount int
	OOMKilled    bool
	StartedAt    time.Time
	FinishedAt   time.Time
}

// String is the status in a few words: "running", "running (healthy)",
// "restarting (3 restarts, last exit code 1)", "exited with code 3".
func (s Status) String() string {
	var out string
	switch s.State {
	case "running":
		out = "running"
		if s.Health != "" {
			out += " (" + s.Health + ")"
		}
	case "restarting":
		out = fmt.Sprintf("restarting (%d restarts, last exit code %d)", s.RestartCount, s.ExitCode)
	case "exited", "dead":
		out = fmt.Sprintf("%s with code %d", s.State, s.ExitCode)
		if s.OOMKilled {
			out += " (out of memory)"
		}
	default:
		out = s.State
	}
	return out
}

// inspect reads one of kaj's containers by ID or name; a container kaj
// did not create is ErrNotFound.
func (d *Docker) inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	if id == "" {
		return container.InspectResponse{}, invalid("container", id, "a container ID or name is required")
	}
	res, err := d.cli.ContainerInspect(ctx, id, mclient.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, engineError("inspecting container "+id, err)
	}
	c := res.Container
	if c.Config == nil || !d.owns(c.Config.Labels) {
		return container.InspectResponse{}, fmt.Errorf("inspecting container %s: %w: it is not a container of this kaj", id, ErrNotFound)
	}
	return c, nil
}

func (d *Docker) container(ctx context.Context, id string) (Container, error) {
	c, err := d.inspect(ctx, id)
	if err != nil {
		return Container{}, err
	}
	return d.containerOf(c), nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

func (d *Docker) containerOf(c container.InspectResponse) Container {
	l := c.Config.Labels
	out := Container{
		ID:      c.ID,
		Name:    strings.TrimPrefix(c.Name, "/"),
		App:     l[LabelApp],
		Role:    Role(l[LabelRole]),
		Release: l[LabelRelease],
		Kind:    DatabaseKind(l[LabelDatabase]),
		Image:   c.Config.Image,
	}
	if ns := c.NetworkSettings; ns != nil {
		if ep, ok := ns.Networks[d.Names(out.App).Network]; ok && ep != nil {
			out.IP = ep.IPAddress
		}
		for _, bindings := range ns.Ports {
			for _, b := range bindings {
				p, err := strconv.ParseUint(b.HostPort, 10, 16)
				if err != nil {
					continue
				}
				ip := b.HostIP
				if !ip.IsValid() {
					ip = netip.IPv4Unspecified()
				}
				// An engine with IPv6 lists the port twice; keep IPv4.
				if !out.HostPort.IsValid() || out.HostPort.Addr().Is6() && ip.Is4() {
					out.HostPort = netip.AddrPortFrom(ip, uint16(p))
				}
			}
		}
	}
	return out
}

func (d *Docker) statusOf(c container.InspectResponse) Status {
	s := Status{Container: d.containerOf(c), RestartCount: c.RestartCount}
	if st := c.State; st != nil {
		s.State = string(st.Status)
		s.ExitCode = st.ExitCode
		s.OOMKilled = st.OOMKilled
		s.StartedAt, _ = time.Parse(time.RFC3339Nano, st.StartedAt)
		s.FinishedAt, _ = time.Parse(time.RFC3339Nano, st.FinishedAt)
		if st.Health != nil && st.Health.Status != container.NoHealthcheck {
			s.Health = string(st.Health.Status)
		}
	}
	return s
}

// Inspect reports one of kaj's containers; any other is ErrNotFound.
func (d *Docker) Inspect(ctx context.Context, id string) (Status, error) {
	c, err := d.inspect(ctx, id)
	if err != nil {
		return Status{}, err
	}
	return d.statusOf(c), nil
}

// List reports this kaj's containers of app, or of every app when app is
// empty, running or not, ordered by app, role (app before db) and name.
func (d *Docker) List(ctx context.Context, app string) ([]Status, error) {
	if app != "" {
		if err := checkApp("app", app); err != nil {
			return nil, err
		}
	}
	var f mclient.Filters
	if app != "" {
		f = d.filters(map[string]string{LabelApp: app})
	} else {
		f = d.filters(nil)
	}
	res, err := d.cli.ContainerList(ctx, mclient.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, engineError("listing containers", err)
	}
	out := make([]Status, 0, len(res.Items))
	for _, item := range res.Items {
		if !d.owns(item.Labels) {
			continue
		}
		c, err := d.inspect(ctx, item.ID)
		if err != nil {
			if isNotFound(err) {
				continue // removed since the list
			}
			return nil, err
		}
		out = append(out, d.statusOf(c))
	}
	slices.SortFunc(out, func(a, b Status) int {
		return strings.Compare(a.App+"\x00"+string(a.Role)+"\x00"+a.Name, b.App+"\x00"+string(b.Role)+"\x00"+b.Name)
	})
	return out, nil
}

// Stats is one sample of a container's resource use.
type Stats struct {
	// CPUPercent is the share of one CPU used over the last second, as
	// docker stats shows it (200 is two CPUs busy).
	CPUPercent float64
	// Memory is the memory in use without the page cache, as docker
	// stats shows it; MemoryLimit is the container's limit, or the
	// machine's memory when it has none.
	Memory      uint64
	MemoryLimit uint64
}

// Stats samples a running container's CPU and memory use. It takes about
// a second: the engine measures CPU over two samples.
func (d *Docker) Stats(ctx context.Context, id string) (Stats, error) {
	c, err := d.inspect(ctx, id)
	if err != nil {
		return Stats{}, err
	}
	res, err := d.cli.ContainerStats(ctx, c.ID, mclient.ContainerStatsOptions{IncludePreviousSample: true})
	if err != nil {
		return Stats{}, engineError("reading stats of "+c.Name, err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return Stats{}, fmt.Errorf("reading stats of %s: %w", c.Name, err)
	}
	return statsOf(s), nil
}

func statsOf(s container.StatsResponse) Stats {
	out := Stats{MemoryLimit: s.MemoryStats.Limit, Memory: s.MemoryStats.Usage}
	// cgroup v2 names the page cache inactive_file, v1 total_inactive_file.
	cache, ok := s.MemoryStats.Stats["inactive_file"]
	if !ok {
		cache = s.MemoryStats.Stats["total_inactive_file"]
	}
	if cache < out.Memory {
		out.Memory -= cache
	}
	cpu := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sys := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	cpus := float64(s.CPUStats.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if cpu > 0 && sys > 0 && s.PreCPUStats.SystemUsage > 0 {
		out.CPUPercent = cpu / sys * cpus * 100
	}
	return out
}

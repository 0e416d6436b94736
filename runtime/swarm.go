package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	mclient "github.com/moby/moby/client"
)

// On a Docker Swarm an app is a replicated service and its database a
// service of one replica pinned to the node that holds its volume. The
// services, their tasks' containers and the app's overlay network carry
// the labels a single engine's containers carry, so kaj reads them the
// same way.

// LabelVolumeNode prefixes the node label that marks the node holding a
// database volume: "kaj.volume.<volume>=true". A database service is
// constrained to that node, so its data never moves silently.
const LabelVolumeNode = "kaj.volume."

// Timings of a swarm rolling update. Monitor is how long swarm watches a
// fresh task for a failure before it counts the update of that task as
// done: long enough for a crash at boot, short enough for a quick deploy.
const (
	swarmMonitor    = 5 * time.Second
	swarmStopGrace  = 10 * time.Second
	swarmDBStopWait = 30 * time.Second
)

// SwarmInfo says whether the engine is a swarm manager, and which node.
type SwarmInfo struct {
	Manager bool
	NodeID  string
	// Nodes is how many nodes the swarm has, the manager included.
	Nodes int
}

// Swarm reports the engine's place in a Docker Swarm. An engine outside
// any swarm, or a worker, is not a Manager.
func (d *Docker) Swarm(ctx context.Context) (SwarmInfo, error) {
	res, err := d.cli.Info(ctx, mclient.InfoOptions{})
	if err != nil {
		return SwarmInfo{}, engineError("asking the engine about its swarm", err)
	}
	s := res.Info.Swarm
	return SwarmInfo{
		Manager: s.LocalNodeState == swarm.LocalNodeStateActive && s.ControlAvailable,
		NodeID:  s.NodeID, Nodes: s.Nodes,
	}, nil
}

// ServiceSpec describes an app's service on a swarm.
type ServiceSpec struct {
	// App names the app; its service is on the overlay network
	// kaj-<app>, which must exist (EnsureOverlay).
	App     string
	Release string
	// Image must be pullable by every node that may run a task: a
	// registry reference, or an image every node already has.
	Image string
	Env   map[string]string
	// Port is published on each task's node, in host mode, on a port
	// the node picks (see Task.HostPort): kaj's router reaches every
	// task there without joining the overlay network.
	Port     int
	Replicas int
	Cmd      []string
	// Entrypoint replaces the image's when set.
	Entrypoint []string
	Memory     int64
	CPUs       float64
	// Health tunes the image's own health check, when it has one; swarm
	// then counts a task as running only once it is healthy.
	Health *HealthTuning
	Labels map[string]string
}

// HealthTuning overrides the timings of an image's health check; zero
// fields keep the image's.
type HealthTuning struct {
	Interval, Timeout, StartPeriod time.Duration
	Retries                        int
}

func (s ServiceSpec) validate() error {
	if err := checkApp("ServiceSpec.App", s.App); err != nil {
		return err
	}
	if err := checkRelease("ServiceSpec.Release", s.Release); err != nil {
		return err
	}
	if err := checkImage("ServiceSpec.Image", s.Image); err != nil {
		return err
	}
	if err := checkEnv("ServiceSpec.Env", s.Env); err != nil {
		return err
	}
	if err := checkPort("ServiceSpec.Port", s.Port, true); err != nil {
		return err
	}
	if s.Replicas < 0 || s.Replicas > 1000 {
		return invalid("ServiceSpec.Replicas", strconv.Itoa(s.Replicas), "is 0 (stopped) to 1000")
	}
	if err := checkMemory("ServiceSpec.Memory", s.Memory); err != nil {
		return err
	}
	if err := checkCPUs("ServiceSpec.CPUs", s.CPUs); err != nil {
		return err
	}
	return checkLabels("ServiceSpec.Labels", s.Labels)
}

// Service is one of kaj's swarm services.
type Service struct {
	ID      string
	Name    string
	App     string
	Role    Role
	Release string
	Image   string
	// Replicas is the number of tasks the service asks for.
	Replicas int
	// Version is the swarm object version an update must name.
	Version uint64
	// Update is the state of its last rolling update ("updating",
	// "completed", "rollback_started", "rollback_completed", "paused"...);
	// empty when never updated. UpdateMessage says why.
	Update        string
	UpdateMessage string
	// UpdateStarted is when that update began.
	UpdateStarted time.Time
	// Previous is true when the service has a previous spec to roll
	// back to.
	Previous bool
}

// Task is one task of a kaj service: a container on some node.
type Task struct {
	ID        string
	ServiceID string
	App       string
	Role      Role
	Release   string
	Slot      int
	NodeID    string
	// Node is the node's host name, NodeAddr its address in the swarm.
	Node     string
	NodeAddr netip.Addr
	// State is where the task is ("pending", "starting", "running",
	// "shutdown", "failed"...), Desired where swarm wants it.
	State, Desired string
	// Message and Err are swarm's word on the state: "no suitable node
	// (scheduling constraints not satisfied on 3 nodes)".
	Message, Err string
	// HostPort is the app port's published address on the task's node;
	// invalid until the task runs.
	HostPort    netip.AddrPort
	ContainerID string
	Created     time.Time
	Updated     time.Time
}

// Serving reports whether the task runs and swarm means it to.
func (t Task) Serving() bool { return t.State == "running" && t.Desired == "running" }

// AppServiceName is the service of app's app tasks.
func (d *Docker) AppServiceName(app string) string { return d.Names(app).Network }

// DatabaseServiceName is the service of app's database.
func (d *Docker) DatabaseServiceName(app string) string { return d.Names(app).Database }

// EnsureOverlay makes sure app's attachable overlay network exists and
// returns its ID. A network of that name kaj did not make for app, or
// one that is not an overlay (the app ran on a single engine before), is
// ErrConflict.
func (d *Docker) EnsureOverlay(ctx context.Context, app string, labels map[string]string) (string, error) {
	if err := checkApp("app", app); err != nil {
		return "", err
	}
	name := d.Names(app).Network
	defer d.locks.lock("network/" + name)()
	res, err := d.cli.NetworkInspect(ctx, name, mclient.NetworkInspectOptions{})
	if err == nil {
		n := res.Network
		switch {
		case n.Name != name || !d.owns(n.Labels) || n.Labels[LabelApp] != app:
			return "", foreign("network", name, app, n.Labels)
		case n.Driver != "overlay":
			return "", fmt.Errorf("ensuring network %s: %w: it is a %s network from before the swarm; remove the app's containers and the network (docker network rm %s), then deploy again", name, ErrConflict, n.Driver, name)
		}
		return n.ID, nil
	}
	if !cerrdefs.IsNotFound(err) {
		return "", engineError("inspecting network "+name, err)
	}
	created, err := d.cli.NetworkCreate(ctx, name, mclient.NetworkCreateOptions{
		Driver: "overlay", Scope: "swarm", Attachable: true,
		Labels: d.labelsFor(labels, app, "", ""),
	})
	if err != nil {
		return "", engineError("creating overlay network "+name, err)
	}
	return created.ID, nil
}

// appServiceSpec is the swarm spec of spec's app service.
func (d *Docker) appServiceSpec(spec ServiceSpec) swarm.ServiceSpec {
	env := make([]string, 0, len(spec.Env))
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	labels := d.labelsFor(spec.Labels, spec.App, RoleApp, spec.Release)
	replicas := uint64(spec.Replicas)
	grace := swarmStopGrace
	cs := &swarm.ContainerSpec{
		Image: spec.Image, Env: env, Labels: labels, Args: spec.Cmd, StopGracePeriod: &grace,
	}
	if len(spec.Entrypoint) > 0 {
		cs.Command = spec.Entrypoint
	}
	if h := spec.Health; h != nil && *h != (HealthTuning{}) {
		// An empty Test keeps the image's command and overrides only
		// the timings.
		cs.Healthcheck = &container.HealthConfig{Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	s := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: d.AppServiceName(spec.App), Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: cs,
			Networks:      []swarm.NetworkAttachmentConfig{{Target: d.Names(spec.App).Network}},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		// A new task starts and turns healthy before the one it replaces
		// stops: the app keeps its capacity through an update. A task
		// that fails within Monitor rolls the whole update back.
		UpdateConfig: &swarm.UpdateConfig{
			Parallelism: 1, Order: swarm.UpdateOrderStartFirst, FailureAction: swarm.UpdateFailureActionRollback,
			Monitor: swarmMonitor,
		},
		RollbackConfig: &swarm.UpdateConfig{
			Parallelism: 1, Order: swarm.UpdateOrderStartFirst, FailureAction: swarm.UpdateFailureActionPause,
			Monitor: swarmMonitor,
		},
	}
	if spec.Memory != 0 || spec.CPUs != 0 {
		s.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{
			MemoryBytes: spec.Memory, NanoCPUs: int64(math.Round(spec.CPUs * 1e9)),
		}}
	}
	if spec.Port != 0 {
		// Host mode with no published port: each node binds a free port
		// of its own for its task, read back from the task's status.
		s.EndpointSpec = &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR, Ports: []swarm.PortConfig{{
			Protocol: network.TCP, TargetPort: uint32(spec.Port), PublishMode: swarm.PortConfigPublishModeHost,
		}}}
	}
	return s
}

// DeployService creates app's service or updates it to spec, and returns
// it as the manager accepted it: the rolling update runs on from there
// (see Service.Update and Tasks). The image must be pullable by the
// nodes.
func (d *Docker) DeployService(ctx context.Context, spec ServiceSpec) (Service, error) {
	if err := spec.validate(); err != nil {
		return Service{}, err
	}
	s := d.appServiceSpec(spec)
	defer d.locks.lock("service/" + s.Name)()
	cur, err := d.service(ctx, s.Name, spec.App, RoleApp)
	switch {
	case errors.Is(err, ErrNotFound):
		if _, err := d.cli.ServiceCreate(ctx, mclient.ServiceCreateOptions{Spec: s}); err != nil {
			return Service{}, d.serviceError(ctx, "creating service "+s.Name, err)
		}
	case err != nil:
		return Service{}, err
	default:
		if _, err := d.cli.ServiceUpdate(ctx, cur.ID, mclient.ServiceUpdateOptions{Version: swarm.Version{Index: cur.Version}, Spec: s}); err != nil {
			return Service{}, d.serviceError(ctx, "updating service "+s.Name, err)
		}
	}
	return d.service(ctx, s.Name, spec.App, RoleApp)
}

func (d *Docker) serviceError(_ context.Context, doing string, err error) error {
	return engineError(doing, err)
}

// AppService returns app's app service; ErrNotFound when it has none.
func (d *Docker) AppService(ctx context.Context, app string) (Service, error) {
	return d.service(ctx, d.AppServiceName(app), app, RoleApp)
}

// DatabaseService returns app's database service; ErrNotFound when it
// has none.
func (d *Docker) DatabaseService(ctx context.Context, app string) (Service, error) {
	return d.service(ctx, d.DatabaseServiceName(app), app, RoleDB)
}

// service reads one of kaj's services; one of that name kaj did not make
// for app in that role is ErrConflict.
func (d *Docker) service(ctx context.Context, name, app string, role Role) (Service, error) {
	res, err := d.cli.ServiceInspect(ctx, name, mclient.ServiceInspectOptions{})
	if err != nil {
		return Service{}, engineError("inspecting service "+name, err)
	}
	sv := toService(res.Service)
	if sv.Name != name || !d.owns(res.Service.Spec.Labels) || sv.App != app || sv.Role != role {
		return Service{}, foreign("service", name, app, res.Service.Spec.Labels)
	}
	return sv, nil
}

func toService(s swarm.Service) Service {
	l := s.Spec.Labels
	out := Service{
		ID: s.ID, Name: s.Spec.Name, App: l[LabelApp], Role: Role(l[LabelRole]), Release: l[LabelRelease],
		Version: s.Version.Index, Previous: s.PreviousSpec != nil,
	}
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
		out.Image = cs.Image
	}
	if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		out.Replicas = int(*r.Replicas)
	}
	if u := s.UpdateStatus; u != nil {
		out.Update, out.UpdateMessage = string(u.State), u.Message
		if u.StartedAt != nil {
			out.UpdateStarted = *u.StartedAt
		}
	}
	return out
}

// Services lists the kaj services carrying all of labels (every app's
// when labels is empty).
func (d *Docker) Services(ctx context.Context, labels map[string]string) ([]Service, error) {
	f := mclient.Filters{}.Add("label", LabelManaged+"=true")
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	res, err := d.cli.ServiceList(ctx, mclient.ServiceListOptions{Filters: f})
	if err != nil {
		return nil, engineError("listing services", err)
	}
	out := make([]Service, 0, len(res.Items))
	for _, s := range res.Items {
		out = append(out, toService(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ScaleService sets the replica count of app's service in role: zero
// stops every task, the service and its settings stay.
func (d *Docker) ScaleService(ctx context.Context, app string, role Role, replicas int) error {
	return d.changeService(ctx, app, role, "scaling", func(s *swarm.ServiceSpec) {
		n := uint64(replicas)
		s.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
	})
}

// ForceUpdateService replaces every task of app's service in role with a
// fresh one, by the service's update order.
func (d *Docker) ForceUpdateService(ctx context.Context, app string, role Role) error {
	return d.changeService(ctx, app, role, "restarting", func(s *swarm.ServiceSpec) { s.TaskTemplate.ForceUpdate++ })
}

// RollbackService returns app's app service to its previous spec, as a
// rolling update.
func (d *Docker) RollbackService(ctx context.Context, app string) error {
	name := d.AppServiceName(app)
	defer d.locks.lock("service/" + name)()
	cur, err := d.cli.ServiceInspect(ctx, name, mclient.ServiceInspectOptions{})
	if err != nil {
		return engineError("inspecting service "+name, err)
	}
	if l := cur.Service.Spec.Labels; !d.owns(l) || l[LabelApp] != app {
		return foreign("service", name, app, l)
	}
	if cur.Service.PreviousSpec == nil {
		return fmt.Errorf("rolling back service %s: %w: it has no previous spec", name, ErrNotFound)
	}
	_, err = d.cli.ServiceUpdate(ctx, cur.Service.ID, mclient.ServiceUpdateOptions{Version: cur.Service.Version, Spec: cur.Service.Spec, Rollback: "previous"})
	return engineError("rolling back service "+name, err)
}

func (d *Docker) changeService(ctx context.Context, app string, role Role, doing string, change func(*swarm.ServiceSpec)) error {
	name := d.AppServiceName(app)
	if role == RoleDB {
		name = d.DatabaseServiceName(app)
	}
	defer d.locks.lock("service/" + name)()
	cur, err := d.cli.ServiceInspect(ctx, name, mclient.ServiceInspectOptions{})
	if err != nil {
		return engineError("inspecting service "+name, err)
	}
	if l := cur.Service.Spec.Labels; !d.owns(l) || l[LabelApp] != app {
		return foreign("service", name, app, l)
	}
	spec := cur.Service.Spec
	change(&spec)
	_, err = d.cli.ServiceUpdate(ctx, cur.Service.ID, mclient.ServiceUpdateOptions{Version: cur.Service.Version, Spec: spec})
	if err != nil {
		return engineError(doing+" service "+name, err)
	}
	return nil
}

// RemoveService removes app's service in role; a missing one is no
// error.
func (d *Docker) RemoveService(ctx context.Context, app string, role Role) error {
	name := d.AppServiceName(app)
	if role == RoleDB {
		name = d.DatabaseServiceName(app)
	}
	if _, err := d.service(ctx, name, app, role); errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if _, err := d.cli.ServiceRemove(ctx, name, mclient.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return engineError("removing service "+name, err)
	}
	return nil
}

// Tasks lists the tasks of app's services, those swarm still means to
// run first, then by slot. Each carries its node and, for a running app
// task, the address its port is published on.
func (d *Docker) Tasks(ctx context.Context, app string) ([]Task, error) {
	// Tasks are filtered by their services' IDs: the manager refuses a
	// filter naming a service that does not exist (yet).
	res, err := d.cli.ServiceList(ctx, mclient.ServiceListOptions{Filters: mclient.Filters{}.Add("label", LabelManaged+"=true", LabelApp+"="+app)})
	if err != nil {
		return nil, engineError("listing the services of "+app, err)
	}
	f := mclient.Filters{}
	for _, s := range res.Items {
		if s.Spec.Name == d.AppServiceName(app) || s.Spec.Name == d.DatabaseServiceName(app) {
			f.Add("service", s.ID)
		}
	}
	if len(f) == 0 {
		return nil, nil
	}
	return d.tasks(ctx, f, app)
}

func (d *Docker) tasks(ctx context.Context, f mclient.Filters, app string) ([]Task, error) {
	res, err := d.cli.TaskList(ctx, mclient.TaskListOptions{Filters: f})
	if err != nil {
		return nil, engineError("listing tasks", err)
	}
	nodes, err := d.nodeAddrs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Task, 0, len(res.Items))
	for _, t := range res.Items {
		var l map[string]string
		if cs := t.Spec.ContainerSpec; cs != nil {
			l = cs.Labels
		}
		if !d.owns(l) || (app != "" && l[LabelApp] != app) {
			continue
		}
		n := nodes[t.NodeID]
		task := Task{
			ID: t.ID, ServiceID: t.ServiceID, App: l[LabelApp], Role: Role(l[LabelRole]), Release: l[LabelRelease],
			Slot: t.Slot, NodeID: t.NodeID, Node: n.host, NodeAddr: n.addr,
			State: string(t.Status.State), Desired: string(t.DesiredState), Message: t.Status.Message, Err: t.Status.Err,
			Created: t.CreatedAt, Updated: t.Status.Timestamp,
		}
		if c := t.Status.ContainerStatus; c != nil {
			task.ContainerID = c.ContainerID
		}
		for _, p := range t.Status.PortStatus.Ports {
			if p.PublishedPort != 0 && n.addr.IsValid() && p.PublishedPort <= math.MaxUint16 {
				task.HostPort = netip.AddrPortFrom(n.addr, uint16(p.PublishedPort))
				break
			}
		}
		out = append(out, task)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Desired == "running") != (b.Desired == "running") {
			return a.Desired == "running"
		}
		if a.Role != b.Role {
			return a.Role == RoleApp
		}
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		return a.Created.After(b.Created)
	})
	return out, nil
}

type nodeAddr struct {
	host string
	addr netip.Addr
}

// nodeAddrs maps node IDs to their host names and addresses. A manager
// may report its own address as 0.0.0.0; its manager address says where
// it is.
func (d *Docker) nodeAddrs(ctx context.Context) (map[string]nodeAddr, error) {
	res, err := d.cli.NodeList(ctx, mclient.NodeListOptions{})
	if err != nil {
		return nil, engineError("listing swarm nodes", err)
	}
	out := make(map[string]nodeAddr, len(res.Items))
	for _, n := range res.Items {
		a, _ := netip.ParseAddr(n.Status.Addr)
		if (!a.IsValid() || a.IsUnspecified()) && n.ManagerStatus != nil {
			if h, _, err := net.SplitHostPort(n.ManagerStatus.Addr); err == nil {
				a, _ = netip.ParseAddr(h)
			}
		}
		if a.IsValid() && a.IsUnspecified() {
			a = netip.Addr{}
		}
		out[n.ID] = nodeAddr{host: n.Description.Hostname, addr: a}
	}
	return out, nil
}

// Node says where a node is and whether it is up.
type Node struct {
	ID       string
	Hostname string
	Addr     netip.Addr
	// State is "ready", "down", "unknown" or "disconnected".
	State        string
	Availability string
	Labels       map[string]string
}

// NodeByID reads one node.
func (d *Docker) NodeByID(ctx context.Context, id string) (Node, error) {
	res, err := d.cli.NodeInspect(ctx, id, mclient.NodeInspectOptions{})
	if err != nil {
		return Node{}, engineError("inspecting node "+id, err)
	}
	n := res.Node
	a, _ := netip.ParseAddr(n.Status.Addr)
	return Node{ID: n.ID, Hostname: n.Description.Hostname, Addr: a, State: string(n.Status.State),
		Availability: string(n.Spec.Availability), Labels: n.Spec.Labels}, nil
}

// VolumeNode returns the node labelled as holding volume, "" when none
// is.
func (d *Docker) VolumeNode(ctx context.Context, volume string) (string, error) {
	f := mclient.Filters{}.Add("node.label", LabelVolumeNode+volume+"=true")
	res, err := d.cli.NodeList(ctx, mclient.NodeListOptions{Filters: f})
	if err != nil {
		return "", engineError("finding the node of volume "+volume, err)
	}
	if len(res.Items) == 0 {
		return "", nil
	}
	return res.Items[0].ID, nil
}

// labelNode sets key=value on node id.
func (d *Docker) labelNode(ctx context.Context, id, key, value string) error {
	res, err := d.cli.NodeInspect(ctx, id, mclient.NodeInspectOptions{})
	if err != nil {
		return engineError("inspecting node "+id, err)
	}
	spec := res.Node.Spec
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[key] = value
	if _, err := d.cli.NodeUpdate(ctx, id, mclient.NodeUpdateOptions{Version: res.Node.Version, Spec: spec}); err != nil {
		return engineError("labelling node "+id, err)
	}
	return nil
}

// unlabelNode removes key from node id.
func (d *Docker) unlabelNode(ctx context.Context, id, key string) error {
	res, err := d.cli.NodeInspect(ctx, id, mclient.NodeInspectOptions{})
	if err != nil {
		return engineError("inspecting node "+id, err)
	}
	spec := res.Node.Spec
	if _, ok := spec.Labels[key]; !ok {
		return nil
	}
	delete(spec.Labels, key)
	if _, err := d.cli.NodeUpdate(ctx, id, mclient.NodeUpdateOptions{Version: res.Node.Version, Spec: spec}); err != nil {
		return engineError("unlabelling node "+id, err)
	}
	return nil
}

// databaseHealth is the server's own liveness check, run by the engine
// in the task: swarm reports a database task running only once it is
// healthy. The ping goes over TCP, so a server still initialising (it
// listens on no port then) is not yet healthy.
func databaseHealth(kind DatabaseKind, user, db string) *container.HealthConfig {
	test := []string{"CMD-SHELL", "mariadb-admin ping -h 127.0.0.1 --silent || mysqladmin ping -h 127.0.0.1 --silent"}
	if kind == Postgres {
		test = []string{"CMD-SHELL", "pg_isready -h 127.0.0.1 -U " + user + " -d " + db}
	}
	return &container.HealthConfig{
		Test: test, Interval: 2 * time.Second, Timeout: 5 * time.Second, Retries: 3, StartPeriod: 10 * time.Minute,
	}
}

// EnsureDatabaseService makes sure app's database service runs: one
// replica on the overlay network under spec.Alias, its data on the named
// volume of the node that holds it. The first time, the volume is made
// on the manager kaj talks to and that node is labelled
// kaj.volume.<volume>=true; the service is constrained to that label
// from then on, so swarm never starts the database on another node with
// empty data. An existing service is left as it is unless its image
// differs from spec's, which updates it (stop-first: one server on the
// data at a time). The password goes in a swarm secret, read through
// *_PASSWORD_FILE, for the official mariadb, mysql and postgres images,
// in the environment for others; the servers read it only when they
// initialise an empty volume.
func (d *Docker) EnsureDatabaseService(ctx context.Context, spec DatabaseSpec) (Service, error) {
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return Service{}, err
	}
	name := d.DatabaseServiceName(spec.App)
	defer d.locks.lock("service/" + name)()
	labels := d.labelsFor(spec.Labels, spec.App, RoleDB, "")
	labels[LabelDatabase] = string(spec.Kind)

	cur, err := d.service(ctx, name, spec.App, RoleDB)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Service{}, err
	}
	if err == nil && cur.Image == spec.Image {
		if cur.Replicas == 0 {
			if err := d.changeServiceLocked(ctx, name, func(s *swarm.ServiceSpec) {
				one := uint64(1)
				s.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
			}); err != nil {
				return Service{}, err
			}
			return d.service(ctx, name, spec.App, RoleDB)
		}
		return cur, nil
	}

	node, err := d.VolumeNode(ctx, spec.Volume)
	if err != nil {
		return Service{}, err
	}
	// Data of another kaj, of another app, or a stranger's volume under
	// the name kaj gives is never opened, as on one engine. The volume is
	// seen here when it is on the manager, where kaj makes it.
	if vol, err := d.cli.VolumeInspect(ctx, spec.Volume, mclient.VolumeInspectOptions{}); err == nil {
		vl := vol.Volume.Labels
		if managed(vl) && (!d.owns(vl) || vl[LabelApp] != spec.App) || !managed(vl) && spec.Volume == d.Names(spec.App).Volume {
			return Service{}, fmt.Errorf("ensuring database %s: %w", name, foreign("volume", spec.Volume, spec.App, vl))
		}
	} else if !cerrdefs.IsNotFound(err) {
		return Service{}, engineError("inspecting volume "+spec.Volume, err)
	}
	if node == "" {
		info, err := d.Swarm(ctx)
		if err != nil {
			return Service{}, err
		}
		vol, err := d.cli.VolumeCreate(ctx, mclient.VolumeCreateOptions{Name: spec.Volume, Labels: labels})
		if err != nil {
			return Service{}, engineError("creating volume "+spec.Volume, err)
		}
		if owner, ok := vol.Volume.Labels[LabelApp]; ok && owner != spec.App {
			return Service{}, fmt.Errorf("ensuring database %s: %w: volume %s belongs to app %s", name, ErrConflict, spec.Volume, owner)
		}
		if err := d.labelNode(ctx, info.NodeID, LabelVolumeNode+spec.Volume, "true"); err != nil {
			return Service{}, err
		}
	}

	k := kinds[spec.Kind]
	one := uint64(1)
	stop := swarmDBStopWait
	env := spec.env()
	var secrets []*swarm.SecretReference
	if readsPasswordFile(spec.Image) {
		// The official images read the password from a file: it stays
		// out of the service's spec.
		e, ref, err := d.databaseSecret(ctx, spec, labels)
		if err != nil {
			return Service{}, err
		}
		env, secrets = e, []*swarm.SecretReference{ref}
	}
	s := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name, Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image: spec.Image, Env: env, Labels: labels, StopGracePeriod: &stop,
				Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: spec.Volume, Target: k.dataDir,
					VolumeOptions: &mount.VolumeOptions{Labels: labels}}},
				Healthcheck: databaseHealth(spec.Kind, spec.User, spec.Database),
				Secrets:     secrets,
			},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: d.Names(spec.App).Network, Aliases: []string{spec.Alias}}},
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny},
			Placement:     &swarm.Placement{Constraints: []string{"node.labels." + LabelVolumeNode + spec.Volume + "==true"}},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		// Two servers must never share the data files: the old one
		// stops before the new one starts.
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStopFirst, FailureAction: swarm.UpdateFailureActionPause, Monitor: swarmMonitor},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}
	if spec.Memory != 0 {
		s.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{MemoryBytes: spec.Memory}}
	}
	if cur.ID == "" {
		if _, err := d.cli.ServiceCreate(ctx, mclient.ServiceCreateOptions{Spec: s}); err != nil {
			return Service{}, engineError("creating database service "+name, err)
		}
	} else if _, err := d.cli.ServiceUpdate(ctx, cur.ID, mclient.ServiceUpdateOptions{Version: swarm.Version{Index: cur.Version}, Spec: s}); err != nil {
		return Service{}, engineError("updating database service "+name, err)
	}
	out, err := d.service(ctx, name, spec.App, RoleDB)
	if err == nil && cur.ID != "" {
		out.Image = spec.Image
	}
	if cur.ID != "" {
		// The caller learns the image it replaced.
		out.UpdateMessage = "image " + cur.Image
	}
	return out, err
}

func (d *Docker) changeServiceLocked(ctx context.Context, name string, change func(*swarm.ServiceSpec)) error {
	cur, err := d.cli.ServiceInspect(ctx, name, mclient.ServiceInspectOptions{})
	if err != nil {
		return engineError("inspecting service "+name, err)
	}
	spec := cur.Service.Spec
	change(&spec)
	if _, err := d.cli.ServiceUpdate(ctx, cur.Service.ID, mclient.ServiceUpdateOptions{Version: cur.Service.Version, Spec: spec}); err != nil {
		return engineError("updating service "+name, err)
	}
	return nil
}

// RemoveSwarmApp removes app's services and overlay network; with
// deleteData also its database volume, when it lives on the manager kaj
// talks to, and the node label that pinned the database to it. A volume
// on another node is left there and reported in the error: remove it on
// that node (docker volume rm).
func (d *Docker) RemoveSwarmApp(ctx context.Context, app, volume string, deleteData bool) error {
	if err := d.RemoveService(ctx, app, RoleApp); err != nil {
		return err
	}
	if err := d.RemoveService(ctx, app, RoleDB); err != nil {
		return err
	}
	if err := d.removeSecrets(ctx, app); err != nil {
		return err
	}
	// The tasks' containers go in the background: the network and the
	// volume are free only once they are gone.
	deadline := time.Now().Add(time.Minute)
	for {
		ts, err := d.Tasks(ctx, app)
		if err != nil || len(ts) == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	name := d.Names(app).Network
	if n, err := d.cli.NetworkInspect(ctx, name, mclient.NetworkInspectOptions{}); err == nil {
		if l := n.Network.Labels; !d.owns(l) || l[LabelApp] != app {
			return foreign("network", name, app, l)
		}
	}
	for {
		_, err := d.cli.NetworkRemove(ctx, name, mclient.NetworkRemoveOptions{})
		if err == nil || cerrdefs.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			return engineError("removing network "+name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	if !deleteData || volume == "" {
		return nil
	}
	node, err := d.VolumeNode(ctx, volume)
	if err != nil {
		return err
	}
	info, err := d.Swarm(ctx)
	if err != nil {
		return err
	}
	if node != "" && node != info.NodeID {
		return fmt.Errorf("deleting the data of %s: volume %s is on node %s, not on the manager kaj talks to: remove it there (docker volume rm %s), then the node label %s%s", app, volume, node, volume, LabelVolumeNode, volume)
	}
	if err := removeVolume(ctx, d, volume, app); err != nil {
		return err
	}
	if node != "" {
		return d.unlabelNode(ctx, node, LabelVolumeNode+volume)
	}
	return nil
}

// removeVolume removes the data of app on the manager, once swarm has
// let go of it; a volume that is not this instance's, or not app's, is
// left alone.
func removeVolume(ctx context.Context, d *Docker, volume, app string) error {
	v, err := d.cli.VolumeInspect(ctx, volume, mclient.VolumeInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return engineError("inspecting volume "+volume, err)
	}
	if l := v.Volume.Labels; !d.owns(l) || l[LabelApp] != app {
		return fmt.Errorf("deleting the data of %s: %w", app, foreign("volume", volume, app, l))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := d.cli.VolumeRemove(ctx, volume, mclient.VolumeRemoveOptions{})
		if err == nil || cerrdefs.IsNotFound(err) {
			return nil
		}
		if time.Now().After(deadline) || !cerrdefs.IsConflict(err) {
			return engineError("removing volume "+volume+" of "+app, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// PendingReason explains a task swarm cannot place, in kaj's words when
// it is a database pinned to a node that is down: "" when t is not
// pending.
func (d *Docker) PendingReason(ctx context.Context, t Task, volume string) string {
	if t.State != "pending" || t.Desired != "running" {
		return ""
	}
	if t.Role != RoleDB || volume == "" {
		return "task cannot be placed: " + strings.TrimSpace(t.Err+" "+t.Message)
	}
	node, err := d.VolumeNode(ctx, volume)
	if err != nil || node == "" {
		return "database task cannot be placed: no node holds volume " + volume
	}
	n, err := d.NodeByID(ctx, node)
	if err != nil {
		return "database task cannot be placed: the node holding volume " + volume + " is gone"
	}
	if n.State != "ready" || n.Availability != "active" {
		state := n.State
		if n.State == "ready" {
			state = "set to " + n.Availability
		}
		return fmt.Sprintf("database task cannot be placed: node %s holding volume %s is %s; bring it back or restore a backup", n.Hostname, volume, state)
	}
	return "database task cannot be placed: " + strings.TrimSpace(t.Err+" "+t.Message)
}

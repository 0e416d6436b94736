package deploy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Cluster is what deploy uses of a Docker Swarm, when kaj's engine is its
// manager: an app is a replicated service, its database a service of one
// replica pinned to the node holding its volume. With a Cluster set, the
// deploy pipeline and the operations drive services instead of
// containers, and the route follows the app's healthy tasks.
type Cluster interface {
	Swarm(ctx context.Context) (runtime.SwarmInfo, error)
	EnsureOverlay(ctx context.Context, app string, labels map[string]string) (string, error)
	EnsureDatabaseService(ctx context.Context, spec runtime.DatabaseSpec) (runtime.Service, error)
	DeployService(ctx context.Context, spec runtime.ServiceSpec) (runtime.Service, error)
	AppService(ctx context.Context, app string) (runtime.Service, error)
	Tasks(ctx context.Context, app string) ([]runtime.Task, error)
	ScaleService(ctx context.Context, app string, role runtime.Role, replicas int) error
	ForceUpdateService(ctx context.Context, app string, role runtime.Role) error
	RollbackService(ctx context.Context, app string) error
	RemoveService(ctx context.Context, app string, role runtime.Role) error
	RemoveSwarmApp(ctx context.Context, app, volume string, deleteData bool) error
	PendingReason(ctx context.Context, t runtime.Task, volume string) string
}

var _ Cluster = (*runtime.Docker)(nil)

// Pusher uploads an engine image to a registry, so a swarm's other nodes
// can pull what kaj built or loaded on the manager.
type Pusher interface {
	Push(ctx context.Context, local, target string, progress registry.ProgressFunc) (*registry.PushResult, error)
}

var _ Pusher = (*registry.Client)(nil)

// ErrNoPushTarget means a swarm of several nodes would run an image only
// the manager has.
var ErrNoPushTarget = errors.New("no registry to ship the image to the swarm's nodes")

// swarmPoll spaces the looks at a rolling update: a task that starts or
// stops is in or out of the route within this.
const swarmPoll = 250 * time.Millisecond

// swarmPipeline is a deploy on a swarm: image (pushed for the nodes) →
// overlay network → database service → app service update → its tasks
// healthy → route.
func (d *Deployer) swarmPipeline(ctx context.Context, r *run, a store.App, sec store.AppSecrets, env map[string]string) error {
	c := d.opts.Cluster
	if err := d.snapshot(ctx, r, a); err != nil {
		return err
	}
	image := r.rel.Image
	if r.rel.Rollback != 0 && r.rel.Digest != "" {
		image = r.rel.Digest
	}
	err := r.step(StepImage, func() (string, error) {
		ref, digest, detail, err := d.ensureImage(ctx, image, r.emit)
		if err != nil {
			return "", err
		}
		r.rel.Digest = digest
		run, more, err := d.shipImage(ctx, r, a.Name, image, ref, digest)
		if err != nil {
			return "", err
		}
		image = run
		return detail + more, nil
	})
	if err != nil {
		return err
	}
	if err := r.step(StepNetwork, func() (string, error) {
		_, err := c.EnsureOverlay(ctx, a.Name, d.opts.Labels)
		return "overlay network " + d.Names(a.Name).Network, err
	}); err != nil {
		return err
	}
	if a.Database != nil {
		spec := d.databaseSpec(a, sec.DatabasePassword)
		if err := r.step(StepDatabase, func() (string, error) {
			return d.ensureDatabaseService(ctx, r, spec)
		}); err != nil {
			return err
		}
		if err := addDatabaseEnv(env, spec, a.Database.URLScheme); err != nil {
			return err
		}
	}
	return d.swarmRollout(ctx, r, a, image, env)
}

// shipImage returns the reference the swarm's nodes run. An image from a
// registry runs by digest, each node pulling it. An image only the
// manager has is pushed first when the swarm has other nodes: to its own
// reference when that names a registry, else under Options.PushTo.
func (d *Deployer) shipImage(ctx context.Context, r *run, app, ref, local, digest string) (string, string, error) {
	if strings.Contains(digest, "@sha256:") {
		return digest, "", nil
	}
	info, err := d.opts.Cluster.Swarm(ctx)
	if err != nil {
		return "", "", err
	}
	if info.Nodes <= 1 {
		// The manager is the only node: it runs what it has.
		if pinned(ref) {
			return local, "", nil
		}
		return ref, "", nil
	}
	target := ""
	switch {
	case !pinned(ref) && strings.Contains(ref, "/") && strings.ContainsAny(strings.SplitN(ref, "/", 2)[0], ".:"):
		target = ref
	case d.opts.PushTo != "":
		// The network's name carries the instance: two kaj sharing one
		// registry never overwrite each other's tags.
		target = fmt.Sprintf("%s/%s:r%d", d.opts.PushTo, d.Names(app).Network, r.rel.Number)
	}
	p, ok := d.img.(Pusher)
	if target == "" || !ok {
		return "", "", fmt.Errorf("%w: the swarm has %d nodes and %s is only in the manager's engine; set [runtime] push_to to a registry every node can pull from (e.g. 10.0.0.1:5000/kaj), or deploy an image from a registry (Swarm cannot ship images between nodes)", ErrNoPushTarget, info.Nodes, ref)
	}
	res, err := p.Push(ctx, local, target, func(pr registry.Progress) {
		r.emit(jobs.Event{Type: jobs.TypeProgress, Step: StepImage, Layer: strconv.Itoa(pr.Index) + " " + pr.Layer, Message: string(pr.Phase), Current: pr.Done, Total: pr.Total})
	})
	if err != nil {
		return "", "", fmt.Errorf("pushing %s to %s for the swarm's nodes: %w", ref, target, err)
	}
	pinnedRef := res.Ref.Repo() + "@" + res.Digest
	r.rel.Digest = pinnedRef
	return pinnedRef, "; pushed to " + target + " for the swarm's " + strconv.Itoa(info.Nodes) + " nodes", nil
}

// ensureDatabaseService runs the app's database service and waits until
// swarm reports its task running, which its health check makes mean
// "accepts connections".
func (d *Deployer) ensureDatabaseService(ctx context.Context, r *run, spec runtime.DatabaseSpec) (string, error) {
	c := d.opts.Cluster
	if _, _, _, err := d.ensureImage(ctx, spec.Image, r.emit); err != nil {
		return "", err
	}
	sv, err := c.EnsureDatabaseService(ctx, spec)
	if err != nil {
		return "", err
	}
	note := ""
	if strings.HasPrefix(sv.UpdateMessage, "image ") {
		from := strings.TrimPrefix(sv.UpdateMessage, "image ")
		warn := fmt.Sprintf("the database image changes from %s to %s: service %s is updated on the same volume %s", from, spec.Image, sv.Name, spec.Volume)
		if MajorChange(from, spec.Image) {
			warn += "; this is a major version change: the server may upgrade the data files, and going back needs a backup"
		}
		r.emit(jobs.Event{Type: jobs.TypeLog, Step: StepDatabase, Message: warn})
		if _, err := d.st.AddEvent(store.Event{Actor: r.rel.CreatedBy, Action: store.ActionDBImage, Target: spec.App, Detail: warn}); err != nil {
			return "", err
		}
		note = "; image changed to " + spec.Image
	}
	t, err := d.waitDatabaseTask(ctx, spec)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s runs healthy on %s and answers as %s%s", sv.Name, t.Node, spec.Alias, note), nil
}

// waitDatabaseTask waits until the database's task runs (healthy). A task
// that cannot be placed because the node holding the volume is down
// fails at once, saying so.
func (d *Deployer) waitDatabaseTask(ctx context.Context, spec runtime.DatabaseSpec) (runtime.Task, error) {
	timeout := d.opts.DatabaseTimeout
	if timeout == 0 {
		timeout = runtime.DefaultDatabaseTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	volume := spec.Volume
	if volume == "" {
		volume = d.Names(spec.App).Volume
	}
	last := ""
	pendingSince := time.Time{}
	for {
		ts, err := d.opts.Cluster.Tasks(ctx, spec.App)
		if err != nil {
			last = "listing tasks: " + err.Error()
		} else {
			for _, t := range ts {
				if t.Role != runtime.RoleDB || t.Desired != "running" {
					continue
				}
				if t.Serving() {
					return t, nil
				}
				last = t.State
				if t.Err != "" {
					last += ": " + t.Err
				}
				if t.State == "pending" {
					if pendingSince.IsZero() {
						pendingSince = time.Now()
					}
					if why := d.opts.Cluster.PendingReason(ctx, t, volume); why != "" && strings.Contains(why, "bring it back") {
						return runtime.Task{}, errors.New(why)
					} else if why != "" && time.Since(pendingSince) > 10*time.Second {
						last = why
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return runtime.Task{}, fmt.Errorf("database service of %s not running and healthy within %s (last state: %s): %w", spec.App, timeout, orNone(last), ctx.Err())
		case <-time.After(swarmPoll):
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "no task yet"
	}
	return s
}

// serviceSpec is the app service for release rel of a.
func (d *Deployer) serviceSpec(a store.App, release uint64, image string, env map[string]string) runtime.ServiceSpec {
	s := runtime.ServiceSpec{
		App: a.Name, Release: strconv.FormatUint(release, 10), Image: image, Env: env, Port: a.Port,
		Replicas: a.ReplicaCount(), Cmd: a.Command, Entrypoint: a.Entrypoint, Memory: a.MemoryBytes, CPUs: a.CPUs,
		Labels: d.opts.Labels,
	}
	h := runtime.HealthTuning{Interval: a.Health.Interval.D(), Timeout: a.Health.Timeout.D(), StartPeriod: a.Health.StartPeriod.D(), Retries: a.Health.Retries}
	if h != (runtime.HealthTuning{}) {
		s.Health = &h
	}
	return s
}

// swarmRollout updates the app service to image and waits for the
// rolling update: every replica of the new release running and passing
// kaj's health check, while the route follows the healthy tasks. A
// failed update is rolled back by swarm (or by kaj, on a health check
// swarm does not run), so the previous release keeps serving.
func (d *Deployer) swarmRollout(ctx context.Context, r *run, a store.App, image string, env map[string]string) error {
	c := d.opts.Cluster
	release := strconv.FormatUint(r.rel.Number, 10)
	var (
		sv      runtime.Service
		created bool
		started time.Time
	)
	if err := r.step(StepStart, func() (string, error) {
		_, err := c.AppService(ctx, a.Name)
		created = errors.Is(err, runtime.ErrNotFound)
		if err != nil && !created {
			return "", err
		}
		started = time.Now()
		if sv, err = c.DeployService(ctx, d.serviceSpec(a, r.rel.Number, image, env)); err != nil {
			return "", err
		}
		r.rel.ContainerID = sv.ID
		verb := "updated"
		if created {
			verb = "created"
		}
		return fmt.Sprintf("service %s %s: %d replica(s), start-first", sv.Name, verb, a.ReplicaCount()), nil
	}); err != nil {
		return err
	}
	var where string
	if err := r.step(StepHealth, func() (string, error) {
		var err error
		where, err = d.waitRollout(ctx, a, release, started)
		if err == nil {
			return where, nil
		}
		// Put the previous release back, and keep the route on it.
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if created {
			if rerr := c.RemoveService(bg, a.Name, runtime.RoleApp); rerr != nil {
				d.log.Warn("removing a failed first service", "app", a.Name, "err", rerr)
			}
		} else if rerr := c.RollbackService(bg, a.Name); rerr != nil && !strings.Contains(rerr.Error(), "rollback") {
			// A swarm that already rolled back refuses a second one.
			d.log.Warn("rolling the service back", "app", a.Name, "err", rerr)
		}
		d.follower(a.Name).refresh(bg, d, a, "")
		return "", err
	}); err != nil {
		return err
	}
	return r.step(StepSwitch, func() (string, error) {
		ups, err := d.follower(a.Name).refresh(ctx, d, a, release)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("route serves %d task(s): %s; the previous release's tasks were drained before swarm stopped them", len(ups), where), nil
	})
}

// waitRollout polls the service and its tasks until every replica of
// release runs and passes the health check, each a task created since
// the change began, and returns where they run.
func (d *Deployer) waitRollout(ctx context.Context, a store.App, release string, since time.Time) (string, error) {
	c := d.opts.Cluster
	n := a.ReplicaCount()
	timeout := d.opts.HealthTimeout
	if timeout == 0 {
		timeout = runtime.DefaultHealthTimeout
	}
	// Each replica is replaced in turn, each given the health timeout.
	timeout *= time.Duration(n)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	f := d.follower(a.Name)
	failures := map[string]string{}
	for {
		sv, err := c.AppService(ctx, a.Name)
		if err != nil {
			return "", err
		}
		if sv.UpdateStarted.Before(since) {
			// An earlier update's outcome, not this one's.
			sv.Update = ""
		}
		switch sv.Update {
		case "rollback_started", "rollback_completed", "rollback_paused", "paused":
			return "", fmt.Errorf("swarm stopped the rolling update (%s): %s%s", sv.Update, sv.UpdateMessage, failureText(failures))
		}
		if _, err := f.refresh(ctx, d, a, release); err != nil {
			d.log.Warn("following the tasks", "app", a.Name, "err", err)
		}
		healthy, nodes := f.newHealthy(release, since)
		for id, why := range f.failed(release) {
			failures[id] = why
		}
		if healthy >= n && (sv.Update == "" || sv.Update == "completed") {
			return fmt.Sprintf("%d replica(s) of release %s healthy on %s", healthy, release, strings.Join(nodes, ", ")), nil
		}
		if len(failures) >= 3 && sv.Update == "" {
			// A first service has nothing to roll back to: swarm retries
			// for ever. Three failed tasks are enough to tell.
			return "", fmt.Errorf("the app's tasks keep failing%s", failureText(failures))
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%d of %d replica(s) of release %s healthy within %s%s: %w", healthy, n, release, timeout, failureText(failures), ctx.Err())
		case <-time.After(swarmPoll):
		}
	}
}

func failureText(failures map[string]string) string {
	if len(failures) == 0 {
		return ""
	}
	seen := map[string]bool{}
	var out []string
	for _, why := range failures {
		if !seen[why] {
			seen[why] = true
			out = append(out, why)
		}
	}
	return "; failed tasks: " + strings.Join(out, "; ")
}

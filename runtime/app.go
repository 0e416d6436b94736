package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	mclient "github.com/moby/moby/client"
)

// RestartPolicy is what the engine does when a container exits.
type RestartPolicy string

// The engine's restart policies.
const (
	RestartNo            RestartPolicy = "no"
	RestartAlways        RestartPolicy = "always"
	RestartOnFailure     RestartPolicy = "on-failure"
	RestartUnlessStopped RestartPolicy = "unless-stopped"
)

// AppSpec describes one app container. Empty fields take the defaults
// named on them.
type AppSpec struct {
	// App names the app; the container joins the app's network (see
	// Names), which is created when missing.
	App string
	// Release is the release the container runs ("7"), in its name and
	// its kaj.release label.
	Release string
	// Image must already be in the engine.
	Image string
	// Env is the container's environment, on top of the image's: the
	// app's own variables plus, for an app with a database, DatabaseEnv.
	Env map[string]string
	// Port is the TCP port the app listens on inside the container; zero
	// publishes nothing.
	Port int
	// HostPort is the host port Port is published on; zero lets the
	// engine choose a free one. A fixed port cannot be shared by a
	// replacement and the container it replaces.
	HostPort int
	// HostIP is the host address Port is published on; the zero value
	// means 127.0.0.1, for a proxy on this machine to front the app.
	HostIP netip.Addr
	// Private publishes nothing on the host: the app is reached on its
	// network alone, as kaj's router reaches it. HostPort must be zero.
	Private bool
	// Cmd and Entrypoint replace the image's when set.
	Cmd        []string
	Entrypoint []string
	// Restart defaults to RestartUnlessStopped.
	Restart RestartPolicy
	// Memory limits the container, in bytes, at least MinMemory; zero
	// means no limit.
	Memory int64
	// CPUs limits the container to this many CPUs (0.5 is half of one);
	// zero means no limit.
	CPUs float64
	// Labels are added to the container and, when it is created here,
	// the network.
	Labels map[string]string
}

func (s AppSpec) validate() error {
	if err := checkApp("AppSpec.App", s.App); err != nil {
		return err
	}
	if err := checkRelease("AppSpec.Release", s.Release); err != nil {
		return err
	}
	if err := checkImage("AppSpec.Image", s.Image); err != nil {
		return err
	}
	if err := checkEnv("AppSpec.Env", s.Env); err != nil {
		return err
	}
	if err := checkPort("AppSpec.Port", s.Port, true); err != nil {
		return err
	}
	if err := checkPort("AppSpec.HostPort", s.HostPort, true); err != nil {
		return err
	}
	if s.Private && s.HostPort != 0 {
		return invalid("AppSpec.HostPort", strconv.Itoa(s.HostPort), "a private container publishes no port; leave HostPort zero")
	}
	if s.HostPort != 0 && s.Port == 0 {
		return invalid("AppSpec.HostPort", strconv.Itoa(s.HostPort), "publishes AppSpec.Port, which is not set")
	}
	if err := checkRestart("AppSpec.Restart", s.Restart); err != nil {
		return err
	}
	if err := checkMemory("AppSpec.Memory", s.Memory); err != nil {
		return err
	}
	if err := checkCPUs("AppSpec.CPUs", s.CPUs); err != nil {
		return err
	}
	return checkLabels("AppSpec.Labels", s.Labels)
}

// StartApp creates and starts a container for spec on the app's network
// (creating the network when missing) and returns it once the engine has
// started it; the app inside may not serve yet: see WaitHealthy. A
// container that fails to start is removed again. A missing image is
// ErrImageMissing.
func (d *Docker) StartApp(ctx context.Context, spec AppSpec) (Container, error) {
	if err := spec.validate(); err != nil {
		return Container{}, err
	}
	names := d.Names(spec.App)
	if _, err := d.ensureNetwork(ctx, spec.App, spec.Labels); err != nil {
		return Container{}, err
	}
	netName := names.Network
	suffix := make([]byte, 3)
	rand.Read(suffix)
	name := fmt.Sprintf("%s%s-%s", names.Prefix, spec.Release, hex.EncodeToString(suffix))

	env := make([]string, 0, len(spec.Env))
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	cfg := &container.Config{
		Image:  spec.Image,
		Env:    env,
		Labels: d.labelsFor(spec.Labels, spec.App, RoleApp, spec.Release),
		Cmd:    spec.Cmd,
	}
	if len(spec.Entrypoint) > 0 {
		cfg.Entrypoint = spec.Entrypoint
	}
	restart := spec.Restart
	if restart == "" {
		restart = RestartUnlessStopped
	}
	host := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(restart)},
		Resources: container.Resources{
			Memory:   spec.Memory,
			NanoCPUs: int64(math.Round(spec.CPUs * 1e9)),
		},
	}
	if spec.Port != 0 && spec.Private {
		port, _ := network.PortFrom(uint16(spec.Port), network.TCP)
		cfg.ExposedPorts = network.PortSet{port: {}}
	} else if spec.Port != 0 {
		port, _ := network.PortFrom(uint16(spec.Port), network.TCP)
		ip := spec.HostIP
		if !ip.IsValid() {
			ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		hp := ""
		if spec.HostPort != 0 {
			hp = strconv.Itoa(spec.HostPort)
		}
		cfg.ExposedPorts = network.PortSet{port: {}}
		host.PortBindings = network.PortMap{port: {{HostIP: ip, HostPort: hp}}}
	}
	created, err := d.cli.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name:       name,
		Config:     cfg,
		HostConfig: host,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			netName: {},
		}},
	})
	if err != nil {
		return Container{}, d.createError(ctx, "creating app container "+name, spec.Image, err)
	}
	if _, err := d.cli.ContainerStart(ctx, created.ID, mclient.ContainerStartOptions{}); err != nil {
		d.discard(ctx, created.ID)
		return Container{}, engineError("starting app container "+name, err)
	}
	return d.container(ctx, created.ID)
}

// discard force-removes a container kaj just created and will not use,
// even when ctx is already cancelled.
func (d *Docker) discard(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	d.cli.ContainerRemove(ctx, id, mclient.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
}

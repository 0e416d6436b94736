package runtime

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	mclient "github.com/moby/moby/client"
)

// Docker drives one Docker Engine. It is safe for concurrent use.
type Docker struct {
	cli    *mclient.Client
	dl     *deadlines
	health *engineHealth
	locks  keyedMutex
	// self is kaj's own container when kaj runs in one off the host's
	// network; see JoinAppNetworks. Set before use, read-only after.
	self string
	// scope is the instance d keeps to; see SetScope.
	scope Scope
}

// Option adjusts NewDocker.
type Option func(*dockerOptions)

type dockerOptions struct{ timeout time.Duration }

// WithTimeout sets how long an engine call may go without an answer
// (see DefaultTimeout); zero or less keeps the default.
func WithTimeout(d time.Duration) Option {
	return func(o *dockerOptions) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// NewDocker connects to the engine at host, or, when host is empty, to the
// one DOCKER_HOST and the usual defaults name. The API version is
// negotiated with the engine on first use, never pinned. NewDocker does not
// contact the engine: a kaj whose engine is down still starts.
//
// Every call through the client, Client's included, has a deadline: a
// hung engine makes calls fail with ErrEngineTimeout after the timeout
// instead of waiting forever (see deadlines for what is bounded how).
func NewDocker(host string, opts ...Option) (*Docker, error) {
	o := dockerOptions{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if host == "" {
		host = os.Getenv(mclient.EnvOverrideHost)
	}
	if host == "" {
		host = mclient.DefaultDockerHost
	}
	u, err := mclient.ParseHostURL(host)
	if err != nil {
		return nil, fmt.Errorf("configuring docker client: %w", err)
	}
	h := &engineHealth{s: EngineState{Host: host}}
	dl := &deadlines{timeout: o.timeout, host: host, health: h}
	cli, err := mclient.New(mclient.FromEnv, mclient.WithAPIVersionNegotiation(), mclient.WithHost(host),
		// After WithHost, which sets the transport's dialer for the host.
		mclient.WithDialContext(dl.dialer(u.Scheme, u.Host)),
		mclient.WithHTTPRequestHook(dl.hook))
	if err != nil {
		return nil, fmt.Errorf("configuring docker client: %w", err)
	}
	return &Docker{cli: cli, dl: dl, health: h}, nil
}

// Close releases the client's connections.
func (d *Docker) Close() error { return d.cli.Close() }

// Client is the underlying engine client, for packages that speak to the
// engine through other SDKs (go-containerregistry's daemon package).
func (d *Docker) Client() *mclient.Client { return d.cli }

// EngineInfo describes the engine kaj is connected to.
type EngineInfo struct {
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Host       string `json:"host"`
}

// Info asks the engine who it is. The error says why it cannot be reached.
func (d *Docker) Info(ctx context.Context) (EngineInfo, error) {
	v, err := d.cli.ServerVersion(ctx, mclient.ServerVersionOptions{})
	if err != nil {
		return EngineInfo{}, engineError(fmt.Sprintf("reaching the docker engine at %s", d.cli.DaemonHost()), err)
	}
	info := EngineInfo{Version: v.Version, APIVersion: d.cli.ClientVersion(), OS: v.Os, Arch: v.Arch, Host: d.cli.DaemonHost()}
	d.health.info(info)
	return info, nil
}

// keyedMutex serialises work on one name (an app's network, its database)
// while other names proceed. Entries are never freed: there is one per app.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*sync.Mutex{}
	}
	l, ok := k.m[key]
	if !ok {
		l = &sync.Mutex{}
		k.m[key] = l
	}
	k.mu.Unlock()
	l.Lock()
	return l.Unlock
}

package runtime

import (
	"context"
	"fmt"
	"sync"

	mclient "github.com/moby/moby/client"
)

// Docker drives one Docker Engine. It is safe for concurrent use.
type Docker struct {
	cli   *mclient.Client
	locks keyedMutex
	// self is kaj's own container when kaj runs in one off the host's
	// network; see JoinAppNetworks. Set before use, read-only after.
	self string
	// scope is the instance d keeps to; see SetScope.
	scope Scope
}

// NewDocker connects to the engine at host, or, when host is empty, to the
// one DOCKER_HOST and the usual defaults name. The API version is
// negotiated with the engine on first use, never pinned. NewDocker does not
// contact the engine: a kaj whose engine is down still starts.
func NewDocker(host string) (*Docker, error) {
	opts := []mclient.Opt{mclient.FromEnv, mclient.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, mclient.WithHost(host))
	}
	cli, err := mclient.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("configuring docker client: %w", err)
	}
	return &Docker{cli: cli}, nil
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
	return EngineInfo{Version: v.Version, APIVersion: d.cli.ClientVersion(), OS: v.Os, Arch: v.Arch, Host: d.cli.DaemonHost()}, nil
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

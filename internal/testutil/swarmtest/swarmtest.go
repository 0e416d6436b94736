// Package swarmtest gives tests a real multi-node Docker Swarm on this one
// machine: a bridge in the root network namespace, one network namespace
// per node joined to it by a veth pair, one dockerd per namespace with its
// own data and exec roots on fuse-overlayfs, and a registry on the bridge
// that every node trusts, because a swarm cannot ship images between its
// nodes itself.
//
// Starting a cluster takes tens of seconds, so a test package shares one:
//
//	func TestMain(m *testing.M) { swarmtest.Main(m) }
//	func TestX(t *testing.T) { c := swarmtest.Shared(t); ... }
//
// Everything a cluster creates is named after it (kajsw + 4 hex digits)
// and recorded in a state directory under /run/kaj-swarmtest, so that a
// later run can tear down what a killed test process left behind; no other
// object on the machine is touched.
package swarmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/api/types/swarm"
	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/testutil"
)

// StateRoot holds one directory per live cluster, naming its owner process
// and what to tear down.
const StateRoot = "/run/kaj-swarmtest"

// Label is set on every node's engine (as an engine label, "kaj.swarmtest=<cluster>").
const Label = "kaj.swarmtest"

// Node is one engine of a cluster.
type Node struct {
	// Index is the node's position, 0 being the first manager.
	Index int
	// NodeID is the node's swarm ID.
	NodeID string
	// Hostname is the engine's hostname, as the swarm lists it: the
	// namespace's name (each engine runs in its own UTS namespace).
	Hostname string
	// Addr is the node's address on the cluster bridge.
	Addr string
	// Host is the engine's API address, "unix:///…/engine.sock".
	Host string
	// Manager is true for swarm managers.
	Manager bool
	// Netns is the node's network namespace name.
	Netns string
}

type node struct {
	Node
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	cli  *mclient.Client
}

// Cluster is a running swarm.
type Cluster struct {
	// Name is the cluster's unique name, also its bridge's name.
	Name string
	// BridgeAddr is the root namespace's address on the bridge: the nodes'
	// default gateway and the registry's address.
	BridgeAddr string

	st state
	// pool is where the manager's local networks take their subnets.
	pool     netip.Prefix
	nodes    []*node
	registry string
	regCmd   *exec.Cmd
	mu       sync.Mutex
	closed   bool
}

// state is what teardown needs, saved as JSON in StateRoot/<name>/state.json.
type state struct {
	Name   string   `json:"name"`
	Owner  int      `json:"owner"`
	Dir    string   `json:"dir"`
	Bridge string   `json:"bridge"`
	Netns  []string `json:"netns"`
	Veths  []string `json:"veths"`
	// Rule is the iptables FORWARD rule accepting traffic between the
	// nodes; empty when none was added.
	Rule []string `json:"rule,omitempty"`
}

// Options shape a cluster.
type Options struct {
	// Nodes is how many engines (at least 3).
	Nodes int
	// Managers is how many of them are managers (default 1: node 0). With
	// one manager, stopping any worker keeps the swarm's quorum.
	Managers int
}

// Available says why nested engines cannot run here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("nested Docker Engines need root")
	}
	for _, bin := range []string{"dockerd", "ip", "nsenter", "unshare", "fuse-overlayfs", testutil.DistributionBinary} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found (Debian packages: docker.io iproute2 util-linux fuse-overlayfs docker-registry)", bin)
		}
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("fuse-overlayfs needs /dev/fuse: %v", err)
	}
	return nil
}

// skipUnlessAvailable skips t when nested engines cannot run, or fails it
// under KAJ_REQUIRE_DOCKER=1.
func skipUnlessAvailable(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		msg := "no multi-node swarm: " + err.Error()
		if testutil.RequireDocker() {
			t.Fatal(msg + " [KAJ_REQUIRE_DOCKER=1]")
		}
		t.Skip(msg)
	}
}

// IPVS reports whether the kernel has IPVS, which a service's virtual IP
// (EndpointSpec mode "vip", the default) needs. Without it the virtual IP
// resolves but answers nothing; services must use mode "dnsrr", where the
// service name and its aliases resolve to the tasks' own addresses.
func IPVS() bool {
	_, err := os.Stat("/proc/net/ip_vs")
	return err == nil
}

// Start makes a cluster of n nodes (n ≥ 3) for t alone, torn down when t
// ends, even when it fails.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	skipUnlessAvailable(t)
	c, err := New(Options{Nodes: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("tearing down swarm %s: %v", c.Name, err)
		}
	})
	return c
}

var shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// Shared returns the package's one 3-node cluster, starting it on first
// use. The package's TestMain must call Main so that it is torn down.
// Tests sharing it must leave it as they found it: remove their services
// and networks, and restart a node they stopped.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	skipUnlessAvailable(t)
	shared.once.Do(func() { shared.c, shared.err = New(Options{Nodes: 3}) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

// Main runs the package's tests and then tears down the shared cluster.
func Main(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		if err := shared.c.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "swarmtest: tearing down %s: %v\n", shared.c.Name, err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// New starts a cluster. The caller must Close it.
func New(o Options) (*Cluster, error) {
	if o.Nodes < 3 {
		return nil, fmt.Errorf("a test swarm needs at least 3 nodes, not %d", o.Nodes)
	}
	if o.Managers <= 0 {
		o.Managers = 1
	}
	if o.Managers > o.Nodes {
		return nil, fmt.Errorf("%d managers in %d nodes", o.Managers, o.Nodes)
	}
	if err := Available(); err != nil {
		return nil, err
	}
	sweepStale()

	c, err := create(o)
	if err != nil {
		if c != nil {
			if cerr := c.Close(); cerr != nil {
				err = fmt.Errorf("%w (and tearing down: %v)", err, cerr)
			}
		}
		return nil, err
	}
	return c, nil
}

func create(o Options) (*Cluster, error) {
	if err := os.MkdirAll(StateRoot, 0o700); err != nil {
		return nil, err
	}
	// Choosing a subnet and claiming it with a bridge happen under one
	// lock, so that two test processes never pick the same one.
	unlock, err := lockFile(filepath.Join(StateRoot, ".lock"))
	if err != nil {
		return nil, err
	}
	prefix, err := freeSubnet()
	if err != nil {
		unlock()
		return nil, err
	}
	name := "kajsw" + randomHex(2)
	dir, err := os.MkdirTemp("", name+"-")
	if err != nil {
		unlock()
		return nil, err
	}
	base := prefix.Addr().As4()
	addr := func(last byte) string { return netip.AddrFrom4([4]byte{base[0], base[1], base[2], last}).String() }
	c := &Cluster{
		Name:       name,
		BridgeAddr: addr(1),
		st:         state{Name: name, Owner: os.Getpid(), Dir: dir, Bridge: name},
	}
	for i := 0; i < o.Nodes; i++ {
		c.st.Netns = append(c.st.Netns, fmt.Sprintf("%s-n%d", name, i))
		c.st.Veths = append(c.st.Veths, fmt.Sprintf("%sv%d", name, i))
	}
	if err := c.saveState(); err != nil {
		unlock()
		return c, err
	}
	// The manager's local networks (a backup's throwaway database, the
	// gateway bridge) take their subnets from a pool routed from the root
	// namespace through the manager, so that kaj, running beside the
	// manager as it would on the manager's host, reaches containers on
	// them, as a real manager host does its own bridges.
	pool, err := freePrefix(22, []netip.Prefix{prefix})
	if err != nil {
		unlock()
		return nil, err
	}
	c.pool = pool
	err = run("ip", "link", "add", name, "type", "bridge")
	unlock()
	if err != nil {
		return c, err
	}
	if err := runAll(
		[]string{"ip", "addr", "add", c.BridgeAddr + "/24", "dev", name},
		[]string{"ip", "link", "set", name, "up"},
	); err != nil {
		return c, err
	}
	// With br_netfilter, bridged packets go through the FORWARD chain,
	// whose policy the host's engine sets to DROP.
	if b, _ := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables"); strings.TrimSpace(string(b)) == "1" {
		rule := []string{"FORWARD", "-i", name, "-o", name, "-m", "comment", "--comment", name, "-j", "ACCEPT"}
		if err := run("iptables", append([]string{"-I"}, rule...)...); err != nil {
			return c, err
		}
		c.st.Rule = rule
		if err := c.saveState(); err != nil {
			return c, err
		}
	}

	port, err := freePortOn(c.BridgeAddr)
	if err != nil {
		return c, err
	}
	c.registry = net.JoinHostPort(c.BridgeAddr, strconv.Itoa(port))

	for i := 0; i < o.Nodes; i++ {
		n := &node{Node: Node{
			Index:    i,
			Addr:     addr(byte(10 + i)),
			Netns:    c.st.Netns[i],
			Hostname: c.st.Netns[i],
			Manager:  i < o.Managers,
		}, dir: filepath.Join(dir, "n"+strconv.Itoa(i))}
		n.Host = "unix://" + filepath.Join(n.dir, "engine.sock")
		c.nodes = append(c.nodes, n)
		veth := c.st.Veths[i]
		if err := runAll(
			[]string{"ip", "netns", "add", n.Netns},
			[]string{"ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p"},
			[]string{"ip", "link", "set", veth + "p", "netns", n.Netns},
			[]string{"ip", "link", "set", veth, "master", name, "up"},
			[]string{"ip", "-n", n.Netns, "link", "set", veth + "p", "name", "eth0"},
			[]string{"ip", "-n", n.Netns, "addr", "add", n.Addr + "/24", "dev", "eth0"},
			[]string{"ip", "-n", n.Netns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", n.Netns, "link", "set", "lo", "up"},
			[]string{"ip", "-n", n.Netns, "route", "add", "default", "via", c.BridgeAddr},
		); err != nil {
			return c, err
		}
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			return c, err
		}
		conf := map[string]any{
			"insecure-registries": []string{c.registry},
			"labels":              []string{Label + "=" + name, Label + ".node=" + strconv.Itoa(i)},
		}
		if i == 0 {
			conf["default-address-pools"] = []map[string]any{{"base": c.pool.String(), "size": 26}}
			if err := runAll(
				[]string{"nsenter", "--net=/var/run/netns/" + n.Netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
				[]string{"ip", "route", "add", c.pool.String(), "via", n.Addr},
			); err != nil {
				return c, err
			}
		}
		cfg, _ := json.Marshal(conf)
		if err := os.WriteFile(filepath.Join(n.dir, "daemon.json"), cfg, 0o600); err != nil {
			return c, err
		}
	}
	if err := c.startRegistry(); err != nil {
		return c, err
	}

	// The engines start in parallel: each takes a few seconds.
	errs := make(chan error, len(c.nodes))
	for _, n := range c.nodes {
		go func() { errs <- c.startEngine(n) }()
	}
	for range c.nodes {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return c, err
	}
	if err := c.formSwarm(); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Cluster) saveState() error {
	b, _ := json.MarshalIndent(c.st, "", "  ")
	d := filepath.Join(StateRoot, c.st.Name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, "state.json"), b, 0o600)
}

func (c *Cluster) startRegistry() error {
	dir := filepath.Join(c.st.Dir, "registry")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: %s
`, filepath.Join(dir, "data"), c.registry, randomHex(16))
	p := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(testutil.DistributionBinary, "serve", p)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", testutil.DistributionBinary, err)
	}
	c.regCmd = cmd
	go cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", c.registry, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			return fmt.Errorf("registry did not listen on %s within 15s:\n%s", c.registry, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startEngine starts n's dockerd inside n's namespace and waits until it
// answers. nsenter, not "ip netns exec": the latter remounts /sys, hiding
// the cgroup hierarchy from dockerd.
func (c *Cluster) startEngine(n *node) error {
	logf, err := os.OpenFile(filepath.Join(n.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	// Its own UTS namespace gives each engine its own hostname, so that
	// the swarm's node list tells the nodes apart.
	cmd := exec.Command("nsenter", "--net=/var/run/netns/"+n.Netns, "unshare", "--uts", "sh", "-c",
		`hostname "$0" && exec "$@"`, n.Hostname, "dockerd",
		"--config-file", filepath.Join(n.dir, "daemon.json"),
		"--data-root", filepath.Join(n.dir, "data"),
		"--exec-root", filepath.Join(n.dir, "exec"),
		"--pidfile", filepath.Join(n.dir, "dockerd.pid"),
		"-H", n.Host,
		"--storage-driver=fuse-overlayfs",
		"--bridge=none", "--iptables=false", "--ip-masq=false",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a ^C to the test reaches the test, whose
	// cleanup stops the engines in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("node %d: starting dockerd: %w", n.Index, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	c.mu.Lock()
	n.cmd, n.done = cmd, done
	c.mu.Unlock()

	if n.cli == nil {
		cli, err := mclient.New(mclient.WithHost(n.Host), mclient.WithAPIVersionNegotiation())
		if err != nil {
			return err
		}
		n.cli = cli
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := n.cli.Ping(ctx, mclient.PingOptions{NegotiateAPIVersion: true})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("node %d: dockerd exited at start:\n%s", n.Index, tail(filepath.Join(n.dir, "dockerd.log"), 30))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %d: dockerd did not answer within 90s (%v):\n%s", n.Index, err, tail(filepath.Join(n.dir, "dockerd.log"), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *Cluster) formSwarm() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	first := c.nodes[0]
	res, err := first.cli.SwarmInit(ctx, mclient.SwarmInitOptions{
		ListenAddr:    "0.0.0.0:2377",
		AdvertiseAddr: first.Addr,
		Spec: swarm.Spec{
			Annotations: swarm.Annotations{Name: "default"},
			// A lost node is noticed in seconds, not the default 5s×n.
			Dispatcher: swarm.DispatcherConfig{HeartbeatPeriod: 2 * time.Second},
			// Old task records would pile up across tests otherwise.
			Orchestration: swarm.OrchestrationConfig{TaskHistoryRetentionLimit: ptr(int64(2))},
		},
	})
	if err != nil {
		return fmt.Errorf("swarm init on node 0: %w", err)
	}
	first.NodeID = res.NodeID
	insp, err := first.cli.SwarmInspect(ctx, mclient.SwarmInspectOptions{})
	if err != nil {
		return err
	}
	for _, n := range c.nodes[1:] {
		token := insp.Swarm.JoinTokens.Worker
		if n.Manager {
			token = insp.Swarm.JoinTokens.Manager
		}
		if _, err := n.cli.SwarmJoin(ctx, mclient.SwarmJoinOptions{
			ListenAddr:    "0.0.0.0:2377",
			AdvertiseAddr: n.Addr,
			RemoteAddrs:   []string{net.JoinHostPort(first.Addr, "2377")},
			JoinToken:     token,
		}); err != nil {
			return fmt.Errorf("node %d joining the swarm: %w", n.Index, err)
		}
		info, err := n.cli.Info(ctx, mclient.InfoOptions{})
		if err != nil {
			return err
		}
		n.NodeID = info.Info.Swarm.NodeID
	}
	for _, n := range c.nodes {
		if err := c.WaitNode(ctx, n.Index, swarm.NodeStateReady); err != nil {
			return err
		}
	}
	return nil
}

// WaitNode waits until the swarm sees node i in state want (ready, down).
func (c *Cluster) WaitNode(ctx context.Context, i int, want swarm.NodeState) error {
	n := c.nodes[i]
	var last swarm.NodeState
	for {
		res, err := c.ManagerClient().NodeInspect(ctx, n.NodeID, mclient.NodeInspectOptions{})
		if err == nil {
			last = res.Node.Status.State
			if last == want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d (%s) is %q, not %q: %w", i, n.NodeID, last, want, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Manager is the first manager's engine address, "unix:///…/engine.sock".
func (c *Cluster) Manager() string { return c.nodes[0].Host }

// ManagerClient is a client of the first manager's engine.
func (c *Cluster) ManagerClient() *mclient.Client { return c.nodes[0].cli }

// Client is a client of node i's engine.
func (c *Cluster) Client(i int) *mclient.Client { return c.nodes[i].cli }

// Nodes describes the cluster's nodes, in order.
func (c *Cluster) Nodes() []Node {
	out := make([]Node, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Node
	}
	return out
}

// NodeByID returns the index of the node with the swarm node ID id, or -1.
func (c *Cluster) NodeByID(id string) int {
	for i, n := range c.nodes {
		if n.NodeID == id {
			return i
		}
	}
	return -1
}

// Registry is the cluster's registry, "<bridge address>:<port>": plain
// HTTP, no authentication, trusted by every node.
func (c *Cluster) Registry() string { return c.registry }

// PushImage copies localRef from the host's engine (DOCKER_HOST or the
// default socket) into the cluster's registry and returns the reference
// the nodes pull it by: <registry>/<repository>:<tag>.
func (c *Cluster) PushImage(t testing.TB, localRef string) string {
	t.Helper()
	ref, err := c.pushImage(localRef)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (c *Cluster) pushImage(localRef string) (string, error) {
	src, err := name.ParseReference(localRef)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", localRef, err)
	}
	tag := "latest"
	if tg, ok := src.(name.Tag); ok {
		tag = tg.TagStr()
	}
	repo := strings.TrimPrefix(src.Context().RepositoryStr(), "library/")
	dstRef := c.registry + "/" + repo + ":" + tag
	dst, err := name.NewTag(dstRef, name.Insecure)
	if err != nil {
		return "", err
	}
	host, err := mclient.New(mclient.FromEnv, mclient.WithAPIVersionNegotiation())
	if err != nil {
		return "", err
	}
	defer host.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := daemon.Image(src, daemon.WithClient(host), daemon.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("reading %s from the host's engine: %w", localRef, err)
	}
	if err := remote.Write(dst, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("pushing %s to %s: %w", localRef, dstRef, err)
	}
	return dstRef, nil
}

// StopNode kills node i's engine and everything it runs, as if the
// machine lost power: its tasks stop answering at once, and the managers
// mark it down after a few missed heartbeats. Stopping the only manager
// (node 0) leaves the cluster without a control plane until StartNode.
func (c *Cluster) StopNode(i int) error {
	if i < 0 || i >= len(c.nodes) {
		return fmt.Errorf("no node %d in a %d-node cluster", i, len(c.nodes))
	}
	n := c.nodes[i]
	c.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("node %d is already stopped", i)
	}
	killUnder(n.dir, cmd.Process.Pid)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("node %d: dockerd did not exit after SIGKILL", i)
	}
	return unmountUnder(n.dir)
}

// StartNode restarts node i's engine on its old data root; it rejoins the
// swarm by itself. It returns once the engine answers; wait for the swarm
// to see it with WaitNode(ctx, i, swarm.NodeStateReady).
func (c *Cluster) StartNode(i int) error {
	if i < 0 || i >= len(c.nodes) {
		return fmt.Errorf("no node %d in a %d-node cluster", i, len(c.nodes))
	}
	c.mu.Lock()
	running := c.nodes[i].cmd != nil
	c.mu.Unlock()
	if running {
		return fmt.Errorf("node %d is running", i)
	}
	return c.startEngine(c.nodes[i])
}

// Close stops every engine and the registry and removes the namespaces,
// links, mounts and files the cluster made. It is safe to call twice.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	type engine struct {
		n    *node
		cmd  *exec.Cmd
		done chan struct{}
	}
	var running []engine
	for _, n := range c.nodes {
		if n.cmd != nil {
			running = append(running, engine{n, n.cmd, n.done})
		}
	}
	c.mu.Unlock()
	var errs []error
	// A clean stop first, so the engines stop their containers; what is
	// left after that is killed.
	for _, e := range running {
		e.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, e := range running {
		n := e.n
		select {
		case <-e.done:
		case <-time.After(30 * time.Second):
			errs = append(errs, fmt.Errorf("node %d: dockerd did not stop within 30s of SIGTERM; killed", n.Index))
		}
	}
	for _, n := range c.nodes {
		if n.cli != nil {
			n.cli.Close()
		}
	}
	if c.regCmd != nil {
		c.regCmd.Process.Kill()
	}
	if err := teardown(c.st); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func ptr[T any](v T) *T { return &v }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(path string, lines int) string {
	b, _ := os.ReadFile(path)
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

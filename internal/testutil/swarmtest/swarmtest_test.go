package swarmtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/internal/testutil/swarmtest"
)

func TestMain(m *testing.M) { swarmtest.Main(m) }

func TestClusterFormed(t *testing.T) {
	c := swarmtest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.ManagerClient().NodeList(ctx, mclient.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 3 {
		t.Fatalf("%d nodes in the swarm, want 3", len(res.Items))
	}
	managers := 0
	for _, n := range res.Items {
		if n.Status.State != swarm.NodeStateReady {
			t.Errorf("node %s is %s", n.ID, n.Status.State)
		}
		if n.Spec.Role == swarm.NodeRoleManager {
			managers++
		}
		if i := c.NodeByID(n.ID); i < 0 {
			t.Errorf("swarm node %s is none of the cluster's", n.ID)
		} else {
			if got, want := n.Status.Addr, c.Nodes()[i].Addr; got != want {
				t.Errorf("node %d advertises %s, want %s", i, got, want)
			}
			if got, want := n.Description.Hostname, c.Nodes()[i].Hostname; got != want {
				t.Errorf("node %d is named %q, want %q", i, got, want)
			}
		}
	}
	if managers != 1 {
		t.Errorf("%d managers, want 1", managers)
	}
	if !strings.HasPrefix(c.Manager(), "unix:///") {
		t.Errorf("Manager() = %q", c.Manager())
	}
	if _, _, err := net.SplitHostPort(c.Registry()); err != nil {
		t.Errorf("Registry() = %q: %v", c.Registry(), err)
	}
}

// One replica per node on an attachable overlay network, each publishing
// 8080 in host mode on a port the engine picks: every replica answers from
// the root namespace at its node's address, and a replica reaches the
// others, on other nodes, over the overlay network, by their task
// addresses and by the service's alias.
func TestOverlayAndHostPortsAcrossNodes(t *testing.T) {
	c := swarmtest.Shared(t)
	env := testutil.NewEnv(t)
	img := c.PushImage(t, env.TestAppImage())
	mgr := c.ManagerClient()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	netName := env.Name("ov")
	nres, err := mgr.NetworkCreate(ctx, netName, mclient.NetworkCreateOptions{
		Driver: "overlay", Attachable: true, Labels: env.Labels(),
	})
	if err != nil {
		t.Fatal(err)
	}
	svcName := env.Name("web")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		mgr.ServiceRemove(ctx, svcName, mclient.ServiceRemoveOptions{})
		// The network goes once the tasks' endpoints have left it.
		for i := 0; i < 60; i++ {
			if _, err := mgr.NetworkRemove(ctx, nres.ID, mclient.NetworkRemoveOptions{}); err == nil || ctx.Err() != nil {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
	// Without IPVS a service's virtual IP answers nothing: names must
	// resolve to the tasks themselves.
	mode := swarm.ResolutionModeDNSRR
	if swarmtest.IPVS() {
		mode = swarm.ResolutionModeVIP
	}
	t.Logf("IPVS: %v, endpoint mode %s", swarmtest.IPVS(), mode)
	replicas := uint64(3)
	_, err = mgr.ServiceCreate(ctx, mclient.ServiceCreateOptions{
		Spec: swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: svcName, Labels: env.Labels()},
			TaskTemplate: swarm.TaskSpec{
				ContainerSpec: &swarm.ContainerSpec{Image: img, Labels: env.Labels()},
				Networks:      []swarm.NetworkAttachmentConfig{{Target: nres.ID, Aliases: []string{"webalias"}}},
				Placement:     &swarm.Placement{MaxReplicas: 1},
			},
			Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
			EndpointSpec: &swarm.EndpointSpec{Mode: mode, Ports: []swarm.PortConfig{{
				Protocol: network.TCP, TargetPort: 8080, PublishMode: swarm.PortConfigPublishModeHost,
			}}},
		},
		QueryRegistry: true,
	})
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	var tasks []swarm.Task
	for {
		res, err := mgr.TaskList(ctx, mclient.TaskListOptions{Filters: make(mclient.Filters).Add("service", svcName).Add("desired-state", "running")})
		if err != nil {
			t.Fatal(err)
		}
		tasks = tasks[:0]
		for _, tk := range res.Items {
			if tk.Status.State == swarm.TaskStateRunning && len(tk.Status.PortStatus.Ports) > 0 {
				tasks = append(tasks, tk)
			}
		}
		if len(tasks) == 3 {
			break
		}
		if ctx.Err() != nil {
			for _, tk := range res.Items {
				t.Logf("task %s on %s: %s %s %s", tk.ID, tk.NodeID, tk.Status.State, tk.Status.Message, tk.Status.Err)
			}
			t.Fatalf("%d of 3 tasks running after %s", len(tasks), time.Since(start))
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("3 replicas running on 3 nodes in %s", time.Since(start).Round(time.Millisecond))

	type replica struct {
		node    int
		url     string
		overlay string
		host    string
	}
	var reps []replica
	seen := map[int]bool{}
	for _, tk := range tasks {
		i := c.NodeByID(tk.NodeID)
		if i < 0 || seen[i] {
			t.Fatalf("task %s on node %s: not one replica per cluster node", tk.ID, tk.NodeID)
		}
		seen[i] = true
		port := tk.Status.PortStatus.Ports[0].PublishedPort
		if port == 0 {
			t.Fatalf("task %s has no published port: %+v", tk.ID, tk.Status.PortStatus)
		}
		r := replica{node: i, url: "http://" + net.JoinHostPort(c.Nodes()[i].Addr, strconv.Itoa(int(port)))}
		for _, att := range tk.NetworksAttachments {
			if att.Network.ID == nres.ID && len(att.Addresses) > 0 {
				r.overlay = att.Addresses[0].Addr().String()
			}
		}
		if r.overlay == "" {
			t.Fatalf("task %s has no address on %s", tk.ID, netName)
		}
		if tk.Status.ContainerStatus != nil && len(tk.Status.ContainerStatus.ContainerID) >= 12 {
			r.host = tk.Status.ContainerStatus.ContainerID[:12]
		}
		reps = append(reps, r)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(url string) (int, string) {
		t.Helper()
		var lastErr error
		for i := 0; i < 20; i++ {
			resp, err := client.Get(url)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp.StatusCode, string(b)
			}
			lastErr = err
			time.Sleep(500 * time.Millisecond)
		}
		t.Fatalf("GET %s: %v", url, lastErr)
		return 0, ""
	}
	for _, r := range reps {
		code, body := get(r.url + "/")
		if code != 200 || !strings.Contains(body, "testapp on "+r.host) {
			t.Errorf("node %d at %s: %d %q, want the replica's own answer (container %s)", r.node, r.url, code, body, r.host)
		}
	}
	for _, from := range reps {
		for _, to := range reps {
			if to.node == from.node {
				continue
			}
			code, body := get(from.url + "/dial?addr=" + net.JoinHostPort(to.overlay, "8080"))
			var res struct{ OK bool }
			json.Unmarshal([]byte(body), &res)
			if code != 200 || !res.OK {
				t.Errorf("replica on node %d cannot reach the replica on node %d at %s over the overlay: %d %s", from.node, to.node, to.overlay, code, body)
			}
		}
		for _, target := range []string{"webalias:8080", svcName + ":8080"} {
			code, body := get(from.url + "/dial?addr=" + target)
			if code != 200 {
				t.Errorf("replica on node %d cannot reach %s: %d %s", from.node, target, code, body)
			}
		}
		// Service discovery spreads between nodes by gossip: a name
		// reaches its full set of addresses a moment after the tasks run.
		for _, name := range []string{"tasks." + svcName, "webalias"} {
			want := 3
			if name == "webalias" && mode == swarm.ResolutionModeVIP {
				want = 1
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				code, body := get(from.url + "/resolve?host=" + name)
				var res struct{ Addrs []string }
				json.Unmarshal([]byte(body), &res)
				if code == 200 && len(res.Addrs) == want {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("replica on node %d resolves %s to %s after 30s, want %d addresses", from.node, name, body, want)
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
		}
	}
}

// A stopped worker is seen down by the manager, and once restarted it
// rejoins by itself.
func TestStopStartNode(t *testing.T) {
	c := swarmtest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	last := len(c.Nodes()) - 1
	start := time.Now()
	if err := c.StopNode(last); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			c.StartNode(last)
		}
	})
	if err := c.WaitNode(ctx, last, swarm.NodeStateDown); err != nil {
		t.Fatal(err)
	}
	t.Logf("node %d seen down %s after it stopped", last, time.Since(start).Round(time.Millisecond))
	if err := c.StopNode(last); err == nil {
		t.Error("stopping a stopped node: no error")
	}
	start = time.Now()
	if err := c.StartNode(last); err != nil {
		t.Fatal(err)
	}
	restarted = true
	if err := c.WaitNode(ctx, last, swarm.NodeStateReady); err != nil {
		t.Fatal(err)
	}
	t.Logf("node %d ready again %s after restarting", last, time.Since(start).Round(time.Millisecond))
}

func TestBadSize(t *testing.T) {
	if _, err := swarmtest.New(swarmtest.Options{Nodes: 2}); err == nil || !strings.Contains(err.Error(), "at least 3") {
		t.Fatalf("New with 2 nodes: %v", err)
	}
}

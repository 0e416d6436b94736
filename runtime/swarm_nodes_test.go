package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/testutil/swarmtest"
	"github.com/kajhq/kaj/runtime"
)

// On a real three-engine swarm: the node list, draining and activating a
// worker, the join command, and what a worker and a lone engine answer.
func TestSwarmNodes(t *testing.T) {
	c := swarmtest.Start(t, 3)
	d, err := runtime.NewDocker(c.Manager())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nodes := c.Nodes()

	t.Run("list", func(t *testing.T) {
		list, err := d.SwarmNodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 {
			t.Fatalf("%d nodes, want 3: %+v", len(list), list)
		}
		if m := list[0]; m.Role != "manager" || !m.Leader || !m.Self || m.ID != nodes[0].NodeID || m.Reachability != "reachable" {
			t.Errorf("first node %+v, want the leading manager kaj talks to (%s)", m, nodes[0].NodeID)
		}
		for i, n := range list {
			if i > 0 && (n.Role != "worker" || n.Leader || n.Self) {
				t.Errorf("node %d: %+v, want a worker", i, n)
			}
			k := c.NodeByID(n.ID)
			if k < 0 {
				t.Fatalf("node %s is none of the cluster's", n.ID)
			}
			if n.Addr != nodes[k].Addr || n.Hostname != nodes[k].Hostname {
				t.Errorf("node %s at %s named %q, want %s named %q", n.ID, n.Addr, n.Hostname, nodes[k].Addr, nodes[k].Hostname)
			}
			if n.State != "ready" || n.Availability != "active" || n.EngineVersion == "" || n.CPUs <= 0 || n.Memory <= 0 || n.OS != "linux" || n.Labels == nil {
				t.Errorf("node %s: %+v", n.ID, n)
			}
		}
	})

	t.Run("drain and activate", func(t *testing.T) {
		worker := nodes[2].NodeID
		n, err := d.SetNodeAvailability(ctx, worker, runtime.NodeDrain)
		if err != nil {
			t.Fatal(err)
		}
		if n.Availability != "drain" || n.ID != worker {
			t.Errorf("after drain: %+v", n)
		}
		if got := availability(t, d, worker); got != "drain" {
			t.Errorf("listed as %s after drain", got)
		}
		// Draining twice is no error.
		if _, err := d.SetNodeAvailability(ctx, worker, runtime.NodeDrain); err != nil {
			t.Errorf("draining a drained node: %v", err)
		}
		if n, err = d.SetNodeAvailability(ctx, worker, runtime.NodeActive); err != nil || n.Availability != "active" {
			t.Fatalf("activate: %+v, %v", n, err)
		}
		if got := availability(t, d, worker); got != "active" {
			t.Errorf("listed as %s after activate", got)
		}
		if _, err := d.SetNodeAvailability(ctx, worker, "asleep"); !errors.Is(err, runtime.ErrInvalid) {
			t.Errorf("availability asleep: %v, want ErrInvalid", err)
		}
		if _, err := d.SetNodeAvailability(ctx, "nosuchnode0000000000000000", runtime.NodeDrain); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("unknown node: %v, want ErrNotFound", err)
		}
	})

	t.Run("join command", func(t *testing.T) {
		j, err := d.SwarmJoinCommand(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mgr := nodes[0].Addr + ":2377"
		if !strings.HasPrefix(j.Token, "SWMTKN-1-") || len(j.Managers) == 0 || j.Managers[0] != mgr {
			t.Errorf("join: %+v, want a worker token and %s first", j, mgr)
		}
		if want := "docker swarm join --token " + j.Token + " " + mgr; j.Command != want {
			t.Errorf("command %q, want %q", j.Command, want)
		}
	})

	t.Run("worker", func(t *testing.T) {
		w, err := runtime.NewDocker(nodes[1].Host)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		_, err = w.SwarmNodes(ctx)
		var nm *runtime.NotManagerError
		if !errors.Is(err, runtime.ErrNotManager) || !errors.As(err, &nm) || nm.State != "active" || !strings.Contains(err.Error(), "worker") {
			t.Errorf("listing from a worker: %v", err)
		}
		if _, err := w.SwarmJoinCommand(ctx); !errors.Is(err, runtime.ErrNotManager) {
			t.Errorf("join command from a worker: %v", err)
		}
	})

	t.Run("lone engine", func(t *testing.T) {
		h, _ := engine(t)
		_, err := h.SwarmNodes(ctx)
		var nm *runtime.NotManagerError
		if err == nil {
			t.Skip("the host's engine is a swarm manager")
		}
		if !errors.As(err, &nm) || nm.State != "inactive" || !strings.Contains(err.Error(), "docker swarm init") {
			t.Errorf("listing from the host's engine: %v", err)
		}
	})
}

func availability(t *testing.T, d *runtime.Docker, id string) string {
	t.Helper()
	list, err := d.SwarmNodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list {
		if n.ID == id {
			return n.Availability
		}
	}
	t.Fatalf("node %s not listed", id)
	return ""
}

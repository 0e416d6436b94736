package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	mclient "github.com/moby/moby/client"
)

// ErrNotManager: the engine is outside any swarm, or a worker, so it
// cannot list or change the swarm's nodes. A *NotManagerError says which.
var ErrNotManager = errors.New("the engine is not a swarm manager")

// NotManagerError says why the engine cannot answer for the swarm, and
// what to do.
type NotManagerError struct {
	// State is the engine's swarm state: "inactive" (in no swarm),
	// "pending", "active" (a worker here), "error" or "locked".
	State string
	// Detail is the engine's own error, when it reports one.
	Detail string
}

func (e *NotManagerError) Error() string {
	switch e.State {
	case string(swarm.LocalNodeStateInactive), "":
		return "the engine is not in a swarm; start one with: docker swarm init"
	case string(swarm.LocalNodeStateActive):
		return "the engine is a swarm worker; kaj must talk to a manager (docker node promote, or run kaj on a manager)"
	case string(swarm.LocalNodeStateLocked):
		return "the swarm manager is locked; unlock it with: docker swarm unlock"
	case string(swarm.LocalNodeStatePending):
		return "the engine is still joining its swarm"
	}
	if e.Detail != "" {
		return "the engine's swarm is in error: " + e.Detail
	}
	return "the engine's swarm is in state " + e.State
}

// Is makes a *NotManagerError match ErrNotManager.
func (e *NotManagerError) Is(target error) bool { return target == ErrNotManager }

// SwarmNode is one node of the swarm as the dashboard and the API show
// it.
type SwarmNode struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	// Role is "manager" or "worker".
	Role string `json:"role"`
	// State is "ready", "down", "unknown" or "disconnected"; Message is
	// the swarm's word on it, when any.
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	// Availability is "active", "pause" or "drain".
	Availability string `json:"availability"`
	// Addr is the node's address, as the swarm reaches it.
	Addr          string `json:"addr"`
	EngineVersion string `json:"engine_version"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	// CPUs is the node's CPU count; Memory its memory in bytes.
	CPUs   float64 `json:"cpus"`
	Memory int64   `json:"memory"`
	// Labels are the node's swarm labels (docker node update --label-add),
	// which placement constraints use.
	Labels map[string]string `json:"labels"`
	// Leader is the managers' current leader; Reachability a manager's
	// standing in the managers' quorum.
	Leader       bool   `json:"leader"`
	Reachability string `json:"reachability,omitempty"`
	// Self is the node of the engine kaj talks to.
	Self bool `json:"self"`
}

// Node availabilities a caller may set.
const (
	NodeActive = string(swarm.NodeAvailabilityActive)
	NodeDrain  = string(swarm.NodeAvailabilityDrain)
	NodePause  = string(swarm.NodeAvailabilityPause)
)

// managerInfo returns the engine's swarm section, or a *NotManagerError
// when the engine cannot speak for the swarm.
func (d *Docker) managerInfo(ctx context.Context) (swarm.Info, error) {
	res, err := d.cli.Info(ctx, mclient.InfoOptions{})
	if err != nil {
		return swarm.Info{}, engineError("asking the engine about its swarm", err)
	}
	s := res.Info.Swarm
	if s.LocalNodeState != swarm.LocalNodeStateActive || !s.ControlAvailable {
		return s, &NotManagerError{State: string(s.LocalNodeState), Detail: s.Error}
	}
	return s, nil
}

// SwarmNodes lists the swarm's nodes, managers first, then by host name.
func (d *Docker) SwarmNodes(ctx context.Context) ([]SwarmNode, error) {
	info, err := d.managerInfo(ctx)
	if err != nil {
		return nil, err
	}
	res, err := d.cli.NodeList(ctx, mclient.NodeListOptions{})
	if err != nil {
		return nil, engineError("listing the swarm's nodes", err)
	}
	out := make([]SwarmNode, 0, len(res.Items))
	for _, n := range res.Items {
		out = append(out, toSwarmNode(n, info.NodeID))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role == string(swarm.NodeRoleManager)
		}
		if out[i].Hostname != out[j].Hostname {
			return out[i].Hostname < out[j].Hostname
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func toSwarmNode(n swarm.Node, self string) SwarmNode {
	sn := SwarmNode{
		ID:            n.ID,
		Hostname:      n.Description.Hostname,
		Role:          string(n.Spec.Role),
		State:         string(n.Status.State),
		Message:       n.Status.Message,
		Availability:  string(n.Spec.Availability),
		Addr:          n.Status.Addr,
		EngineVersion: n.Description.Engine.EngineVersion,
		OS:            n.Description.Platform.OS,
		Arch:          n.Description.Platform.Architecture,
		CPUs:          float64(n.Description.Resources.NanoCPUs) / 1e9,
		Memory:        n.Description.Resources.MemoryBytes,
		Labels:        n.Spec.Labels,
		Self:          n.ID == self,
	}
	if sn.Labels == nil {
		sn.Labels = map[string]string{}
	}
	if m := n.ManagerStatus; m != nil {
		sn.Leader, sn.Reachability = m.Leader, string(m.Reachability)
		// A manager listening on all interfaces may report 0.0.0.0;
		// its manager address says where it is.
		if sn.Addr == "" || sn.Addr == "0.0.0.0" {
			if h, _, err := net.SplitHostPort(m.Addr); err == nil {
				sn.Addr = h
			}
		}
	}
	return sn
}

// SetNodeAvailability drains, pauses or activates node id (its ID, or a
// unique ID prefix or host name, as docker node update takes). Draining
// moves the node's tasks elsewhere; a database pinned to the node then
// has nowhere to go and stops until the node is active again.
func (d *Docker) SetNodeAvailability(ctx context.Context, id, availability string) (SwarmNode, error) {
	switch availability {
	case NodeActive, NodeDrain, NodePause:
	default:
		return SwarmNode{}, invalid("availability", availability, "want active, drain or pause")
	}
	if strings.TrimSpace(id) == "" {
		return SwarmNode{}, invalid("node", id, "empty node ID")
	}
	info, err := d.managerInfo(ctx)
	if err != nil {
		return SwarmNode{}, err
	}
	res, err := d.cli.NodeInspect(ctx, id, mclient.NodeInspectOptions{})
	if err != nil {
		return SwarmNode{}, engineError("inspecting node "+id, err)
	}
	n := res.Node
	if string(n.Spec.Availability) == availability {
		return toSwarmNode(n, info.NodeID), nil
	}
	spec := n.Spec
	spec.Availability = swarm.NodeAvailability(availability)
	// The update names the version read: a change made in between (a
	// label set by a deploy) makes it fail rather than be undone.
	if _, err := d.cli.NodeUpdate(ctx, n.ID, mclient.NodeUpdateOptions{Version: n.Version, Spec: spec}); err != nil {
		return SwarmNode{}, engineError(fmt.Sprintf("setting node %s to %s", id, availability), err)
	}
	n.Spec = spec
	return toSwarmNode(n, info.NodeID), nil
}

// SwarmJoin is what a new machine needs to join the swarm as a worker.
type SwarmJoin struct {
	// Token is the swarm's worker join token: a secret, since it lets any
	// machine that reaches a manager run the swarm's tasks.
	Token string `json:"token"`
	// Managers are the managers' addresses (host:2377), kaj's own first.
	Managers []string `json:"managers"`
	// Command is "docker swarm join --token <token> <manager>".
	Command string `json:"command"`
}

// SwarmJoinCommand returns the worker join command.
func (d *Docker) SwarmJoinCommand(ctx context.Context) (SwarmJoin, error) {
	info, err := d.managerInfo(ctx)
	if err != nil {
		return SwarmJoin{}, err
	}
	res, err := d.cli.SwarmInspect(ctx, mclient.SwarmInspectOptions{})
	if err != nil {
		return SwarmJoin{}, engineError("reading the swarm's join token", err)
	}
	j := SwarmJoin{Token: res.Swarm.JoinTokens.Worker}
	for _, m := range info.RemoteManagers {
		if m.NodeID == info.NodeID {
			j.Managers = append([]string{m.Addr}, j.Managers...)
		} else {
			j.Managers = append(j.Managers, m.Addr)
		}
	}
	if len(j.Managers) == 0 && info.NodeAddr != "" {
		j.Managers = []string{net.JoinHostPort(info.NodeAddr, "2377")}
	}
	if j.Token == "" || len(j.Managers) == 0 {
		return SwarmJoin{}, errors.New("the swarm reported no worker join token or manager address")
	}
	j.Command = JoinCommand(j.Token, j.Managers[0])
	return j, nil
}

// JoinCommand is the docker command that joins a worker with token to
// the swarm through manager.
func JoinCommand(token, manager string) string {
	return "docker swarm join --token " + token + " " + manager
}

package server

import (
	"strings"
	"testing"

	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/internal/testutil/swarmtest"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// The nodes API and page against a real three-engine swarm: the list with
// roles, draining and activating a worker (recorded), the join command
// masked unless revealed (recorded), the Nodes entry in the navigation.
func TestNodes_swarm(t *testing.T) {
	c := swarmtest.Start(t, 3)
	d, err := runtime.NewDocker(c.Manager())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f := newFixture(t, func(o *Options) { o.Nodes = d })
	nodes := c.Nodes()

	var list nodesView
	decodeJSON(t, f.as("GET", "/api/v1/nodes", ""), &list)
	if !list.Swarm || len(list.Nodes) != 3 {
		t.Fatalf("nodes: %+v, want a swarm of 3", list)
	}
	roles := map[string]int{}
	for _, n := range list.Nodes {
		roles[n.Role]++
	}
	if roles["manager"] != 1 || roles["worker"] != 2 || !list.Nodes[0].Leader || !list.Nodes[0].Self {
		t.Errorf("roles %v, first %+v; want 1 leading manager (kaj's) and 2 workers", roles, list.Nodes[0])
	}

	worker := nodes[1]
	var n runtime.SwarmNode
	decodeJSON(t, f.as("POST", "/api/v1/nodes/"+worker.NodeID+"/drain", ""), &n)
	if n.Availability != "drain" || n.ID != worker.NodeID {
		t.Fatalf("after drain: %+v", n)
	}
	decodeJSON(t, f.as("GET", "/api/v1/nodes", ""), &list)
	for _, ln := range list.Nodes {
		if want := map[bool]string{true: "drain", false: "active"}[ln.ID == worker.NodeID]; ln.Availability != want {
			t.Errorf("node %s (%s) is %s, want %s", ln.Hostname, ln.ID, ln.Availability, want)
		}
	}
	page := f.expect(f.as("GET", "/nodes", ""), 200, worker.Hostname, `data-activate="`+worker.NodeID+`"`, `href="/nodes"`)
	if !strings.Contains(page, "docker swarm join --token SWMTKN-1-") || !strings.Contains(page, "••••••••") {
		t.Errorf("the page shows no masked join command")
	}
	decodeJSON(t, f.as("POST", "/api/v1/nodes/"+worker.NodeID+"/activate", ""), &n)
	if n.Availability != "active" {
		t.Fatalf("after activate: %+v", n)
	}
	f.expect(f.as("POST", "/api/v1/nodes/nosuchnode/drain", ""), 404)
	f.expect(f.as("POST", "/api/v1/nodes/..%2Fx/drain", ""), 400)

	var masked, full joinView
	decodeJSON(t, f.as("GET", "/api/v1/nodes/join", ""), &masked)
	decodeJSON(t, f.as("GET", "/api/v1/nodes/join?reveal=true", ""), &full)
	mgr := nodes[0].Addr + ":2377"
	if !masked.Masked || strings.Contains(masked.Command, full.Token) || !strings.HasSuffix(masked.Command, " "+mgr) {
		t.Errorf("masked join: %+v", masked)
	}
	if full.Masked || !strings.HasPrefix(full.Token, "SWMTKN-1-") || full.Command != "docker swarm join --token "+full.Token+" "+mgr {
		t.Errorf("revealed join: %+v, want the token and %s", full, mgr)
	}

	var evs []store.Event
	f.st.View(func(tx *store.Tx) (err error) { evs, err = tx.Events(0, 20); return err })
	seen := map[store.Action]bool{}
	for _, e := range evs {
		seen[e.Action] = true
	}
	for _, a := range []store.Action{store.ActionNodeDrain, store.ActionNodeActivate, store.ActionJoinReveal} {
		if !seen[a] {
			t.Errorf("no %s event in %+v", a, evs)
		}
	}
}

// On a lone engine the list says it is no swarm and how to start one; the
// page explains, and the navigation has no Nodes entry elsewhere.
func TestNodes_loneEngine(t *testing.T) {
	testutil.NewEnv(t)
	d, err := runtime.NewDocker("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f := newFixture(t, func(o *Options) { o.Nodes = d })
	var list nodesView
	decodeJSON(t, f.as("GET", "/api/v1/nodes", ""), &list)
	if list.Swarm {
		t.Skip("the host's engine is a swarm manager")
	}
	if list.State != "inactive" || !strings.Contains(list.Message, "docker swarm init") || list.Nodes == nil {
		t.Errorf("nodes on a lone engine: %+v", list)
	}
	f.expect(f.as("GET", "/nodes", ""), 200, "Not in a swarm", "docker swarm init")
	if page := f.expect(f.as("GET", "/", ""), 200); strings.Contains(page, `href="/nodes"`) {
		t.Errorf("the apps page links to Nodes on a lone engine")
	}
	f.expect(f.as("GET", "/api/v1/nodes/join", ""), 409, "docker swarm init")
	f.expect(f.as("POST", "/api/v1/nodes/x1/drain", ""), 409)
}

// Without engine access the routes say so.
func TestNodes_noEngine(t *testing.T) {
	f := newFixture(t)
	f.expect(f.as("GET", "/api/v1/nodes", ""), 503)
	f.expect(f.as("GET", "/nodes", ""), 200, "without engine access")
}

package dashboard

import (
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/internal/testutil/swarmtest"
)

// TestDashboard_nodes: with kaj on a real three-engine swarm's manager,
// the navigation links to Nodes; the page lists the three nodes; a worker
// is drained after a confirmation and activated again; the join command
// is masked until revealed.
func TestDashboard_nodes(t *testing.T) {
	c := swarmtest.Start(t, 3)
	env := testutil.NewEnv(t)
	k := kajtest.Start(t, env, func(cfg *config.Config) { cfg.Docker.Host = c.Manager() })
	b := newBrowser(t, k.URL)
	worker := c.Nodes()[2]

	b.open("/")
	login(b, k.Password)
	b.waitFor("the Nodes entry in the navigation", `document.querySelector('.sidebar a[href="/nodes"]') !== null`, 15*time.Second)
	b.click(`.sidebar a[href="/nodes"]`)
	b.waitFor("the nodes table", `document.querySelectorAll("#nodes-table tbody tr").length === 3`, 15*time.Second)
	text := eval[string](b, `document.querySelector("#nodes-table").innerText`)
	for _, n := range c.Nodes() {
		if !strings.Contains(text, n.Hostname) || !strings.Contains(text, n.Addr) {
			t.Errorf("the table lacks %s at %s:\n%s", n.Hostname, n.Addr, text)
		}
	}
	if !strings.Contains(text, "leader") || strings.Count(text, "worker") != 2 {
		t.Errorf("the table shows no leader and two workers:\n%s", text)
	}
	b.screenshot("nodes")

	row := `document.querySelector('#nodes-table tr[data-key="` + worker.NodeID + `"]')`
	b.click(`#nodes-table button[data-drain="` + worker.NodeID + `"]`)
	b.waitFor("the drain confirmation", `document.querySelector("dialog[open]") !== null`, 10*time.Second)
	b.click(`dialog[open] button[value="ok"]`)
	b.waitFor("the worker drained", row+`.querySelector('[data-availability="drain"]') !== null`, 15*time.Second)
	b.click(`#nodes-table button[data-activate="` + worker.NodeID + `"]`)
	b.waitFor("the worker active", row+`.querySelector('[data-availability="active"]') !== null`, 15*time.Second)

	cmd := `document.querySelector("#join-command").textContent`
	if masked := eval[string](b, cmd); !strings.Contains(masked, "••••") || !strings.HasPrefix(masked, "docker swarm join --token SWMTKN-1-") {
		t.Errorf("join command before reveal: %q", masked)
	}
	b.click("#join-reveal")
	b.waitFor("the join command revealed", `!`+cmd+`.includes("••")`, 10*time.Second)
	if full := eval[string](b, cmd); !strings.HasSuffix(full, " "+c.Nodes()[0].Addr+":2377") {
		t.Errorf("revealed join command %q, want the manager's address", full)
	}
}

// TestDashboard_nodesLoneEngine: on a single engine the navigation has no
// Nodes entry, and the page says how to start a swarm.
func TestDashboard_nodesLoneEngine(t *testing.T) {
	env := testutil.NewEnv(t)
	k := kajtest.Start(t, env)
	b := newBrowser(t, k.URL)
	b.open("/")
	login(b, k.Password)
	if eval[bool](b, `document.querySelector('.sidebar a[href="/nodes"]') !== null`) {
		t.Skip("the host's engine is a swarm manager")
	}
	b.open("/nodes")
	if text := eval[string](b, `document.querySelector("#no-swarm").innerText`); !strings.Contains(text, "Not in a swarm") || !strings.Contains(text, "docker swarm init") {
		t.Errorf("the page on a lone engine says %q", text)
	}
	b.screenshot("nodes-single-engine")
}

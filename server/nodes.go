package server

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/dashboard"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Nodes is what the server asks of the swarm kaj's engine manages. Nil
// in Options: the routes answer 503.
type Nodes interface {
	SwarmNodes(ctx context.Context) ([]runtime.SwarmNode, error)
	SetNodeAvailability(ctx context.Context, id, availability string) (runtime.SwarmNode, error)
	SwarmJoinCommand(ctx context.Context) (runtime.SwarmJoin, error)
}

var _ Nodes = (*runtime.Docker)(nil)

var errNoNodes = &apiError{Code: fiber.StatusServiceUnavailable, Msg: "this kaj was started without engine access for swarm nodes"}

// nodesView is the nodes list's answer. On an engine that is no swarm
// manager, Swarm is false and Message says why and what to do.
type nodesView struct {
	Swarm   bool                `json:"swarm"`
	State   string              `json:"state,omitempty"`
	Message string              `json:"message,omitempty"`
	Nodes   []runtime.SwarmNode `json:"nodes"`
}

// joinView is the worker join command; Masked is true while the token's
// secret part is hidden.
type joinView struct {
	runtime.SwarmJoin
	Masked bool `json:"masked"`
}

func (s *Server) listNodes(c *fiber.Ctx) error {
	if s.opts.Nodes == nil {
		return errNoNodes
	}
	list, err := s.opts.Nodes.SwarmNodes(c.UserContext())
	var nm *runtime.NotManagerError
	if errors.As(err, &nm) {
		s.swarm.set(false)
		return c.JSON(nodesView{State: nm.State, Message: nm.Error(), Nodes: []runtime.SwarmNode{}})
	}
	if err != nil {
		return err
	}
	s.swarm.set(true)
	return c.JSON(nodesView{Swarm: true, Nodes: list})
}

// nodeID is a swarm node ID, a unique prefix of one, or a host name.
var nodeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$`)

// nodeAvailability drains or activates a node: draining moves its tasks
// to the other nodes (a database pinned to it stops until it is active
// again).
func (s *Server) nodeAvailability(availability string, action store.Action) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.opts.Nodes == nil {
			return errNoNodes
		}
		id := c.Params("id")
		if !nodeID.MatchString(id) {
			return badRequest("id", "%q is not a node ID or host name", id)
		}
		n, err := s.opts.Nodes.SetNodeAvailability(c.UserContext(), id, availability)
		if err != nil {
			return notManager(err)
		}
		s.audit(actor(c), action, n.Hostname, n.ID)
		return c.JSON(n)
	}
}

// revealJoin answers the worker join command. The token lets any machine
// that reaches a manager join and run the swarm's tasks, so its secret
// part is masked unless ?reveal=true, which is recorded.
func (s *Server) revealJoin(c *fiber.Ctx) error {
	if s.opts.Nodes == nil {
		return errNoNodes
	}
	// The full token is a secret revealed: the password typed lately, as
	// for every other reveal.
	if c.QueryBool("reveal", false) {
		if err := s.checkConfirmed(c); err != nil {
			return err
		}
	}
	j, err := s.opts.Nodes.SwarmJoinCommand(c.UserContext())
	if err != nil {
		return notManager(err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !c.QueryBool("reveal", false) {
		j.Token = maskJoinToken(j.Token)
		j.Command = runtime.JoinCommand(j.Token, j.Managers[0])
		return c.JSON(joinView{SwarmJoin: j, Masked: true})
	}
	s.audit(actor(c), store.ActionJoinReveal, "swarm", c.IP())
	return c.JSON(joinView{SwarmJoin: j})
}

// maskJoinToken hides a join token's secret, its last part
// (SWMTKN-1-<CA digest>-<secret>); the digest names the swarm and is no
// secret.
func maskJoinToken(tok string) string {
	i := strings.LastIndexByte(tok, '-')
	if i < 0 || !strings.HasPrefix(tok, "SWMTKN-") {
		return "••••••••"
	}
	return tok[:i+1] + "••••••••"
}

func notManager(err error) error {
	if errors.Is(err, runtime.ErrNotManager) {
		return &apiError{Code: fiber.StatusConflict, Msg: err.Error()}
	}
	return err
}

// swarmState remembers whether kaj's engine is a swarm manager, for the
// navigation every page shows: asking the engine on each page would cost
// a round trip per page.
type swarmState struct {
	mu         sync.Mutex
	known      bool
	manager    bool
	at         time.Time
	refreshing bool
}

const swarmStateTTL = 30 * time.Second

func (st *swarmState) set(manager bool) {
	st.mu.Lock()
	st.known, st.manager, st.at = true, manager, time.Now()
	st.mu.Unlock()
}

// isSwarmManager answers from memory, refreshing in the background once
// the answer is older than swarmStateTTL; only the first call waits for
// the engine (at most two seconds).
func (s *Server) isSwarmManager() bool {
	if s.opts.Nodes == nil {
		return false
	}
	st := &s.swarm
	st.mu.Lock()
	known, manager, stale := st.known, st.manager, time.Since(st.at) > swarmStateTTL
	start := stale && !st.refreshing
	if start {
		st.refreshing = true
	}
	st.mu.Unlock()
	refresh := func() {
		ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
		defer cancel()
		_, err := s.opts.Nodes.SwarmNodes(ctx)
		st.mu.Lock()
		st.refreshing = false
		st.mu.Unlock()
		switch {
		case err == nil:
			st.set(true)
		case errors.Is(err, runtime.ErrNotManager):
			st.set(false)
		}
		// Any other error (an engine that does not answer) keeps the last
		// answer until the next try.
	}
	switch {
	case !known && start:
		refresh()
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.manager
	case start:
		go refresh()
	}
	return manager
}

// nodes is the dashboard's Nodes page.
func (p *site) nodes(c *fiber.Ctx) error {
	page := dashboard.NodesPage{Base: p.base(c, "nodes")}
	if p.s.opts.Nodes == nil {
		page.Error = errNoNodes.Msg
		return p.render(c, fiber.StatusOK, "nodes", page)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	list, err := p.s.opts.Nodes.SwarmNodes(ctx)
	var nm *runtime.NotManagerError
	switch {
	case errors.As(err, &nm):
		p.s.swarm.set(false)
		page.State, page.Message = nm.State, nm.Error()
	case err != nil:
		p.s.log.Warn("listing swarm nodes for the dashboard", "err", err)
		_, body := classify(err)
		page.Error = strings.TrimSuffix(body.Error+": "+body.Detail, ": ")
	default:
		p.s.swarm.set(true)
		page.Manager = true
		for _, n := range list {
			page.Nodes = append(page.Nodes, dashboard.Node{
				ID: n.ID, Hostname: n.Hostname, Role: n.Role, State: n.State, Message: n.Message,
				Availability: n.Availability, Addr: n.Addr, EngineVersion: n.EngineVersion,
				OS: n.OS, Arch: n.Arch, CPUs: n.CPUs, Memory: n.Memory, Labels: n.Labels,
				Leader: n.Leader, Reachability: n.Reachability, Self: n.Self,
			})
		}
		if page.IsAdmin {
			if j, err := p.s.opts.Nodes.SwarmJoinCommand(ctx); err == nil {
				page.JoinCommand = runtime.JoinCommand(maskJoinToken(j.Token), j.Managers[0])
			}
		}
	}
	return p.render(c, fiber.StatusOK, "nodes", page)
}

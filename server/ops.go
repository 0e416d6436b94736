package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Host is what the server asks the engine about its host: totals, the
// images it holds, and removing one. Nil in Options: the routes answer
// 503.
type Host interface {
	HostUsage(ctx context.Context) (runtime.HostUsage, error)
	Images(ctx context.Context) ([]runtime.HostImage, error)
	RemoveImage(ctx context.Context, im runtime.HostImage) error
}

// Terminals opens exec sessions with a TTY in containers.
type Terminals interface {
	OpenTerminal(ctx context.Context, id string, spec runtime.TerminalSpec) (*runtime.Terminal, error)
}

var (
	_ Host      = (*runtime.Docker)(nil)
	_ Terminals = (*runtime.Docker)(nil)
)

var errNoEngineOps = &apiError{Code: fiber.StatusServiceUnavailable, Msg: "this kaj was started without engine access for host and terminal operations"}

// statsMessage is a stats websocket's message: one reading, or the end.
type statsMessage struct {
	Type      string          `json:"type"` // history, sample, end, error
	Container string          `json:"container,omitempty"`
	Sample    *runtime.Sample `json:"sample,omitempty"`
	// Samples is the history a viewer starts with, oldest first.
	Samples []runtime.Sample `json:"samples,omitempty"`
	Error   string           `json:"error,omitempty"`
}

// wsStats streams a container's resource readings: ?container=app|db|ID.
// The kept history (up to five minutes) comes first in one "history"
// message, then a "sample" about once a second. Every viewer of a container shares one engine stream.
func (s *Server) wsStats(conn *websocket.Conn) {
	ctx, cancel := s.session(conn)
	defer cancel()
	if s.opts.Stats == nil {
		s.wsFail(conn, "stats stream failed", errNoEngineOps)
		return
	}
	c, err := s.opts.Apps.Container(ctx, conn.Params("name"), conn.Query("container", "app"))
	if err != nil {
		s.wsFail(conn, "stats stream failed", err)
		return
	}
	sub := s.opts.Stats.Subscribe(c.ID)
	defer sub.Close()
	if len(sub.History) > 0 {
		conn.SetWriteDeadline(time.Now().Add(writeWait))
		if err := conn.WriteJSON(statsMessage{Type: "history", Container: c.Name, Samples: sub.History}); err != nil {
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case smp, ok := <-sub.C:
			if !ok {
				m := statsMessage{Type: "end", Container: c.Name}
				if err := sub.Err(); err != nil {
					m.Error = err.Error()
				}
				conn.SetWriteDeadline(time.Now().Add(writeWait))
				conn.WriteJSON(m)
				return
			}
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteJSON(statsMessage{Type: "sample", Container: c.Name, Sample: &smp}); err != nil {
				return
			}
		}
	}
}

// wsFail sends an error message the way every websocket reports one.
func (s *Server) wsFail(conn *websocket.Conn, what string, err error) {
	code, body := classify(err)
	switch {
	case errors.Is(err, context.Canceled):
		// A viewer leaving cancels its stream: normal, not a failure.
		s.log.Debug(what, "app", conn.Params("name"), "err", err)
		return
	case code >= 500:
		s.log.Error(what, "app", conn.Params("name"), "err", err)
	}
	msg := body.Error
	if body.Detail != "" {
		msg += ": " + body.Detail
	}
	send(conn, wsMessage{Type: "error", Error: msg})
}

// latestStats is the newest reading of every container someone watches,
// by container ID, for the apps list's compact column. It opens no
// stream: a container nobody watches has no entry.
func (s *Server) latestStats(c *fiber.Ctx) error {
	if s.opts.Stats == nil {
		return c.JSON(map[string]runtime.Sample{})
	}
	return c.JSON(s.opts.Stats.Latest())
}

type hostResponse struct {
	runtime.HostUsage
	// StatsStreams is how many engine stats streams kaj holds open.
	StatsStreams int `json:"stats_streams"`
}

func (s *Server) hostUsage(c *fiber.Ctx) error {
	if s.opts.Host == nil {
		return errNoEngineOps
	}
	u, err := s.opts.Host.HostUsage(c.UserContext())
	if err != nil {
		return err
	}
	out := hostResponse{HostUsage: u}
	if s.opts.Stats != nil {
		out.StatsStreams = s.opts.Stats.OpenStreams()
	}
	return c.JSON(out)
}

type pruneResponse struct {
	Removed []runtime.HostImage `json:"removed"`
	// Kept are unused images kept because a release needs them.
	Kept   int      `json:"kept_for_releases"`
	Freed  int64    `json:"freed_bytes"`
	Errors []string `json:"errors,omitempty"`
}

// pruneImages removes images no container uses and no release of any
// app refers to (a rollback would need it). ?dry_run=1 only lists them.
func (s *Server) pruneImages(c *fiber.Ctx) error {
	if s.opts.Host == nil {
		return errNoEngineOps
	}
	ctx := c.UserContext()
	inUse, err := s.opts.Apps.ImagesInUse()
	if err != nil {
		return err
	}
	ims, err := s.opts.Host.Images(ctx)
	if err != nil {
		return err
	}
	out := pruneResponse{Removed: []runtime.HostImage{}}
	for _, im := range ims {
		if im.Containers != 0 { // used, or the engine did not count (-1)
			continue
		}
		if needed(im, inUse) {
			out.Kept++
			continue
		}
		if !c.QueryBool("dry_run", false) {
			if err := s.opts.Host.RemoveImage(ctx, im); err != nil {
				out.Errors = append(out.Errors, err.Error())
				continue
			}
		}
		out.Removed = append(out.Removed, im)
		out.Freed += im.Size
	}
	if !c.QueryBool("dry_run", false) {
		s.audit(actor(c), store.ActionImagePrune, "images", strconv.Itoa(len(out.Removed))+" removed, "+strconv.FormatInt(out.Freed>>20, 10)+" MiB freed")
	}
	return c.JSON(out)
}

// needed says whether a release or app refers to im by ID, tag or
// digest reference.
func needed(im runtime.HostImage, inUse map[string]bool) bool {
	if inUse[im.ID] || inUse[strings.TrimPrefix(im.ID, "sha256:")] {
		return true
	}
	for _, t := range im.Tags {
		if inUse[t] || inUse[strings.TrimSuffix(t, ":latest")] {
			return true
		}
	}
	for ref := range inUse {
		// repo@sha256:... references: the image's ID is not its digest,
		// so keep any image whose repository a digest reference names.
		if repo, _, ok := strings.Cut(ref, "@"); ok {
			for _, t := range im.Tags {
				if strings.HasPrefix(t, repo+":") {
					return true
				}
			}
		}
	}
	return false
}

// terminalInput is what the terminal page sends: keystrokes, or a new
// size.
type terminalInput struct {
	Type string `json:"type"` // input, resize
	Data string `json:"data,omitempty"`
	Rows uint   `json:"rows,omitempty"`
	Cols uint   `json:"cols,omitempty"`
}

// wsTerminal runs a shell (or, with ?client=1 in the database container,
// the database's own client logged in) under a TTY: ?container=app|db|ID,
// &rows=&cols= its first size. Binary messages from kaj are the
// program's output; text messages to kaj are terminalInput. Admins only;
// every session is recorded in the event trail when it opens and ends.
func (s *Server) wsTerminal(conn *websocket.Conn) {
	// Not s.session: the reader here is the keyboard, not a keepalive.
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	if s.opts.Terminals == nil {
		s.wsFail(conn, "terminal failed", errNoEngineOps)
		return
	}
	who, _ := conn.Locals(localUser).(identity)
	plan, done, err := s.opts.Apps.Terminal(ctx, who.User, conn.Params("name"), conn.Query("container", "app"), conn.Query("client") == "1", conn.IP())
	if err != nil {
		s.wsFail(conn, "terminal failed", err)
		return
	}
	rows, _ := strconv.ParseUint(conn.Query("rows", "24"), 10, 16)
	cols, _ := strconv.ParseUint(conn.Query("cols", "80"), 10, 16)
	term, err := s.opts.Terminals.OpenTerminal(ctx, plan.Container.ID, runtime.TerminalSpec{Cmd: plan.Cmd, Env: plan.Env, Rows: uint(rows), Cols: uint(cols)})
	if err != nil {
		done("failed to start: " + err.Error())
		s.wsFail(conn, "terminal failed", err)
		return
	}
	started := time.Now()
	defer func() { done("after " + time.Since(started).Round(time.Second).String()) }()
	defer term.Close()
	conn.SetReadLimit(64 << 10)
	// The reader pushes its deadline out after each message; once the
	// session ends it must not push it past the "now" that stops it.
	var mu sync.Mutex
	closing := false
	extend := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if !closing {
			conn.SetReadDeadline(time.Now().Add(d))
		}
	}
	conn.SetPongHandler(func(string) error { extend(terminalIdle); return nil })
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer cancel()
		for {
			extend(terminalIdle)
			_, raw, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var in terminalInput
			if json.Unmarshal(raw, &in) != nil {
				continue
			}
			switch in.Type {
			case "input":
				if _, err := io.WriteString(term, in.Data); err != nil {
					return
				}
			case "resize":
				if in.Rows > 0 && in.Cols > 0 && in.Rows < 1000 && in.Cols < 1000 {
					term.Resize(ctx, in.Rows, in.Cols)
				}
			}
		}
	}()
	go func() {
		// Pings keep proxies from cutting a quiet session; the end of
		// the session closes the program's TTY, which ends the output
		// loop below.
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				term.Close()
				return
			case <-t.C:
				conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := term.Read(buf)
		if n > 0 {
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			if werr := conn.WriteMessage(websocket.BinaryMessage, buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	s.sayGoodbye(conn, "the program ended")
	cancel()
	mu.Lock()
	closing = true
	conn.SetReadDeadline(time.Now())
	mu.Unlock()
	<-readerDone
}

// terminalIdle ends a terminal session whose browser has sent nothing,
// not even a pong, for this long: it is gone.
const terminalIdle = 30 * time.Minute

// maxUsageApps bounds one usage stream: a page lists at most this many
// apps' live columns through one websocket.
const maxUsageApps = 200

// wsUsage streams the serving containers' readings of several apps over
// one websocket, for the apps list: ?apps=a,b,c. Each message is a
// "sample" with App set. Apps without a running container are skipped.
func (s *Server) wsUsage(conn *websocket.Conn) {
	ctx, cancel := s.session(conn)
	defer cancel()
	if s.opts.Stats == nil {
		s.wsFail(conn, "stats stream failed", errNoEngineOps)
		return
	}
	names := strings.Split(conn.Query("apps"), ",")
	if len(names) > maxUsageApps {
		names = names[:maxUsageApps]
	}
	type reading struct {
		app string
		smp runtime.Sample
	}
	in := make(chan reading, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, name := range names {
		if name == "" {
			continue
		}
		c, err := s.opts.Apps.Container(ctx, name, "app")
		if err != nil || c.State != "running" {
			continue
		}
		sub := s.opts.Stats.Subscribe(c.ID)
		wg.Add(1)
		go func(app string) {
			defer wg.Done()
			defer sub.Close()
			for {
				select {
				case <-ctx.Done():
					return
				case smp, ok := <-sub.C:
					if !ok {
						return
					}
					select {
					case in <- reading{app, smp}:
					case <-ctx.Done():
						return
					}
				}
			}
		}(name)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-in:
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteJSON(usageMessage{Type: "sample", App: r.app, Sample: &r.smp}); err != nil {
				return
			}
		}
	}
}

type usageMessage struct {
	Type   string          `json:"type"`
	App    string          `json:"app"`
	Sample *runtime.Sample `json:"sample"`
}

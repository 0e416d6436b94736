package server

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/logstream"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// Keepalive: a ping every pingEvery; a peer silent for longer than
// pongWait (no pong, no message) is gone. Proxies commonly cut idle
// connections after 60s, so pings come well before that.
const (
	pingEvery = 25 * time.Second
	pongWait  = 60 * time.Second
	writeWait = 10 * time.Second
	// maxBatch lines at most go out in one message (about 100 KiB of
	// JSON for lines of 100 bytes): few frames under a flood, a small
	// buffer per viewer, and a viewer far behind still sees lines early;
	// a quiet log's line goes out alone, at once.
	maxBatch = 1024
	// A line that comes within burstGap of the last message waits
	// coalesce for more: a flood goes out in a few hundred messages a
	// second instead of one per engine read, for 2ms of latency.
	burstGap = 10 * time.Millisecond
	coalesce = 2 * time.Millisecond
)

// wsMessage is every message kaj sends on a websocket.
type wsMessage struct {
	// Type is lines, event, end or error.
	Type      string           `json:"type"`
	Container string           `json:"container,omitempty"`
	Lines     []logstream.Line `json:"lines,omitempty"`
	Event     any              `json:"event,omitempty"`
	Error     string           `json:"error,omitempty"`
}

func (s *Server) wsOnly(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return &apiError{Code: fiber.StatusUpgradeRequired, Msg: "this endpoint speaks websocket"}
	}
	return c.Next()
}

// session runs a websocket's reader and keepalive: the returned context
// ends when the peer goes away or the server shuts down. The returned
// func ends both and waits for them; the handler must call it before it
// returns, because the connection and its buffers are reused then.
func (s *Server) session(conn *websocket.Conn) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(s.ctx)
	// The reader must be gone before the handler returns: the server
	// reuses the connection's buffers afterwards. Stopping sets the read
	// deadline to now, and closing keeps the reader from pushing it out
	// again.
	var mu sync.Mutex
	closing := false
	extend := func() error {
		mu.Lock()
		defer mu.Unlock()
		if closing {
			return nil
		}
		return conn.SetReadDeadline(time.Now().Add(pongWait))
	}
	extend()
	conn.SetReadLimit(4 << 10) // viewers send nothing kaj reads
	conn.SetPongHandler(func(string) error { return extend() })
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer cancel()
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
			extend()
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
					cancel()
					return
				}
			}
		}
	}()
	return ctx, func() {
		s.sayGoodbye(conn, "stream ended")
		cancel()
		mu.Lock()
		closing = true
		conn.SetReadDeadline(time.Now())
		mu.Unlock()
		wg.Wait()
	}
}

// sayGoodbye sends a close frame, so clients see why a stream ended
// (1000 with reason, or 1001 when kaj shuts down) rather than 1006.
func (s *Server) sayGoodbye(conn *websocket.Conn, reason string) {
	code := websocket.CloseNormalClosure
	if s.ctx.Err() != nil {
		code, reason = websocket.CloseGoingAway, "kaj is shutting down"
	}
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(writeWait))
}

func send(conn *websocket.Conn, m wsMessage) error {
	conn.SetWriteDeadline(time.Now().Add(writeWait))
	return conn.WriteJSON(m)
}

// sendLines writes a lines message, reusing buf for the encoding.
func sendLines(conn *websocket.Conn, buf *[]byte, container string, lines []logstream.Line) error {
	*buf = appendLines((*buf)[:0], container, lines)
	conn.SetWriteDeadline(time.Now().Add(writeWait))
	return conn.WriteMessage(websocket.TextMessage, *buf)
}

// wsLogs streams one container's log, or the router's access log of the
// app: ?container=app|db|router|ID, &tail=N lines
// of history first (default 100; 0 none; "all" as many as kept),
// &since=RFC3339 or a duration like 10m, &follow=0 for the history only.
func (s *Server) wsLogs(conn *websocket.Conn) {
	ctx, cancel := s.session(conn)
	defer cancel()
	fail := func(err error) {
		if ctx.Err() != nil {
			// The viewer left (or kaj is stopping) while the stream
			// started: normal, and no one is there to tell.
			s.log.Debug("log viewer left", "app", conn.Params("name"), "err", err)
			return
		}
		s.wsFail(conn, "log stream failed", err)
	}
	tail, err := strconv.Atoi(conn.Query("tail", "100"))
	if conn.Query("tail") == "all" {
		tail, err = -1, nil
	}
	if err != nil || tail < -1 {
		fail(badRequest("tail", "tail must be a number of lines, or all"))
		return
	}
	var since time.Time
	if v := conn.Query("since"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			since = time.Now().Add(-d)
		} else if since, err = time.Parse(time.RFC3339, v); err != nil {
			fail(badRequest("since", "since must be RFC 3339 (2026-01-02T15:04:05Z) or a duration (10m)"))
			return
		}
	}
	c, err := s.opts.Apps.Container(ctx, conn.Params("name"), conn.Query("container", "app"))
	if err != nil {
		fail(err)
		return
	}
	if conn.Query("follow", "1") == "0" && c.Role != "router" {
		var batch []logstream.Line
		var buf []byte
		n := tail
		if n < 0 {
			n = 0 // the runtime's "all"
		} else if n == 0 {
			send(conn, wsMessage{Type: "end", Container: c.Name})
			return
		}
		err := s.opts.Logs.Logs(ctx, c.ID, runtime.LogOptions{Tail: n, Since: since}, func(l runtime.LogLine) error {
			batch = append(batch, logstream.Line{Stream: string(l.Stream), Time: l.Time, Text: l.Text})
			if len(batch) == maxBatch {
				err := sendLines(conn, &buf, c.Name, batch)
				batch = batch[:0]
				return err
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = sendLines(conn, &buf, c.Name, batch)
		}
		if err != nil {
			fail(err)
			return
		}
		send(conn, wsMessage{Type: "end", Container: c.Name})
		return
	}
	if c.Role == "router" {
		// Declared before the first request of the app may have been
		// published, so no engine stream is opened for the key.
		s.opts.Hub.Publish(c.ID)
	}
	sub, err := s.opts.Hub.Subscribe(ctx, c.ID, tail)
	if err != nil {
		return // the viewer left while the history loaded
	}
	defer sub.Close()
	// What waits goes out as one message, one frame, encoded straight
	// into buf: the hub encoded each line once for all viewers, so this
	// copies bytes.
	var segs [][]logstream.Line
	var buf []byte
	var skipped uint64 // lost lines not yet reported
	var sent time.Time
	for {
		var lost uint64
		segs, lost, err = sub.Next(ctx, segs[:0], maxBatch)
		skipped += lost
		if err == nil && time.Since(sent) < burstGap && count(segs) < maxBatch/2 {
			// In a burst the engine hands lines over a few at a time:
			// a moment's wait makes one message of many, and saves the
			// viewer and kaj a frame, a write and a wake-up for each.
			time.Sleep(coalesce)
			segs, lost, _ = sub.Next(done, segs, maxBatch-count(segs))
			skipped += lost
		}
		buf = buf[:0]
		buf, skipped = appendSegments(buf, c.Name, segs, skipped, since)
		if len(buf) > 0 {
			conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := conn.WriteMessage(websocket.TextMessage, buf); err != nil {
				return
			}
			sent = time.Now()
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			msg := wsMessage{Type: "end", Container: c.Name}
			if !errors.Is(err, io.EOF) {
				msg.Error = err.Error()
			}
			send(conn, msg)
			return
		}
	}
}

// done is a context that has ended: Next with it takes what waits and
// never blocks.
var done = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func count(segs [][]logstream.Line) int {
	n := 0
	for _, s := range segs {
		n += len(s)
	}
	return n
}

// wsJob streams a job's events from its first, and ends after its last.
func (s *Server) wsJob(conn *websocket.Conn) {
	ctx, cancel := s.session(conn)
	defer cancel()
	j, ok := s.opts.Jobs.Get(conn.Params("id"))
	if !ok {
		send(conn, wsMessage{Type: "error", Error: "no such job"})
		return
	}
	past, next, stop := j.Watch()
	defer stop()
	for _, e := range past {
		if err := send(conn, wsMessage{Type: "event", Event: e}); err != nil {
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-next:
			if !ok {
				send(conn, wsMessage{Type: "end"})
				return
			}
			if err := send(conn, wsMessage{Type: "event", Event: e}); err != nil {
				return
			}
		}
	}
}

// eventPoll is how often the live event feed looks for new events: the
// audit trail is written by many packages inside their own transactions,
// and a cursor read of the newest keys is cheap.
const eventPoll = time.Second

// wsEvents streams the audit trail: the last 20 events, then new ones.
func (s *Server) wsEvents(conn *websocket.Conn) {
	ctx, cancel := s.session(conn)
	defer cancel()
	evs, err := s.opts.Store.Events(0, 20)
	if err != nil {
		send(conn, wsMessage{Type: "error", Error: err.Error()})
		return
	}
	var last uint64
	for i := len(evs) - 1; i >= 0; i-- {
		if err := send(conn, wsMessage{Type: "event", Event: evs[i]}); err != nil {
			return
		}
		last = evs[i].Seq
	}
	t := time.NewTicker(eventPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		newer, err := s.newEvents(last)
		if err != nil {
			send(conn, wsMessage{Type: "error", Error: err.Error()})
			return
		}
		for _, e := range newer {
			if err := send(conn, wsMessage{Type: "event", Event: e}); err != nil {
				return
			}
			last = e.Seq
		}
	}
}

// newEvents returns the events after seq, oldest first.
func (s *Server) newEvents(seq uint64) ([]store.Event, error) {
	var out []store.Event
	before := uint64(0)
	for {
		page, err := s.opts.Store.Events(before, 100)
		if err != nil {
			return nil, err
		}
		done := len(page) < 100
		for _, e := range page {
			if e.Seq <= seq {
				done = true
				break
			}
			out = append(out, e)
		}
		if done || len(page) == 0 {
			break
		}
		before = page[len(page)-1].Seq
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

package api

import (
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// TestEvents_streamLive follows the audit trail over its websocket and sees
// an action appear without asking again.
func TestEvents_streamLive(t *testing.T) {
	env := testutil.NewEnv(t)
	k := kajtest.Start(t, env)
	c := k.Login(t)
	conn := c.Dial("/api/v1/events/stream")
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	name := env.Name("events")
	if code := c.JSON("POST", "/api/v1/apps", map[string]any{"name": name, "image": "example:1", "port": 80}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	for {
		var m struct {
			Type  string `json:"type"`
			Event struct {
				Actor, Action, Target string
			} `json:"event"`
		}
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatalf("no app.create event: %v", err)
		}
		if m.Event.Action == "app.create" && m.Event.Target == name && m.Event.Actor == "admin" {
			return
		}
	}
}

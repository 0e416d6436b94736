package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajd"
	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/kajhq/kaj/store"
)

// TestEvents_prunedAtStart: a trail left by an earlier kaj is cut to
// events.keep_days and events.keep when kaj starts.
func TestEvents_prunedAtStart(t *testing.T) {
	env := testutil.NewEnv(t)
	cfg := kajtest.Config(t)
	cfg.Events.KeepDays, cfg.Events.Keep = 30, 5
	st, err := kajd.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-40 * 24 * time.Hour)
	for i := range 10 {
		if _, err := st.AddEvent(store.Event{Time: old.Add(time.Duration(i) * time.Minute), Actor: "old", Action: store.ActionAppCreate, Target: "gone"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 8 {
		if _, err := st.AddEvent(store.Event{Actor: "recent", Action: store.ActionAppCreate, Target: "kept"}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	k := kajtest.StartConfig(t, env, cfg)
	c := k.Login(t)
	var events []store.Event
	code, body := c.Do("GET", "/api/v1/events?limit=100", nil)
	if code != 200 {
		t.Fatalf("events: %d %s", code, body)
	}
	if err := json.Unmarshal(body, &events); err != nil {
		t.Fatalf("events: %v: %s", err, body)
	}
	// The five newest are kept; the first admin's creation and the
	// login come after.
	recent := 0
	for _, e := range events {
		switch e.Actor {
		case "old":
			t.Fatalf("an event older than keep_days survived: %+v", e)
		case "recent":
			recent++
		}
	}
	if recent != 5 || len(events) != 7 {
		t.Fatalf("%d events (%d recent) after start with keep = 5: %+v", len(events), recent, events)
	}
}

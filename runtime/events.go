package runtime

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	mclient "github.com/moby/moby/client"
)

// ContainerEvent is something that happened to one of kaj's containers.
type ContainerEvent struct {
	// Action is the engine's: die, start, restart, oom, health_status...
	Action    string
	Container string // ID
	Name      string
	App       string
	Role      Role
	Release   string
	// ExitCode is the exit status on die; -1 when the engine gave none.
	ExitCode int
	// Labels are every label of the container: a test filters by its own.
	Labels map[string]string
	Time   time.Time
}

// WatchEvents delivers the engine's container events for this instance's
// containers (die, oom, start) until ctx ends (nil) or the stream fails.
// It is one engine subscription however many events it delivers; the
// caller reconnects after an error.
func (d *Docker) WatchEvents(ctx context.Context, emit func(ContainerEvent)) error {
	f := d.filters(nil).Add("type", "container").Add("event", "die", "oom", "start")
	res := d.cli.Events(ctx, mclient.EventsListOptions{Filters: f})
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-res.Err:
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return engineError("watching the engine's events", err)
		case m := <-res.Messages:
			attrs := m.Actor.Attributes
			if !d.owns(attrs) {
				continue
			}
			e := ContainerEvent{
				Action: string(m.Action), Container: m.Actor.ID, Name: attrs["name"], App: attrs[LabelApp],
				Role: Role(attrs[LabelRole]), Release: attrs[LabelRelease], ExitCode: -1, Labels: attrs,
				Time: time.Unix(0, m.TimeNano),
			}
			if v, ok := attrs["exitCode"]; ok {
				if n, err := strconv.Atoi(v); err == nil {
					e.ExitCode = n
				}
			}
			emit(e)
		}
	}
}

package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	mclient "github.com/moby/moby/client"
)

// SwarmLogs reads the logs of a swarm's tasks through the manager: a
// container of the manager's own engine as Docker.Logs does, any other
// ID as a task's, whichever node runs it. It is safe for concurrent use.
type SwarmLogs struct{ D *Docker }

// Logs is Docker.Logs for containers and tasks alike.
func (s SwarmLogs) Logs(ctx context.Context, id string, opts LogOptions, emit func(LogLine) error) error {
	return s.LogBatches(ctx, id, opts, func(batch []LogLine) error {
		for _, l := range batch {
			if err := emit(l); err != nil {
				return err
			}
		}
		return nil
	})
}

// LogBatches is Docker.LogBatches for containers and tasks alike.
func (s SwarmLogs) LogBatches(ctx context.Context, id string, opts LogOptions, emit func([]LogLine) error) error {
	err := s.D.LogBatches(ctx, id, opts, emit)
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	return s.D.TaskLogBatches(ctx, id, opts, emit)
}

// TaskLogBatches delivers a swarm task's log lines like LogBatches: the
// manager fetches them from the task's node. A task of a service kaj did
// not create is ErrNotFound.
func (d *Docker) TaskLogBatches(ctx context.Context, taskID string, opts LogOptions, emit func([]LogLine) error) error {
	if opts.Tail < 0 {
		return invalid("LogOptions.Tail", strconv.Itoa(opts.Tail), "a tail is a number of lines; zero means all")
	}
	t, err := d.cli.TaskInspect(ctx, taskID, mclient.TaskInspectOptions{})
	if err != nil {
		return engineError("inspecting task "+taskID, err)
	}
	if cs := t.Task.Spec.ContainerSpec; cs == nil || !d.owns(cs.Labels) {
		return fmt.Errorf("task %s: %w: not one of kaj's", taskID, ErrNotFound)
	}
	o := mclient.TaskLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: opts.Follow, Tail: "all"}
	if !opts.Since.IsZero() {
		o.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	if opts.Tail > 0 {
		o.Tail = strconv.Itoa(opts.Tail)
	}
	rc, err := d.cli.TaskLogs(ctx, taskID, o)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return engineError("reading logs of task "+taskID, err)
	}
	defer rc.Close()
	var emitErr error
	err = readMuxed(rc, func(b []LogLine) error {
		if err := emit(b); err != nil {
			emitErr = err
			return err
		}
		return nil
	})
	switch {
	case emitErr != nil:
		return emitErr
	case ctx.Err() != nil:
		return nil
	case err != nil:
		return fmt.Errorf("reading logs of task %s: %w", taskID, err)
	}
	return nil
}

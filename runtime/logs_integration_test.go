package runtime_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/runtime"
)

// TestDocker_Logs_follow: following delivers stdout and stderr lines as
// they are written, in order, with the engine's times, and ends cleanly
// on cancel and when the container stops.
func TestDocker_Logs_follow(t *testing.T) {
	t.Parallel()
	d, env := engine(t)
	ctx := t.Context()
	web, err := d.StartApp(ctx, runtime.AppSpec{App: env.Name("logs"), Release: "1", Image: env.TestAppImage(), Port: 8080, Labels: env.Labels()})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitHealthy(ctx, web, runtime.HealthOptions{Path: "/healthz", Backoff: quick}); err != nil {
		t.Fatal(err)
	}

	follow := func(ctx context.Context, opts runtime.LogOptions) (<-chan runtime.LogLine, <-chan error) {
		lines, done := make(chan runtime.LogLine, 100), make(chan error, 1)
		go func() {
			done <- d.Logs(ctx, web.ID, opts, func(l runtime.LogLine) error { lines <- l; return nil })
		}()
		return lines, done
	}
	next := func(lines <-chan runtime.LogLine, prefix string) runtime.LogLine {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l := <-lines:
				if strings.HasPrefix(l.Text, prefix) {
					return l
				}
			case <-timeout:
				t.Fatalf("no line %q within 10s", prefix)
			}
		}
	}

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now().Add(-time.Second) // the engine's clock is this machine's
	lines, done := follow(fctx, runtime.LogOptions{Follow: true, Since: time.Now()})
	want := []struct {
		stream runtime.Stream
		text   string
	}{{runtime.Stdout, "first"}, {runtime.Stderr, "second"}, {runtime.Stdout, "third"}, {runtime.Stderr, "fourth"}}
	var got []runtime.LogLine
	// Each line is written only once the previous one arrived, so the
	// order across the two streams is the order of writing.
	for _, w := range want {
		post(t, web, fmt.Sprintf("/log?stream=%s&text=%s", w.stream, w.text))
		got = append(got, next(lines, w.text))
	}
	for i, w := range want {
		l := got[i]
		if l.Stream != w.stream || l.Text != w.text+" 1" {
			t.Errorf("line %d = %+v, want %s %q", i, l, w.stream, w.text+" 1")
		}
		if l.Time.Before(start) || l.Time.After(time.Now().Add(time.Second)) {
			t.Errorf("line %d time %v is not the engine's time of writing", i, l.Time)
		}
		if i > 0 && l.Time.Before(got[i-1].Time) {
			t.Errorf("line %d time %v is before line %d's %v", i, l.Time, i-1, got[i-1].Time)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Logs after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Logs did not return after cancel")
	}

	// The backlog holds the same lines in the same order.
	var tail []string
	if err := d.Logs(ctx, web.ID, runtime.LogOptions{Tail: 4}, func(l runtime.LogLine) error {
		tail = append(tail, string(l.Stream)+":"+l.Text)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(tail, ",") != "stdout:first 1,stderr:second 1,stdout:third 1,stderr:fourth 1" {
		t.Errorf("tail = %v", tail)
	}

	// Following ends when the container stops.
	lines, done = follow(ctx, runtime.LogOptions{Follow: true, Tail: 1})
	if err := d.Stop(ctx, web.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	next(lines, "shutting down")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Logs after stop = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Logs did not return after the container stopped")
	}
}

package deploy

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestDeployer_Hold: with stopApp the app containers stop (never the
// database), the app is claimed meanwhile, and they start again after,
// even when the work failed; without it nothing stops.
func TestDeployer_Hold(t *testing.T) {
	d, rt, _ := setup(t)
	if _, err := d.Deploy(context.Background(), "blog", "ann", nil); err != nil {
		t.Fatal(err)
	}
	rt.calls = nil
	boom := errors.New("restore failed")
	err := d.Hold(context.Background(), "blog", true, func(ctx context.Context) error {
		if !d.Busy("blog") {
			t.Error("the app is not claimed during Hold")
		}
		if _, err := d.Deploy(ctx, "blog", "ann", nil); !errors.Is(err, ErrBusy) {
			t.Errorf("a deploy during Hold: %v; want ErrBusy", err)
		}
		if s := rt.containers["blog-r1"]; s.State != "exited" {
			t.Errorf("the app container is %s during Hold; want it stopped", s.State)
		}
		if s := rt.containers["db-blog"]; s.State != "running" {
			t.Errorf("the database is %s during Hold; want it running", s.State)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Hold returned %v; want the work's error", err)
	}
	if want := []string{"stop blog-r1", "start blog-r1"}; !slices.Equal(rt.calls, want) {
		t.Fatalf("engine calls %v; want %v", rt.calls, want)
	}
	if d.Busy("blog") {
		t.Fatal("the app is still claimed after Hold")
	}
	rt.calls = nil
	if err := d.Hold(context.Background(), "blog", false, func(context.Context) error { return nil }); err != nil || len(rt.calls) != 0 {
		t.Fatalf("Hold keeping the app serving: %v, calls %v", err, rt.calls)
	}
}

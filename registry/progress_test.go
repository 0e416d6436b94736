package registry

import (
	"testing"
)

func TestTracker_monotonicAndThinned(t *testing.T) {
	var got []Progress
	tr := newTracker(func(p Progress) { got = append(got, p) })
	const total = 10 << 20
	tr.update(0, "", PhasePreparing, 0, 0)
	count := tr.counter(0, "sha256:a", PhaseUploading, total)
	for n := int64(0); n <= total; n += 32 << 10 {
		count(n)
	}
	// A retry counts from zero again; that must not show.
	for n := int64(0); n <= total/2; n += 32 << 10 {
		count(n)
	}
	tr.update(0, "sha256:a", PhaseDone, total, total)

	if len(got) > 110 {
		t.Errorf("%d events for one 10 MiB layer, want about a hundred at most", len(got))
	}
	checkProgress(t, got, map[int]int64{0: total})
}

func TestTracker_nilFunc(t *testing.T) {
	tr := newTracker(nil)
	tr.update(0, "x", PhaseDone, 1, 1)
	tr.counter(1, "y", PhaseUploading, 5)(3)
}

// checkProgress asserts the ProgressFunc contract on events: per layer,
// Done never decreases and never exceeds a known Total, and the last event
// ends the layer at its total (want maps layer index to total).
func checkProgress(t *testing.T, events []Progress, want map[int]int64) {
	t.Helper()
	last := map[int]Progress{}
	for _, e := range events {
		if p, ok := last[e.Index]; ok && e.Done < p.Done {
			t.Errorf("layer %d: Done went from %d down to %d", e.Index, p.Done, e.Done)
		}
		if e.Total > 0 && e.Done > e.Total {
			t.Errorf("layer %d: Done %d beyond Total %d", e.Index, e.Done, e.Total)
		}
		last[e.Index] = e
	}
	if len(last) != len(want) {
		t.Errorf("events for %d layers, want %d", len(last), len(want))
	}
	for i, total := range want {
		e, ok := last[i]
		switch {
		case !ok:
			t.Errorf("layer %d: no events", i)
		case e.Phase != PhaseDone && e.Phase != PhaseExists:
			t.Errorf("layer %d: last phase %q, want done or exists", i, e.Phase)
		case e.Done != total || e.Total != total:
			t.Errorf("layer %d: ends at %d/%d, want %d/%d", i, e.Done, e.Total, total, total)
		case e.Layer == "":
			t.Errorf("layer %d: last event has no digest", i)
		}
	}
}

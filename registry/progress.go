package registry

import (
	"io"
	"sync"
)

// Phase is what is happening to one layer.
type Phase string

// The phases of a layer. A pull goes downloading → extracting → done (or
// straight to exists); a push goes preparing → uploading → done (or
// exists).
const (
	// PhasePreparing: the layer is being read from the engine and
	// compressed; its blob digest and size are not known yet.
	PhasePreparing Phase = "preparing"
	// PhaseUploading: Done bytes of the compressed layer are sent.
	PhaseUploading Phase = "uploading"
	// PhaseDownloading: Done bytes of the compressed layer are received.
	PhaseDownloading Phase = "downloading"
	// PhaseExtracting: the engine is unpacking the downloaded layer.
	PhaseExtracting Phase = "extracting"
	// PhaseExists: nothing to transfer, the target already holds the
	// layer (or the registry mounted it from another repository).
	PhaseExists Phase = "exists"
	// PhaseDone: the layer is transferred and in place.
	PhaseDone Phase = "done"
)

// Progress is one event about one layer of an image being pulled or
// pushed. For each layer (by Index) Done never decreases, and the last
// event has Phase PhaseDone or PhaseExists with Done == Total. It holds no
// references to internal state, so it can be sent to other goroutines or
// marshalled to JSON as it is.
type Progress struct {
	// Index is the layer's position in the image, 0 for the base layer.
	Index int `json:"index"`
	// Layer is the digest of the compressed layer blob; empty while a
	// push is still preparing the layer.
	Layer string `json:"layer,omitempty"`
	Phase Phase  `json:"phase"`
	// Done and Total are bytes of the compressed blob; Total is zero
	// while unknown.
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// ProgressFunc receives progress events. Calls never overlap and come in
// order, but may come from different goroutines; the function should
// return quickly (hand the event to a channel or a websocket writer),
// since a transfer waits for it.
type ProgressFunc func(Progress)

// tracker turns byte counts from concurrent transfers into the ordered,
// monotonic, thinned-out events ProgressFunc promises.
type tracker struct {
	fn      ProgressFunc
	mu      sync.Mutex
	last    map[int]Progress
	emitted map[int]int64
}

func newTracker(fn ProgressFunc) *tracker {
	return &tracker{fn: fn, last: map[int]Progress{}, emitted: map[int]int64{}}
}

// minStep is the smallest byte advance worth an event: about a hundred
// events per layer, and none for every 32 KiB read of a big one.
func minStep(total int64) int64 {
	const floor = 256 << 10
	if s := total / 100; s > floor {
		return s
	}
	return floor
}

// update records that layer i is at done bytes of total in phase p, and
// emits an event unless it would only repeat or inch past the last one.
func (t *tracker) update(i int, layer string, p Phase, done, total int64) {
	if t == nil || t.fn == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, seen := t.last[i]
	if layer == "" {
		layer = prev.Layer
	}
	if total == 0 {
		total = prev.Total
	}
	if done < prev.Done {
		// A retried transfer counts again from zero.
		done = prev.Done
	}
	if total > 0 && done > total {
		done = total
	}
	if p == PhaseDone || p == PhaseExists {
		done = total
	}
	ev := Progress{Index: i, Layer: layer, Phase: p, Done: done, Total: total}
	if seen && ev == prev {
		return
	}
	t.last[i] = ev
	sameStretch := seen && prev.Phase == p && prev.Layer == layer && prev.Total == total
	if sameStretch && (total == 0 || done < total) && done-t.emitted[i] < minStep(total) {
		return
	}
	t.emitted[i] = done
	t.fn(ev)
}

// counter returns a function for counting bytes of layer i in phase p.
func (t *tracker) counter(i int, layer string, p Phase, total int64) func(n int64) {
	return func(n int64) { t.update(i, layer, p, n, total) }
}

// countingReader reports the running byte count of what is read through it.
type countingReader struct {
	rc     io.ReadCloser
	n      int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.report(c.n)
	}
	return n, err
}

func (c *countingReader) Close() error { return c.rc.Close() }

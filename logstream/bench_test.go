package logstream

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkHub_fanout100 publishes batches of 500 lines to 100 viewers
// that each take what waits and encode it, as the websocket writer
// does; ns/op is per line published (100 deliveries).
func BenchmarkHub_fanout100(b *testing.B) {
	h := NewHub(nil, Options{})
	h.Publish("k")
	const viewers, batch = 100, 500
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	total := b.N / batch * batch
	for range viewers {
		s, _ := h.Subscribe(ctx, "k", 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var segs [][]Line
			var buf []byte
			got := 0
			for got < total {
				var err error
				var skipped uint64
				segs, skipped, err = s.Next(ctx, segs[:0], 1024)
				if err != nil {
					return
				}
				buf = buf[:0]
				got += int(skipped)
				for _, seg := range segs {
					for i := range seg {
						buf = seg[i].AppendJSON(buf)
					}
					got += len(seg)
				}
			}
		}()
	}
	now := time.Now()
	lines := make([]Line, batch)
	for i := range lines {
		lines[i] = Line{Stream: "stdout", Time: now, Text: fmt.Sprintf("flood %d 1764600000000000000", i)}
	}
	b.ResetTimer()
	for i := 0; i < total; i += batch {
		h.Publish("k", lines...)
	}
	wg.Wait()
}

package registry

import "testing"

func TestNew_gzipLevel(t *testing.T) {
	for _, c := range []struct {
		level, want int
		ok          bool
	}{{0, 1, true}, {6, 6, true}, {9, 9, true}, {-1, 0, false}, {10, 0, false}} {
		cl, err := New(Options{GzipLevel: c.level})
		if (err == nil) != c.ok {
			t.Errorf("GzipLevel %d: err = %v", c.level, err)
			continue
		}
		if c.ok && cl.gzipLevel != c.want {
			t.Errorf("GzipLevel %d: compresses at %d, want %d", c.level, cl.gzipLevel, c.want)
		}
	}
}

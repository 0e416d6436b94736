package logstream

import "time"

// repeatFilter drops what the engine sends a second time. Following a
// json-file log that rotates, the engine can read a stretch of the log
// again; those lines' timestamps are older than lines already passed on.
// The engine stamps each of a container's streams in order, so on one
// stream a timestamp going backwards can only be such a repeat.
type repeatFilter struct {
	last      map[string]time.Time // newest time passed on, per stream
	replaying map[string]bool      // within a repeated stretch
	dropped   uint64               // repeats not yet reported
	resumed   bool                 // following again: lines up to last are expected, not news
}

// resume says the hub follows again from the newest line passed on: the
// lines at that instant come again, and are dropped without a word.
func (f *repeatFilter) resume() {
	f.resumed = true
	for s := range f.last {
		f.replaying[s] = true
	}
}

// filter drops repeated lines from batch in place, and marks the first
// line after them with how many went.
func (f *repeatFilter) filter(batch []Line) []Line {
	if f.last == nil {
		f.last, f.replaying = map[string]time.Time{}, map[string]bool{}
	}
	kept := batch[:0]
	for _, l := range batch {
		last, seen := f.last[l.Stream]
		switch {
		case l.Time.IsZero(): // no timestamp to judge by
			l.Repeats = f.dropped
			f.dropped = 0
			kept = append(kept, l)
			continue
		case !seen || l.Time.After(last):
			f.replaying[l.Stream] = false
		case l.Time.Before(last):
			f.replaying[l.Stream] = true
			if !f.resumed {
				f.dropped++
			}
			continue
		case f.replaying[l.Stream]:
			// The same instant as the newest line passed on, within a
			// repeat: the newest line itself, sent again.
			if !f.resumed {
				f.dropped++
			}
			continue
		}
		f.resumed = false
		f.last[l.Stream] = l.Time
		l.Repeats = f.dropped
		f.dropped = 0
		kept = append(kept, l)
	}
	return kept
}

package store

import (
	"encoding/json"
	"time"
)

// Event is one entry of the audit trail: who did what to which object.
type Event struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action Action    `json:"action"`
	Target string    `json:"target,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// AddEvent appends e to the trail, numbering and timestamping it.
func (t *Tx) AddEvent(e Event) (Event, error) {
	b := t.tx.Bucket(bucketEvents)
	seq, err := b.NextSequence()
	if err != nil {
		return Event{}, err
	}
	e.Seq = seq
	if e.Time.IsZero() {
		e.Time = t.s.now().UTC()
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return Event{}, err
	}
	return e, b.Put(u64key(seq), raw)
}

// Events returns up to limit events older than before (zero means from
// the newest), newest first.
func (t *Tx) Events(before uint64, limit int) ([]Event, error) {
	out := []Event{}
	c := t.tx.Bucket(bucketEvents).Cursor()
	var k, v []byte
	if before == 0 {
		k, v = c.Last()
	} else {
		if k, _ = c.Seek(u64key(before)); k == nil {
			k, v = c.Last()
			if k != nil && string(k) >= string(u64key(before)) {
				k, v = nil, nil
			}
		} else {
			k, v = c.Prev()
		}
	}
	for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// AddEvent appends one event in its own transaction.
func (s *Store) AddEvent(e Event) (out Event, err error) {
	err = s.Update(func(t *Tx) error { out, err = t.AddEvent(e); return err })
	return out, err
}

// Events lists events newest first; see Tx.Events.
func (s *Store) Events(before uint64, limit int) (out []Event, err error) {
	err = s.View(func(t *Tx) error { out, err = t.Events(before, limit); return err })
	return out, err
}

// PruneEvents deletes the oldest events: those stamped before cutoff
// (a zero cutoff keeps any age), then as many more as it takes to leave
// at most keep (zero or less keeps any number). It returns how many it
// deleted. The trail is pruned from its oldest end only, so what is left
// is always one unbroken stretch up to the newest event.
func (t *Tx) PruneEvents(cutoff time.Time, keep int) (int, error) {
	b := t.tx.Bucket(bucketEvents)
	over := 0
	if keep > 0 {
		over = b.Stats().KeyN - keep
	}
	var doomed [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(doomed) >= over {
			if cutoff.IsZero() {
				break
			}
			var e struct {
				Time time.Time `json:"time"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return 0, err
			}
			if !e.Time.Before(cutoff) {
				break
			}
		}
		doomed = append(doomed, append([]byte(nil), k...))
	}
	for _, k := range doomed {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(doomed), nil
}

// PruneEvents prunes the trail in its own transaction; see
// Tx.PruneEvents. maxAge zero keeps events of any age.
func (s *Store) PruneEvents(maxAge time.Duration, keep int) (n int, err error) {
	var cutoff time.Time
	if maxAge > 0 {
		cutoff = s.now().Add(-maxAge)
	}
	err = s.Update(func(t *Tx) error { n, err = t.PruneEvents(cutoff, keep); return err })
	return n, err
}

// RewriteEvents calls fn on every event, oldest first, and stores the
// event it returns when it says so: how kaj masks what older versions
// recorded in the clear. Seq and Time are kept whatever fn returns. It
// returns how many events it rewrote.
func (t *Tx) RewriteEvents(fn func(Event) (Event, bool)) (int, error) {
	b := t.tx.Bucket(bucketEvents)
	type change struct {
		k []byte
		v []byte
	}
	var changes []change
	err := b.ForEach(func(k, v []byte) error {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		out, ok := fn(e)
		if !ok {
			return nil
		}
		out.Seq, out.Time = e.Seq, e.Time
		raw, err := json.Marshal(out)
		if err != nil {
			return err
		}
		changes = append(changes, change{append([]byte(nil), k...), raw})
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Written after the walk: bbolt forbids changing a bucket that
	// ForEach is walking.
	for _, c := range changes {
		if err := b.Put(c.k, c.v); err != nil {
			return 0, err
		}
	}
	return len(changes), nil
}

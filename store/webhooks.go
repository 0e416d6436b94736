package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketDeliveries holds one nested bucket per app: webhook delivery IDs
// already accepted, keyed by ID, valued by the time they came.
var bucketDeliveries = []byte("webhook_deliveries")

// keepDeliveries bounds each app's remembered delivery IDs. Forges
// redeliver within hours, not after hundreds of pushes, so a replay of an
// ID older than this many is far outside any redelivery window.
const keepDeliveries = 500

// migrateWebhookDeliveries adds the delivery bucket. Self-contained so it
// can be renumbered at merge.
func migrateWebhookDeliveries(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketDeliveries)
	return err
}

// RecordDelivery remembers a webhook delivery ID for app. It returns
// ErrConflict when the ID was recorded before: the request is a replay.
func (t *Tx) RecordDelivery(app, id string) error {
	if id == "" {
		return nil
	}
	root := t.tx.Bucket(bucketDeliveries)
	if root == nil {
		return fmt.Errorf("webhook deliveries: %w (the data file predates them; restart kaj to migrate)", ErrNotFound)
	}
	b, err := root.CreateBucketIfNotExists([]byte(app))
	if err != nil {
		return err
	}
	if b.Get([]byte(id)) != nil {
		return fmt.Errorf("webhook delivery %q: %w: it was received before", id, ErrConflict)
	}
	raw, err := json.Marshal(t.s.now().UTC())
	if err != nil {
		return err
	}
	if err := b.Put([]byte(id), raw); err != nil {
		return err
	}
	if n := b.Stats().KeyN; n > keepDeliveries {
		return pruneDeliveries(b, n-keepDeliveries)
	}
	return nil
}

// pruneDeliveries deletes the n oldest deliveries of one app.
func pruneDeliveries(b *bolt.Bucket, n int) error {
	type entry struct {
		k []byte
		t time.Time
	}
	var all []entry
	if err := b.ForEach(func(k, v []byte) error {
		var at time.Time
		_ = json.Unmarshal(v, &at)
		all = append(all, entry{append([]byte(nil), k...), at})
		return nil
	}); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		oldest := i
		for j := i + 1; j < len(all); j++ {
			if all[j].t.Before(all[oldest].t) {
				oldest = j
			}
		}
		all[i], all[oldest] = all[oldest], all[i]
		if err := b.Delete(all[i].k); err != nil {
			return err
		}
	}
	return nil
}

// ForgetDelivery drops a recorded delivery ID, so a redelivery of a
// request kaj could not act on is accepted.
func (s *Store) ForgetDelivery(app, id string) error {
	if id == "" {
		return nil
	}
	return s.Update(func(t *Tx) error {
		root := t.tx.Bucket(bucketDeliveries)
		if root == nil || root.Bucket([]byte(app)) == nil {
			return nil
		}
		return root.Bucket([]byte(app)).Delete([]byte(id))
	})
}

// RecordDelivery remembers a delivery in its own transaction.
func (s *Store) RecordDelivery(app, id string) error {
	return s.Update(func(t *Tx) error { return t.RecordDelivery(app, id) })
}

package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketLegacy = []byte("legacy-names")
	keyInstance  = []byte("instance")
)

// LegacyNames are the engine names of an app's objects made before kaj
// put its instance ID in the names and labels of what it creates. The
// upgrade to schema 8 records them for every app (and every app whose
// volume was kept), so those objects keep working without being renamed
// or recreated; an app deleted with its data loses them.
type LegacyNames struct {
	Network  string `json:"network"`
	Database string `json:"database"`
	Volume   string `json:"volume"`
	// Prefix starts the name of each of the app's containers.
	Prefix string `json:"prefix"`
}

// legacyNames are the names kaj gave app's objects before instance IDs;
// its database volume was the definition's, <app>-data by default.
func legacyNames(app, volume string) LegacyNames {
	if volume == "" {
		volume = app + "-data"
	}
	return LegacyNames{Network: "kaj-" + app, Database: "kaj-" + app + "-db", Volume: volume, Prefix: "kaj-" + app + "-r"}
}

// newInstanceID is 6 hex digits: enough to tell apart the few kaj
// instances that share an engine, short enough for every name.
func newInstanceID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// migrateInstance (7 -> 8) gives the data file its instance ID and
// records the names of the engine objects its apps already have.
func migrateInstance(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if meta.Get(keyInstance) == nil {
		if err := meta.Put(keyInstance, []byte(newInstanceID())); err != nil {
			return err
		}
	}
	lb, err := tx.CreateBucketIfNotExists(bucketLegacy)
	if err != nil {
		return err
	}
	volumes := map[string]string{} // app -> its database volume, "" when none
	kept, err := list[keptVolumeRecord](tx.Bucket(bucketVolumes))
	if err != nil {
		return err
	}
	for _, k := range kept {
		volumes[k.App] = k.Volume
	}
	apps, err := list[appRecord](tx.Bucket(bucketApps))
	if err != nil {
		return err
	}
	for _, a := range apps {
		volumes[a.Name] = ""
		if a.Database != nil {
			volumes[a.Name] = a.Database.Volume
		}
	}
	for app, vol := range volumes {
		if err := put(lb, app, legacyNames(app, vol)); err != nil {
			return err
		}
	}
	return nil
}

// Instance is this data file's instance ID, made on its first start: kaj
// puts it in the name and labels of every engine object it creates.
func (s *Store) Instance() (string, error) {
	var id string
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketMeta).Get(keyInstance)
		if raw == nil {
			return fmt.Errorf("instance ID: %w", ErrNotFound)
		}
		id = string(raw)
		return nil
	})
	return id, err
}

// Legacy returns the names recorded for app's objects from before
// instance IDs, and whether there are any (see LegacyNames).
func (s *Store) Legacy(app string) (LegacyNames, bool, error) {
	var (
		n     LegacyNames
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLegacy)
		if b == nil {
			return nil
		}
		v, err := get[LegacyNames](b, app)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		n, found = v, err == nil
		return err
	})
	return n, found, err
}

// forgetLegacy drops app's legacy names once its objects are gone.
func (t *Tx) forgetLegacy(app string) error {
	if b := t.tx.Bucket(bucketLegacy); b != nil {
		return b.Delete([]byte(app))
	}
	return nil
}

// keySwarm records whether kaj last ran its apps on a swarm: "true" or
// "false".
var keySwarm = []byte("swarm")

// LastSwarm reports whether kaj last ran on a swarm, and whether that was
// ever recorded: what kaj goes on with when its engine does not say at
// start.
func (s *Store) LastSwarm() (swarm, known bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketMeta).Get(keySwarm)
		swarm, known = string(raw) == "true", raw != nil
		return nil
	})
	return swarm, known, err
}

// SetLastSwarm records whether kaj runs its apps on a swarm.
func (s *Store) SetLastSwarm(swarm bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySwarm, []byte(strconv.FormatBool(swarm)))
	})
}

// Done reports whether the one-off step named step already ran on this
// data file: work that mends what an older kaj stored runs once, not at
// every start.
func (s *Store) Done(step string) (bool, error) {
	var done bool
	err := s.db.View(func(tx *bolt.Tx) error {
		done = tx.Bucket(bucketMeta).Get([]byte("done:"+step)) != nil
		return nil
	})
	return done, err
}

// MarkDone records that the one-off step named step ran.
func (s *Store) MarkDone(step string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("done:"+step), []byte("1"))
	})
}

package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket names. Releases are nested: one bucket per app inside releases.
var (
	bucketMeta        = []byte("meta")
	bucketApps        = []byte("apps")
	bucketReleases    = []byte("releases")
	bucketCredentials = []byte("credentials")
	bucketUsers       = []byte("users")
	bucketSessions    = []byte("sessions")
	bucketTokens      = []byte("tokens")
	bucketEvents      = []byte("events")
	bucketVolumes     = []byte("volumes")
	bucketCerts       = []byte("certificates")
	bucketBackups     = []byte("backups")

	keySchema = []byte("schema")
	keyCanary = []byte("key-check")
)

// Options configure Open.
type Options struct {
	// Key seals secrets; it must be KeySize bytes. Required.
	Key []byte
	// LockTimeout is how long Open waits for another process to release
	// the file. Zero means 3 seconds: long enough to ride out a restart,
	// short enough that a second kaj fails visibly instead of hanging.
	LockTimeout time.Duration
	// Now is the clock for timestamps. Nil means time.Now.
	Now func() time.Time
}

// Store is an open data file. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	seal *sealer
	now  func() time.Time
}

// Open opens or creates the data file at path, creating its directory with
// mode 0700, and migrates it to the current schema. It returns ErrInUse
// when another process holds the file.
func Open(path string, opts Options) (*Store, error) {
	sl, err := newSealer(opts.Key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("opening %s: %w (stop it, or give this one another --data directory)", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s := &Store{db: db, seal: sl, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if err := db.Update(migrate); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := db.Update(s.checkKey); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return s, nil
}

// checkKey makes sure the key opens this file's secrets: a value sealed
// on first open must open again. A restored file with a lost or wrong key
// then fails at start, not at the first deploy, and never ends up holding
// secrets under two keys.
func (s *Store) checkKey(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	const context = "meta/key-check"
	if sealed := meta.Get(keyCanary); sealed != nil {
		if _, err := s.seal.open(sealed, context); err != nil {
			return fmt.Errorf("%w: this data file was written with another key; restore its key file (or data.secret_key)", ErrSealed)
		}
		return nil
	}
	sealed, err := s.seal.seal("kaj", context)
	if err != nil {
		return err
	}
	return meta.Put(keyCanary, sealed)
}

// Close releases the file. Transactions still running finish first.
func (s *Store) Close() error { return s.db.Close() }

// Path is the file's location.
func (s *Store) Path() string { return s.db.Path() }

// Ping checks that the file answers a read.
func (s *Store) Ping() error {
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("store: meta bucket missing")
		}
		return nil
	})
}

// Tx is one transaction. Its methods are valid only inside the closure
// given to View or Update.
type Tx struct {
	tx *bolt.Tx
	s  *Store
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, s: s}) })
}

// Update runs fn in a read-write transaction: everything fn writes is
// committed together when it returns nil, and nothing when it returns an
// error.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx, s: s}) })
}

// SchemaVersion is the layout this kaj writes.
const SchemaVersion = 8

// migrations[i] moves a file from schema i to i+1. Append, never edit.
var migrations = []func(*bolt.Tx) error{
	func(tx *bolt.Tx) error { // 0 -> 1: the initial buckets
		for _, b := range [][]byte{bucketApps, bucketReleases, bucketCredentials, bucketUsers, bucketSessions, bucketTokens, bucketEvents} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	},
	func(tx *bolt.Tx) error { // 1 -> 2: database volumes kept after their app
		_, err := tx.CreateBucketIfNotExists(bucketVolumes)
		return err
	},
	func(tx *bolt.Tx) error { // 2 -> 3: kept volume credentials keyed by their app, not by volume name
		b := tx.Bucket(bucketVolumes)
		recs, err := list[keptVolumeRecord](b)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := b.Delete([]byte(r.Volume)); err != nil {
				return err
			}
		}
		for _, r := range recs {
			if err := put(b, r.App, r); err != nil {
				return err
			}
		}
		return nil
	},
	func(tx *bolt.Tx) error { // 3 -> 4: uploaded TLS certificates
		_, err := tx.CreateBucketIfNotExists(bucketCerts)
		return err
	},
	func(tx *bolt.Tx) error { // 4 -> 5: database backups
		_, err := tx.CreateBucketIfNotExists(bucketBackups)
		return err
	},
	migrateNotify,            // 5 -> 6: notification targets (store/notify.go)
	migrateWebhookDeliveries, // 6 -> 7: webhook delivery IDs, for replay refusal
	migrateInstance,          // 7 -> 8: the instance ID, and the names of the engine objects made before it (store/instance.go)
}

func migrate(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	v := 0
	if raw := meta.Get(keySchema); raw != nil {
		if v, err = strconv.Atoi(string(raw)); err != nil {
			return fmt.Errorf("reading schema version %q: %w", raw, err)
		}
	}
	if v > SchemaVersion {
		return fmt.Errorf("%w (schema %d, this kaj knows up to %d): upgrade kaj", ErrSchemaTooNew, v, SchemaVersion)
	}
	for ; v < SchemaVersion; v++ {
		if err := migrations[v](tx); err != nil {
			return fmt.Errorf("migrating schema %d to %d: %w", v, v+1, err)
		}
	}
	return meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
}

func get[T any](b *bolt.Bucket, key string) (T, error) {
	var v T
	raw := b.Get([]byte(key))
	if raw == nil {
		return v, ErrNotFound
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("decoding %s: %w", key, err)
	}
	return v, nil
}

func put(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", key, err)
	}
	return b.Put([]byte(key), raw)
}

func list[T any](b *bolt.Bucket) ([]T, error) {
	out := []T{}
	err := b.ForEach(func(k, raw []byte) error {
		if raw == nil { // nested bucket
			return nil
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decoding %s: %w", k, err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func u64key(n uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, n)
	return k
}

// Generation identifies the state a read transaction sees: it changes
// with every committed write, so a reader may keep what it decoded for as
// long as the generation stays the same.
func (t *Tx) Generation() uint64 { return uint64(t.tx.ID()) }

package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Release states.
const (
	ReleasePending     = "pending"     // recorded, deploy running
	ReleaseLive        = "live"        // serving
	ReleaseFailed      = "failed"      // deploy failed; the previous release kept serving
	ReleaseSuperseded  = "superseded"  // was live, replaced by a newer release
	ReleaseInterrupted = "interrupted" // kaj stopped while it was pending
)

// Release is one deploy of an app.
type Release struct {
	App    string `json:"app"`
	Number uint64 `json:"number"`
	Image  string `json:"image"`
	// Digest is what Image resolved to, as a reference that names it
	// exactly: repo@sha256:... for registry images, the image ID for
	// images only the engine has. A rollback deploys it.
	Digest string `json:"digest,omitempty"`
	// Env is the app's env at deploy time; secret values are empty when
	// read back (they are kept sealed; see Tx.RevealRelease).
	Env []EnvVar `json:"env,omitempty"`
	// Definition is the whole definition the release ran; nil on
	// releases recorded before kaj kept it (they hold Image and Env only).
	Definition *Definition `json:"definition,omitempty"`
	// Build records how the image was built, for a release built from
	// source; nil for an image deploy.
	Build       *Build     `json:"build,omitempty"`
	Status      string     `json:"status"`
	Error       string     `json:"error,omitempty"`
	Steps       []Step     `json:"steps,omitempty"`
	ContainerID string     `json:"container_id,omitempty"`
	Rollback    uint64     `json:"rollback_of,omitempty"`
	CreatedBy   string     `json:"created_by,omitempty"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Version     uint64     `json:"version"`
	// Stopped are the serving containers this deploy (or a restart of
	// the live release) stopped to free a fixed host port, until it ends:
	// a kaj killed meanwhile starts them again when it reconciles.
	Stopped []string `json:"stopped,omitempty"`

	// Snapshot is the ID of the backup of the app's database taken as the
	// deploy's first step (snapshot before deploy); empty when none was.
	// It holds the data as the release before this one left it.
	Snapshot string `json:"snapshot,omitempty"`

	// Unsettled, while set, says the release went live with its
	// stability window still to pass: pruning, and a rollback's
	// definition going back on the app, wait for the window, so that a
	// release failing it leaves the app as it was. Reconcile settles a
	// release whose window kaj did not see end.
	Unsettled *Unsettled `json:"unsettled,omitempty"`
}

// Unsettled is what settling a release needs to know of when it went
// live.
type Unsettled struct {
	// AppVersion is the app's version then: a rollback's definition does
	// not overwrite an edit made during the window.
	AppVersion uint64 `json:"app_version"`
}

// Step is one stage of a deploy as it was recorded.
type Step struct {
	Name       string     `json:"name"`
	Status     string     `json:"status"`
	Detail     string     `json:"detail,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

type releaseRecord struct {
	Release
	SealedEnv map[string][]byte `json:"sealed_env,omitempty"`
}

func releaseEnvContext(app string, n uint64, key string) string {
	return fmt.Sprintf("release/%s/%d/env/%s", app, n, key)
}

// CreateRelease records a new pending release of app, numbered after the
// last one, with a snapshot of the env it deploys (secrets re-sealed for
// the release): the app's current env, or, when r.Rollback names an
// earlier release, that release's env. It returns ErrNotFound for an
// unknown app or release.
func (t *Tx) CreateRelease(r Release) (Release, error) {
	rec, err := get[appRecord](t.tx.Bucket(bucketApps), r.App)
	if err != nil {
		return Release{}, fmt.Errorf("app %q: %w", r.App, err)
	}
	env, secrets := rec.Env, map[string]string{}
	if r.Rollback != 0 {
		from, err := t.releaseRecord(r.App, r.Rollback)
		if err != nil {
			return Release{}, err
		}
		if secrets, err = t.RevealRelease(r.App, r.Rollback); err != nil {
			return Release{}, err
		}
		env = from.Env
		if r.Definition == nil {
			r.Definition = from.Definition
		}
		if r.Image == "" {
			r.Image = from.Image
		}
		if r.Digest == "" {
			r.Digest = from.Digest
		}
		if r.Build == nil {
			r.Build = from.Build
		}
	} else {
		for _, e := range rec.Env {
			if e.Secret {
				if secrets[e.Name], err = t.s.seal.open(rec.SealedEnv[e.Name], appEnvContext(r.App, e.Name)); err != nil {
					return Release{}, fmt.Errorf("app %q env %s: %w", r.App, e.Name, err)
				}
			}
		}
	}
	b, err := t.tx.Bucket(bucketReleases).CreateBucketIfNotExists([]byte(r.App))
	if err != nil {
		return Release{}, err
	}
	if r.Number, err = b.NextSequence(); err != nil {
		return Release{}, err
	}
	if r.Image == "" {
		r.Image = rec.Image
	}
	if r.Definition == nil && r.Rollback == 0 {
		d := rec.App.Definition()
		r.Definition = &d
	}
	if r.Status == "" {
		r.Status = ReleasePending
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = t.s.now().UTC()
	}
	r.Version = 1
	r.Env = append([]EnvVar(nil), env...)
	out := releaseRecord{Release: r, SealedEnv: map[string][]byte{}}
	for k, plain := range secrets {
		if out.SealedEnv[k], err = t.s.seal.seal(plain, releaseEnvContext(r.App, r.Number, k)); err != nil {
			return Release{}, err
		}
	}
	return r, t.putRelease(b, out)
}

func (t *Tx) putRelease(b interface{ Put(k, v []byte) error }, rec releaseRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.Put(u64key(rec.Number), raw)
}

func (t *Tx) releaseRecord(app string, n uint64) (releaseRecord, error) {
	var rec releaseRecord
	b := t.tx.Bucket(bucketReleases).Bucket([]byte(app))
	if b == nil {
		return rec, fmt.Errorf("release %s#%d: %w", app, n, ErrNotFound)
	}
	raw := b.Get(u64key(n))
	if raw == nil {
		return rec, fmt.Errorf("release %s#%d: %w", app, n, ErrNotFound)
	}
	return rec, json.Unmarshal(raw, &rec)
}

// BuildCommit is the commit r was built from, or "".
func (r Release) BuildCommit() string {
	if r.Build == nil {
		return ""
	}
	return r.Build.Commit
}

// Def is the definition r ran: the recorded one, or, for a release
// recorded before definitions were kept, its image alone.
func (r Release) Def() Definition {
	if r.Definition != nil {
		return *r.Definition
	}
	return Definition{Image: r.Image}
}

// RestoreRelease makes app's stored definition and env those release n
// ran (its secrets sealed for the app again), as a rollback to n does
// once n serves. A release recorded before definitions were kept restores
// image and env only. It returns the app as stored.
func (t *Tx) RestoreRelease(app string, n uint64) (App, error) {
	rel, err := t.releaseRecord(app, n)
	if err != nil {
		return App{}, err
	}
	b := t.tx.Bucket(bucketApps)
	old, err := get[appRecord](b, app)
	if err != nil {
		return App{}, fmt.Errorf("app %q: %w", app, err)
	}
	secrets, err := t.RevealRelease(app, n)
	if err != nil {
		return App{}, err
	}
	a := old.App
	if rel.Definition != nil {
		a.Apply(*rel.Definition)
	} else {
		a.Image = rel.Image
	}
	a.Env = make([]EnvVar, len(rel.Env))
	for i, e := range rel.Env {
		a.Env[i] = e
		if e.Secret {
			a.Env[i].Value = secrets[e.Name]
		}
	}
	if a.Database != nil {
		a.Database.Password = "" // keeps the sealed one
	}
	a.Version++
	a.UpdatedAt = t.s.now().UTC()
	out, err := t.sealApp(a, old)
	if err != nil {
		return App{}, err
	}
	return out.App, put(b, app, out)
}

// Release reads one release.
func (t *Tx) Release(app string, n uint64) (Release, error) {
	rec, err := t.releaseRecord(app, n)
	return rec.Release, err
}

// UpdateRelease replaces a release's status, steps and results; its env
// snapshot is kept. r.Version must match, else ErrConflict.
func (t *Tx) UpdateRelease(r Release) (Release, error) {
	rec, err := t.releaseRecord(r.App, r.Number)
	if err != nil {
		return Release{}, err
	}
	if rec.Version != r.Version {
		return Release{}, fmt.Errorf("release %s#%d: %w: it was changed (version %d, yours %d)", r.App, r.Number, ErrConflict, rec.Version, r.Version)
	}
	r.Version++
	r.Env = rec.Env
	rec.Release = r
	return r, t.putRelease(t.tx.Bucket(bucketReleases).Bucket([]byte(r.App)), rec)
}

// Releases lists an app's releases, newest first, at most limit of them
// (zero means all).
func (t *Tx) Releases(app string, limit int) ([]Release, error) {
	out := []Release{}
	b := t.tx.Bucket(bucketReleases).Bucket([]byte(app))
	if b == nil {
		return out, nil
	}
	c := b.Cursor()
	for k, v := c.Last(); k != nil && (limit == 0 || len(out) < limit); k, v = c.Prev() {
		var rec releaseRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, fmt.Errorf("decoding release %s#%d: %w", app, binary.BigEndian.Uint64(k), err)
		}
		out = append(out, rec.Release)
	}
	return out, nil
}

// RevealRelease returns the plain-text secret env of a release.
func (t *Tx) RevealRelease(app string, n uint64) (map[string]string, error) {
	rec, err := t.releaseRecord(app, n)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, sealed := range rec.SealedEnv {
		if out[k], err = t.s.seal.open(sealed, releaseEnvContext(app, n, k)); err != nil {
			return nil, fmt.Errorf("release %s#%d env %s: %w", app, n, k, err)
		}
	}
	return out, nil
}

// PruneReleases deletes the oldest releases of app beyond keep, never a
// live or pending one. It returns how many it deleted.
func (t *Tx) PruneReleases(app string, keep int) (int, error) {
	b := t.tx.Bucket(bucketReleases).Bucket([]byte(app))
	if b == nil {
		return 0, nil
	}
	var doomed [][]byte
	c := b.Cursor()
	n := 0
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		n++
		var r Release
		if err := json.Unmarshal(v, &r); err != nil {
			return 0, err
		}
		if n <= keep || r.Status == ReleaseLive || r.Status == ReleasePending {
			continue
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

// CreateRelease records a new pending release in its own transaction.
func (s *Store) CreateRelease(r Release) (out Release, err error) {
	err = s.Update(func(t *Tx) error { out, err = t.CreateRelease(r); return err })
	return out, err
}

// UpdateRelease replaces a release in its own transaction.
func (s *Store) UpdateRelease(r Release) (out Release, err error) {
	err = s.Update(func(t *Tx) error { out, err = t.UpdateRelease(r); return err })
	return out, err
}

// Release reads one release.
func (s *Store) Release(app string, n uint64) (out Release, err error) {
	err = s.View(func(t *Tx) error { out, err = t.Release(app, n); return err })
	return out, err
}

// Releases lists an app's releases, newest first.
func (s *Store) Releases(app string, limit int) (out []Release, err error) {
	err = s.View(func(t *Tx) error { out, err = t.Releases(app, limit); return err })
	return out, err
}

package store

import (
	"fmt"
	"time"
)

// KeptVolume is a database volume whose app was deleted without its data.
// The database server set its credentials when it first initialised the
// volume and accepts no others, so kaj keeps them: an app created on the
// same volume adopts them and finds its data again.
type KeptVolume struct {
	Volume   string    `json:"volume"`
	App      string    `json:"app"`
	Kind     string    `json:"kind"`
	Database string    `json:"database"`
	User     string    `json:"user"`
	KeptAt   time.Time `json:"kept_at"`
}

type keptVolumeRecord struct {
	KeptVolume
	SealedPassword []byte `json:"sealed_password"`
}

func volumeContext(volume string) string { return "volume/" + volume }

// keepVolume remembers the credentials of app's volume under the app's
// name (schema 3; before, under the volume's name, which another app
// naming the same volume could overwrite or erase).
func (t *Tx) keepVolume(v KeptVolume, password string) error {
	sealed, err := t.s.seal.seal(password, volumeContext(v.Volume))
	if err != nil {
		return err
	}
	v.KeptAt = t.s.now().UTC()
	return put(t.tx.Bucket(bucketVolumes), v.App, keptVolumeRecord{KeptVolume: v, SealedPassword: sealed})
}

// keptOn finds the kept record of volume, if any.
func (t *Tx) keptOn(volume string) (keptVolumeRecord, bool, error) {
	recs, err := list[keptVolumeRecord](t.tx.Bucket(bucketVolumes))
	if err != nil {
		return keptVolumeRecord{}, false, err
	}
	for _, r := range recs {
		if r.Volume == volume {
			return r, true, nil
		}
	}
	return keptVolumeRecord{}, false, nil
}

// checkShared refuses a definition that takes what another app holds: a
// domain it serves, or the volume of its database (live, or kept after
// its deletion).
func (t *Tx) checkShared(a App) error {
	apps, err := list[appRecord](t.tx.Bucket(bucketApps))
	if err != nil {
		return err
	}
	mine := map[string]bool{}
	for _, d := range a.Domains {
		mine[d] = true
	}
	for _, o := range apps {
		if o.Name == a.Name {
			continue
		}
		for _, d := range o.Domains {
			if mine[d] {
				return fmt.Errorf("domain %s: %w: app %q serves it; remove it there first", d, ErrConflict, o.Name)
			}
		}
		if a.Database != nil && o.Database != nil && o.Database.Volume == a.Database.Volume {
			return fmt.Errorf("volume %s: %w: it holds the database of app %q; choose another volume", a.Database.Volume, ErrConflict, o.Name)
		}
	}
	return nil
}

// adoptVolume gives a new app of the same name, with a database on a kept
// volume, that volume's credentials, and forgets the volume as kept. A kept volume of
// another database kind is a conflict: its data cannot be opened.
func (t *Tx) adoptVolume(a *App) error {
	if a.Database == nil {
		return nil
	}
	b := t.tx.Bucket(bucketVolumes)
	rec, found, err := t.keptOn(a.Database.Volume)
	if err != nil || !found {
		return err
	}
	if rec.App != a.Name {
		// The engine labels a volume with its app; only an app of the
		// same name may open it again.
		return fmt.Errorf("volume %s keeps the data of the deleted app %q: %w; create the app as %q to use that data again, choose another volume, or delete it", rec.Volume, rec.App, ErrConflict, rec.App)
	}
	if !sameFamily(rec.Kind, a.Database.Kind) {
		return fmt.Errorf("volume %s holds a %s database of the deleted app %q: %w; choose another volume, or delete that one", rec.Volume, rec.Kind, rec.App, ErrConflict)
	}
	pw, err := t.s.seal.open(rec.SealedPassword, volumeContext(rec.Volume))
	if err != nil {
		return fmt.Errorf("volume %s: %w", rec.Volume, err)
	}
	a.Database.Password, a.Database.Name, a.Database.User = pw, rec.Database, rec.User
	if _, err := t.AddEvent(Event{Actor: "kaj", Action: ActionVolumeAdopt, Target: a.Name, Detail: fmt.Sprintf("volume %s of the deleted app %s", rec.Volume, rec.App)}); err != nil {
		return err
	}
	return b.Delete([]byte(rec.App))
}

// sameFamily: MySQL and MariaDB share a data format kaj treats as one.
func sameFamily(a, b string) bool {
	fam := func(k string) string {
		if k == "mariadb" {
			return "mysql"
		}
		return k
	}
	return fam(a) == fam(b)
}

// KeptVolumes lists the database volumes kept after their apps.
func (t *Tx) KeptVolumes() ([]KeptVolume, error) {
	recs, err := list[keptVolumeRecord](t.tx.Bucket(bucketVolumes))
	out := make([]KeptVolume, len(recs))
	for i, r := range recs {
		out[i] = r.KeptVolume
	}
	return out, err
}

package deploy

import (
	"strings"
	"testing"

	"github.com/kajhq/kaj/store"
)

// TestScrub: what an older kaj stored in the clear is masked, in the
// release and in the trail, also for an app since deleted when the
// secret sat in a URL.
func TestScrub(t *testing.T) {
	d, _, st := setup(t)
	a, _ := st.App("blog")
	a.Env = []store.EnvVar{{Name: "SECRET_KEY", Value: "s3cret-long", Secret: true}}
	if _, err := st.UpdateApp(a); err != nil {
		t.Fatal(err)
	}
	leak := "SECRET_KEY=s3cret-long DATABASE_URL=mysql://blog:pw@dbserver/blog"
	err := st.Update(func(tx *store.Tx) error {
		rel, err := tx.CreateRelease(store.Release{App: "blog", CreatedBy: "ann"})
		if err != nil {
			return err
		}
		rel.Status, rel.Error = store.ReleaseFailed, "health: "+leak
		rel.Steps = []store.Step{{Name: StepHealth, Status: "failed", Detail: leak}}
		if _, err := tx.UpdateRelease(rel); err != nil {
			return err
		}
		if _, err := tx.AddEvent(store.Event{Actor: "ann", Action: store.ActionDeployFail, Target: "blog", Detail: leak}); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: "ann", Action: store.ActionDeployFail, Target: "gone", Detail: "postgres://gone:gone-pw@db/gone"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Scrub()
	if err != nil || n != 3 {
		t.Fatalf("Scrub = %d, %v; want 3 records changed", n, err)
	}
	rels, _ := st.Releases("blog", 0)
	evs, _ := st.Events(0, 0)
	texts := []string{rels[0].Error, rels[0].Steps[0].Detail, evs[0].Detail, evs[1].Detail}
	for _, s := range texts {
		if strings.Contains(s, "s3cret-long") || strings.Contains(s, ":pw@") || strings.Contains(s, "gone-pw") || !strings.Contains(s, "[redacted]") {
			t.Errorf("after Scrub: %q", s)
		}
	}
	if n, err := d.Scrub(); err != nil || n != 0 {
		t.Fatalf("second Scrub = %d, %v; want nothing to do", n, err)
	}
}

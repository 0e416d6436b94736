package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

func TestClaim(t *testing.T) {
	d, _, _ := setup(t)
	c, err := d.Claim("blog")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Claim("blog"); !errors.Is(err, ErrBusy) {
		t.Fatalf("second claim: %v; want ErrBusy", err)
	}
	if _, err := d.Deploy(context.Background(), "blog", "ann", nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("deploy beside the claim: %v; want ErrBusy", err)
	}
	if !d.Busy("blog") {
		t.Fatal("a claimed app does not read busy")
	}
	if rel, err := d.Deploy(c.Within(context.Background()), "blog", "ann", nil); err != nil || rel.Status != store.ReleaseLive {
		t.Fatalf("deploy under the claim: %+v %v", rel, err)
	}
	if !d.Busy("blog") {
		t.Fatal("the deploy freed an app its claim still holds")
	}
	c.Release()
	c.Release()
	if d.Busy("blog") {
		t.Fatal("released, the app still reads busy")
	}
	if _, err := d.Deploy(context.Background(), "blog", "ann", nil); err != nil {
		t.Fatalf("deploy after release: %v", err)
	}
}

// TestDeploy_failureRedactsSecrets: what the app prints while failing
// reaches neither the release, the trail nor the job with its secrets.
func TestDeploy_failureRedactsSecrets(t *testing.T) {
	d, rt, st := setup(t)
	rt.healthy = func(string) error {
		return errors.New("SECRET_KEY=s3cret-long DATABASE_URL=mysql://blog:pw-long%2Fx@dbserver/blog")
	}
	a, _ := st.App("blog")
	a.Env = []store.EnvVar{{Name: "SECRET_KEY", Value: "s3cret-long", Secret: true}}
	a.Database.Password = "pw-long/x"
	if _, err := st.UpdateApp(a); err != nil {
		t.Fatal(err)
	}
	var events []jobs.Event
	rel, err := d.Deploy(context.Background(), "blog", "ann", func(e jobs.Event) { events = append(events, e) })
	if err == nil {
		t.Fatal("the deploy succeeded")
	}
	trail, _ := st.Events(0, 1)
	texts := []string{err.Error(), rel.Error, trail[0].Detail}
	for _, s := range rel.Steps {
		texts = append(texts, s.Detail)
	}
	for _, e := range events {
		texts = append(texts, e.Message)
		texts = append(texts, e.Lines...)
	}
	for _, s := range texts {
		if strings.Contains(s, "s3cret-long") || strings.Contains(s, "pw-long") {
			t.Errorf("a secret survives: %q", s)
		}
	}
	if !strings.Contains(rel.Error, "SECRET_KEY=[redacted] DATABASE_URL=mysql://blog:[redacted]@dbserver") {
		t.Errorf("release error = %q", rel.Error)
	}
}

package deploy

import (
	"fmt"
	"strings"

	"github.com/kajhq/kaj/redact"
	"github.com/kajhq/kaj/store"
)

// Scrub masks the secrets earlier versions of kaj stored in the clear
// when a deploy failed: in every app's releases (the error and the steps'
// details) the app's known secrets, and in every event the secrets of the
// app it names and any password inside a URL. It is idempotent and
// returns how many records it changed.
//
// An event of an app deleted since keeps the secrets only that app knew,
// but for URL passwords; and bbolt may keep the bytes of a record it
// replaced in a free page until it reuses the page.
func (d *Deployer) Scrub() (int, error) {
	n := 0
	err := d.st.Update(func(tx *store.Tx) error {
		apps, err := tx.Apps()
		if err != nil {
			return err
		}
		creds, err := registryPasswords(tx)
		if err != nil {
			return err
		}
		reds := map[string]*redact.Redactor{}
		for _, a := range apps {
			sec, err := tx.RevealApp(a.Name)
			if err != nil {
				return fmt.Errorf("reading %s's secrets: %w", a.Name, err)
			}
			rels, err := tx.Releases(a.Name, 0)
			if err != nil {
				return err
			}
			env := map[string]string{}
			for _, e := range a.Env {
				env[e.Name] = e.Value
			}
			for _, r := range rels {
				vals, err := tx.RevealRelease(a.Name, r.Number)
				if err != nil {
					return fmt.Errorf("reading %s release %d's secrets: %w", a.Name, r.Number, err)
				}
				for k, v := range vals {
					// Under a name no plain variable has: every
					// release's secret value counts as secret.
					env[fmt.Sprintf("%s#%d", k, r.Number)] = v
				}
			}
			red := secretsOf(a.Env, sec, env, creds)
			reds[a.Name] = red
			for _, r := range rels {
				changed := false
				if s := red.String(r.Error); s != r.Error {
					r.Error, changed = s, true
				}
				for i := range r.Steps {
					if s := red.String(r.Steps[i].Detail); s != r.Steps[i].Detail {
						r.Steps[i].Detail, changed = s, true
					}
				}
				if !changed {
					continue
				}
				if _, err := tx.UpdateRelease(r); err != nil {
					return err
				}
				n++
			}
		}
		plain := &redact.Redactor{}
		m, err := tx.RewriteEvents(func(e store.Event) (store.Event, bool) {
			app, _, _ := strings.Cut(e.Target, "/")
			red := reds[app]
			if red == nil {
				red = plain
			}
			detail := red.String(e.Detail)
			if detail == e.Detail {
				return e, false
			}
			e.Detail = detail
			return e, true
		})
		n += m
		return err
	})
	return n, err
}

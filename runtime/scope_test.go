package runtime

import (
	"errors"
	"testing"
)

func TestNamesFor(t *testing.T) {
	if n := NamesFor("ab12cd", "blog"); n != (Names{Network: "kaj-ab12cd-blog", Database: "kaj-ab12cd-blog-db", Volume: "kaj-ab12cd-blog-data", Prefix: "kaj-ab12cd-blog-r"}) {
		t.Errorf("with an instance: %+v", n)
	}
	if n := NamesFor("", "blog"); n != (Names{Network: "kaj-blog", Database: "kaj-blog-db", Volume: "kaj-blog-data", Prefix: "kaj-blog-r"}) {
		t.Errorf("without: %+v", n)
	}
}

func TestDocker_SetScope_refused(t *testing.T) {
	for _, s := range []Scope{
		{Instance: "UPPER"},
		{Instance: "has space"},
		{Instance: "-dash"},
		{Instance: "much-too-long-instance-id"},
		{Instance: "ok", Labels: map[string]string{LabelInstance: "x"}},
		{Instance: "ok", Labels: map[string]string{LabelApp: "x"}},
	} {
		if err := (&Docker{}).SetScope(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetScope(%+v) = %v; want ErrInvalid", s, err)
		}
	}
}

// TestDocker_owns: an instance owns what carries its ID and every scope
// label, and, for the apps the scope calls legacy, what carries no ID.
func TestDocker_owns(t *testing.T) {
	d := &Docker{}
	legacy := func(app string) (Names, bool) { return NamesFor("", app), app == "old" }
	if err := d.SetScope(Scope{Instance: "aaa111", Labels: map[string]string{"team": "web"}, Legacy: legacy}); err != nil {
		t.Fatal(err)
	}
	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"mine", l(LabelManaged, "true", LabelApp, "blog", LabelInstance, "aaa111", "team", "web"), true},
		{"another instance", l(LabelManaged, "true", LabelApp, "blog", LabelInstance, "bbb222", "team", "web"), false},
		{"missing a scope label", l(LabelManaged, "true", LabelApp, "blog", LabelInstance, "aaa111"), false},
		{"not kaj's", l(LabelApp, "blog", LabelInstance, "aaa111", "team", "web"), false},
		{"no ID, app not legacy", l(LabelManaged, "true", LabelApp, "blog", "team", "web"), false},
		{"no ID, legacy app", l(LabelManaged, "true", LabelApp, "old", "team", "web"), true},
		{"legacy app, another instance", l(LabelManaged, "true", LabelApp, "old", LabelInstance, "bbb222", "team", "web"), false},
	} {
		if got := d.owns(c.labels); got != c.want {
			t.Errorf("%s: owns = %v; want %v", c.name, got, c.want)
		}
	}
	if n := d.Names("old"); n.Network != "kaj-old" {
		t.Errorf("a legacy app's network is %s; want the one it has", n.Network)
	}
	if n := d.Names("blog"); n.Network != "kaj-aaa111-blog" {
		t.Errorf("a new app's network is %s", n.Network)
	}
	unscoped := &Docker{}
	if unscoped.owns(l(LabelManaged, "true", LabelApp, "blog", LabelInstance, "aaa111")) || !unscoped.owns(l(LabelManaged, "true", LabelApp, "blog")) {
		t.Error("a Docker without a scope keeps to objects without an instance ID")
	}
}

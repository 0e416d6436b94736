package store

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestStore_Source_sealed(t *testing.T) {
	s := openTest(t)
	a := App{Name: "web", Port: 8080, Source: &Source{
		Repo: "https://git.example.com/me/web.git", Ref: "main", Context: "app", Dockerfile: "Dockerfile_prod",
		Token: "tok-1", WebhookSecret: "hook-1",
		BuildArgs: []BuildArg{{Name: "MODE", Value: "prod"}, {Name: "NPM_TOKEN", Value: "npm-1", Secret: true}},
	}}
	out, err := s.CreateApp(a)
	if err != nil {
		t.Fatal(err)
	}
	if out.Source.Token != "" || out.Source.WebhookSecret != "" || out.Source.BuildArgs[1].Value != "" {
		t.Fatalf("secrets shown back: %+v", out.Source)
	}
	if !out.Source.HasToken || !out.Source.HasWebhookSecret || out.Source.HasDeployKey {
		t.Fatalf("has flags: %+v", out.Source)
	}
	raw := dumpFile(t, s)
	for _, secret := range []string{"tok-1", "hook-1", "npm-1"} {
		if strings.Contains(raw, secret) {
			t.Fatalf("%s stored in plain text", secret)
		}
	}
	// An update that leaves the secrets empty keeps them.
	out.Source.Ref = "release"
	if _, err := s.UpdateApp(out); err != nil {
		t.Fatal(err)
	}
	sec, err := s.RevealApp("web")
	if err != nil {
		t.Fatal(err)
	}
	if sec.Source.Token != "tok-1" || sec.Source.WebhookSecret != "hook-1" || sec.Source.BuildArgs["NPM_TOKEN"] != "npm-1" {
		t.Fatalf("revealed %+v", sec.Source)
	}
	// The definition a release records carries no secret.
	if d := out.Definition(); d.Source == nil || d.Source.Token != "" || d.Source.Repo == "" {
		t.Fatalf("definition source %+v", d.Source)
	}
}

func TestSource_Validate(t *testing.T) {
	for name, src := range map[string]Source{
		"token in url":     {Repo: "https://user:tok@github.com/a/b.git"},
		"not a url":        {Repo: "github.com/a/b"},
		"escaping context": {Context: "../etc"},
		"absolute file":    {Dockerfile: "/Dockerfile"},
		"bad ref":          {Ref: "main..x"},
		"bad threshold":    {LintThreshold: "fatal"},
		"push with tag":    {Push: "registry.example.com/a/b:1"},
		"token and key":    {Token: "x", DeployKey: "-----BEGIN OPENSSH PRIVATE KEY-----"},
		"bad build arg":    {BuildArgs: []BuildArg{{Name: "A B"}}},
		"bad target":       {Target: "-x"},
	} {
		t.Run(name, func(t *testing.T) {
			err := src.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want a validation error", err)
			}
			t.Log(err)
		})
	}
	ok := Source{Repo: "git@github.com:a/b.git", Ref: "v1.2.0", Context: "app", Dockerfile: "Dockerfile_prod", Target: "prod", Push: "registry.example.com:5000/a/b"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestStore_RecordDelivery_replay(t *testing.T) {
	s := openTest(t)
	if err := s.RecordDelivery("web", "d-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDelivery("web", "d-1"); !errors.Is(err, ErrConflict) {
		t.Fatalf("replay: %v, want ErrConflict", err)
	}
	if err := s.RecordDelivery("other", "d-1"); err != nil {
		t.Fatalf("same ID for another app: %v", err)
	}
}

func dumpFile(t *testing.T, s *Store) string {
	t.Helper()
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

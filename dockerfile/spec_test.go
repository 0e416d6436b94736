package dockerfile

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// specCase is one case of hadolint's rule specifications
// (test/Hadolint/Rule/DL*Spec.hs in github.com/hadolint/hadolint), taken
// into testdata/hadolint-spec-cases.json as data: the Dockerfile hadolint
// parsed and whether its rule catches there.
type specCase struct {
	ID         string `json:"id"`
	Rule       string `json:"rule"`
	Expect     string `json:"expect"` // "catch" or "clean"
	Title      string `json:"title"`
	Dockerfile string `json:"dockerfile"`
	Onbuild    bool   `json:"onbuild"`
	// DockerfileOnbuild is the Dockerfile with RUN turned into ONBUILD
	// RUN, as hadolint's onBuildRuleCatches helper does.
	DockerfileOnbuild *string `json:"dockerfile_onbuild"`
	NeedsConfig       bool    `json:"needs_config"`
	Config            *string `json:"config"` // hadolint's Configuration, as Haskell source
	Source            string  `json:"source"`
	Line              int     `json:"line"`
}

func loadSpecCases(t testing.TB) []specCase {
	t.Helper()
	var cases []specCase
	if err := json.Unmarshal(readTestdata(t, "hadolint-spec-cases.json"), &cases); err != nil {
		t.Fatalf("reading hadolint's spec cases: %v", err)
	}
	return cases
}

// specDisagreements are the spec cases where kaj knowingly differs from
// hadolint, with why. TestHadolintSpecs fails when one of them starts to
// agree, so the list stays true.
var specDisagreements = map[string]string{
	"DL3050-001": "an empty file is a parse error, as for docker build",
	"DL3050-002": "an empty file is a parse error, as for docker build",
}

var (
	registriesPattern = regexp.MustCompile(`allowedRegistries = \[([^\]]*)\]`)
	quotedPattern     = regexp.MustCompile(`"([^"]*)"`)
	schemaPattern     = regexp.MustCompile(`\("([^"]+)",\s*(?:Rule\.)?(\w+)\)`)
)

// hadolintLabelTypes maps hadolint's LabelType constructors to schema names.
var hadolintLabelTypes = map[string]string{
	"RawText": "text", "Url": "url", "Rfc3339": "rfc3339", "Spdx": "spdx",
	"GitHash": "hash", "SemVer": "semver", "Email": "email",
}

// specOptions turns a case's hadolint configuration into Options. Like the
// specs, which call the rule engine directly, rules that are off by default
// are switched on.
func specOptions(t *testing.T, c specCase) Options {
	opts := Options{Override: map[string]Severity{}}
	for _, r := range Rules() {
		if r.Severity == SeverityIgnore {
			opts.Override[r.Code] = SeverityInfo
		}
	}
	if c.Config == nil {
		return opts
	}
	cfg := *c.Config
	if m := registriesPattern.FindStringSubmatch(cfg); m != nil {
		for _, q := range quotedPattern.FindAllStringSubmatch(m[1], -1) {
			opts.TrustedRegistries = append(opts.TrustedRegistries, q[1])
		}
	}
	for _, m := range schemaPattern.FindAllStringSubmatch(cfg, -1) {
		typ, ok := hadolintLabelTypes[m[2]]
		if !ok {
			t.Fatalf("%s: unknown label type %s in %s", c.ID, m[2], cfg)
		}
		if opts.LabelSchema == nil {
			opts.LabelSchema = map[string]string{}
		}
		opts.LabelSchema[m[1]] = typ
	}
	opts.StrictLabels = strings.Contains(cfg, "strictLabels = True")
	if opts.TrustedRegistries == nil && opts.LabelSchema == nil {
		t.Fatalf("%s: configuration not understood: %s", c.ID, cfg)
	}
	return opts
}

// TestHadolintSpecs runs every case of hadolint's rule specifications, the
// ONBUILD and configured ones included, and cites each by rule, spec file
// and line.
func TestHadolintSpecs(t *testing.T) {
	cases := loadSpecCases(t)
	if len(cases) < 1000 {
		t.Fatalf("only %d spec cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Rule+"/"+c.ID, func(t *testing.T) {
			src := c.Dockerfile
			if c.Onbuild {
				if c.DockerfileOnbuild == nil {
					t.Skip("hadolint's ONBUILD wrapping of this case is not a Dockerfile")
				}
				src = *c.DockerfileOnbuild
			}
			got, err := Lint([]byte(src), specOptions(t, c))
			if _, known := specDisagreements[c.ID]; known && err != nil {
				return
			}
			if err != nil {
				t.Fatalf("Lint: %v (hadolint parses it)\n%s", err, src)
			}
			caught := slices.ContainsFunc(got, func(f Finding) bool { return f.Code == c.Rule })
			agree := caught == (c.Expect == "catch")
			why, known := specDisagreements[c.ID]
			switch {
			case known && agree:
				t.Errorf("%s now agrees with hadolint; drop it from specDisagreements (%s)", c.ID, why)
			case !known && !agree:
				t.Errorf("%s:%d %q: hadolint expects %s, kaj found %v\n%s", c.Source, c.Line, c.Title, c.Expect, codesByLine(got), src)
			}
		})
	}
}

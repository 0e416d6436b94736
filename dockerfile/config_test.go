package dockerfile

import (
	"errors"
	"slices"
	"testing"
)

// hadolintREADMEConfig is the example configuration of hadolint's README,
// every key in use.
const hadolintREADMEConfig = `
failure-threshold: warning
format: json
ignored:
  - DL3000
  - SC1010
label-schema:
  author: text
  contact: email
  created: rfc3339
  version: semver
  documentation: url
  git-revision: hash
  license: spdx
no-color: true
no-fail: false
override:
  error:
    - DL3001
    - DL3002
  warning:
    - DL3042
    - DL3033
  info:
    - DL3032
  style:
    - DL3015
strict-labels: true
disable-ignore-pragma: true
trustedRegistries:
  - docker.io
  - my-company.com:5000
  - "*.gcr.io"
`

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(hadolintREADMEConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.FailureThreshold == nil || *c.FailureThreshold != SeverityWarning || c.OutputFormat() != "json" ||
		c.NoColor == nil || !*c.NoColor || c.NoFail == nil || *c.NoFail {
		t.Errorf("scalars: %+v", c)
	}
	o, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Ignore, []string{"DL3000", "SC1010"}) || !o.StrictLabels || !o.DisableIgnorePragma ||
		len(o.LabelSchema) != 7 || o.LabelSchema["contact"] != "email" || len(o.TrustedRegistries) != 3 {
		t.Errorf("options: %+v", o)
	}
	for code, sev := range map[string]Severity{"DL3001": SeverityError, "DL3042": SeverityWarning, "DL3032": SeverityInfo, "DL3015": SeverityStyle} {
		if o.Override[code] != sev {
			t.Errorf("override %s = %v, want %v", code, o.Override[code], sev)
		}
	}

	empty, err := ParseConfig(nil)
	if err != nil {
		t.Fatalf("empty file: %v", err)
	}
	if o, err := empty.Options(); err != nil || o.Override != nil || len(o.Ignore) != 0 || o.StrictLabels {
		t.Errorf("empty file gives %+v, %v", o, err)
	}
}

func TestParseConfig_invalid(t *testing.T) {
	for name, yaml := range map[string]string{
		"unknown key":       "ignore: [DL3000]",
		"rule code":         "ignored: [DL30]",
		"severity":          "failure-threshold: fatal",
		"label type":        "label-schema: {a: number}",
		"override severity": "override: {fatal: [DL3000]}",
		"syntax":            "ignored: [DL3000",
	} {
		if _, err := ParseConfig([]byte(yaml)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: error %v, want ErrInvalidConfig", name, err)
		}
	}
}

// TestConfig_Merge: later layers win for settings and add to lists; an
// override to error beats one to style, whichever layer gave them.
func TestConfig_Merge(t *testing.T) {
	on, off := true, false
	warn, errSev := SeverityWarning, SeverityError
	file := Config{NoFail: &on, FailureThreshold: &warn, Ignored: []string{"DL3000"},
		Override: ConfigOverride{Style: []string{"DL3008"}}, LabelSchema: map[string]string{"a": "text"}}
	flags := Config{NoFail: &off, FailureThreshold: &errSev, Ignored: []string{"DL3001"},
		Override: ConfigOverride{Error: []string{"DL3008"}}, LabelSchema: map[string]string{"b": "url"}, Format: "gnu"}
	m := file.Merge(flags)
	if *m.NoFail || *m.FailureThreshold != SeverityError || m.OutputFormat() != "gnu" ||
		!slices.Equal(m.Ignored, []string{"DL3000", "DL3001"}) || len(m.LabelSchema) != 2 {
		t.Errorf("merged %+v", m)
	}
	if !slices.Equal(file.Ignored, []string{"DL3000"}) {
		t.Errorf("Merge changed its receiver: %v", file.Ignored)
	}
	o, err := m.Options()
	if err != nil || o.Override["DL3008"] != SeverityError {
		t.Errorf("override %v, %v", o.Override, err)
	}
	if m := file.Merge(Config{}); *m.NoFail != true || *m.FailureThreshold != SeverityWarning {
		t.Errorf("an empty layer changed settings: %+v", m)
	}
}

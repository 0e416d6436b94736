package dockerfile

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; got:\n%s\nwant:\n%s", name, got, want)
	}
}

// mixedFindings exercises every severity and a multi-line instruction.
func mixedFindings(t *testing.T) []Finding {
	src := "FROM ubuntu\nLABEL Foo=bar\nADD a.txt /a\nRUN a\nRUN b \\\n  && c"
	fs, err := Lint([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestWriters(t *testing.T) {
	writers := map[string]func(*bytes.Buffer, string, []Finding) error{
		"tty":   func(b *bytes.Buffer, n string, f []Finding) error { return WriteTTY(b, n, f) },
		"json":  func(b *bytes.Buffer, n string, f []Finding) error { return WriteJSON(b, n, f) },
		"sarif": func(b *bytes.Buffer, n string, f []Finding) error { return WriteSARIF(b, n, f) },
	}
	inputs := map[string][]Finding{
		"lesson": lessonFindings,
		"mixed":  mixedFindings(t),
		"none":   nil,
	}
	for format, write := range writers {
		for input, fs := range inputs {
			t.Run(format+"/"+input, func(t *testing.T) {
				var b bytes.Buffer
				if err := write(&b, "docker/Dockerfile prod", fs); err != nil {
					t.Fatal(err)
				}
				golden(t, input+"."+format, b.Bytes())
			})
		}
	}
}

func TestWriteSARIF_structure(t *testing.T) {
	var b bytes.Buffer
	fs := mixedFindings(t)
	if err := WriteSARIF(&b, "Dockerfile", fs); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						Region struct {
							StartLine int `json:"startLine"`
							EndLine   int `json:"endLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("version %q with %d runs", log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != len(Rules()) || len(run.Results) != len(fs) {
		t.Fatalf("%d rules and %d results, want %d and %d", len(run.Tool.Driver.Rules), len(run.Results), len(Rules()), len(fs))
	}
	levels := map[Severity]string{SeverityError: "error", SeverityWarning: "warning", SeverityInfo: "note", SeverityStyle: "note"}
	for i, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID || r.RuleID != fs[i].Code {
			t.Errorf("result %d: rule %s at index %d", i, r.RuleID, r.RuleIndex)
		}
		if r.Level != levels[fs[i].Severity] {
			t.Errorf("result %d: level %q for %v", i, r.Level, fs[i].Severity)
		}
		reg := r.Locations[0].PhysicalLocation.Region
		if reg.StartLine != fs[i].Line || reg.EndLine != fs[i].EndLine {
			t.Errorf("result %d: region %d-%d, want %d-%d", i, reg.StartLine, reg.EndLine, fs[i].Line, fs[i].EndLine)
		}
	}
}

func TestWriteJSON_roundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, "Dockerfile", lessonFindings); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Code  string   `json:"code"`
		Level Severity `json:"level"`
		Line  int      `json:"line"`
		File  string   `json:"file"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Code != "DL3059" || got[1].Level != SeverityInfo || got[1].Line != 16 || got[1].File != "Dockerfile" {
		t.Errorf("decoded %+v", got)
	}
}

package dockerfile

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
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
	src := "FROM ubuntu\nLABEL Foo=bar\nADD a.txt /a\nRUN a\nRUN b \\\n  c"
	fs, err := Lint([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// goldenInputs are the runs every format is checked against.
func goldenInputs(t *testing.T) map[string][]Result {
	name := "docker/Dockerfile prod"
	return map[string][]Result{
		"lesson": {{File: name, Findings: lessonFindings}},
		"mixed":  {{File: name, Findings: mixedFindings(t)}},
		"none":   {{File: name}},
		// Two files, one of which does not parse.
		"multi": {
			{File: "a/Dockerfile", Findings: lessonFindings[:1]},
			{File: "b/Dockerfile", Err: &ParseError{Line: 3, Err: errors.New("unknown instruction: FOO")}},
		},
	}
}

// goldenExt names each format's golden files.
var goldenExt = map[string]string{
	"tty": "tty", "json": "json", "checkstyle": "checkstyle.xml", "codeclimate": "codeclimate",
	"gitlab_codeclimate": "gitlab.json", "gnu": "gnu", "codacy": "codacy.jsonl", "sarif": "sarif",
}

func TestWrite_golden(t *testing.T) {
	for _, format := range Formats {
		for input, results := range goldenInputs(t) {
			t.Run(format+"/"+input, func(t *testing.T) {
				var b bytes.Buffer
				if err := Write(&b, format, results, WriteOptions{}); err != nil {
					t.Fatal(err)
				}
				golden(t, input+"."+goldenExt[format], b.Bytes())
			})
		}
	}
}

// TestWriters keeps the one-file writers the same as Write.
func TestWriters(t *testing.T) {
	writers := map[string]func(*bytes.Buffer, string, []Finding) error{
		"tty":   func(b *bytes.Buffer, n string, f []Finding) error { return WriteTTY(b, n, f) },
		"json":  func(b *bytes.Buffer, n string, f []Finding) error { return WriteJSON(b, n, f) },
		"sarif": func(b *bytes.Buffer, n string, f []Finding) error { return WriteSARIF(b, n, f) },
	}
	for format, write := range writers {
		var b bytes.Buffer
		if err := write(&b, "docker/Dockerfile prod", lessonFindings); err != nil {
			t.Fatal(err)
		}
		golden(t, "lesson."+format, b.Bytes())
	}
}

func TestWrite_ttyColor(t *testing.T) {
	var plain, color bytes.Buffer
	results := []Result{{File: "Dockerfile", Findings: mixedFindings(t)}}
	if err := Write(&plain, "tty", results, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := Write(&color, "tty", results, WriteOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain.Bytes(), []byte("\x1b[")) || !bytes.Contains(color.Bytes(), []byte("\x1b[1;31merror\x1b[0m")) {
		t.Errorf("plain:\n%q\ncolour:\n%q", plain.String(), color.String())
	}
	if err := Write(&plain, "xml", results, WriteOptions{}); err == nil {
		t.Error("Write accepted an unknown format")
	}
}

// TestWrite_checkstyleParses reads the checkstyle output back as XML.
func TestWrite_checkstyleParses(t *testing.T) {
	var b bytes.Buffer
	results := goldenInputs(t)["multi"]
	if err := Write(&b, "checkstyle", results, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name `xml:"checkstyle"`
		Version string   `xml:"version,attr"`
		Files   []struct {
			Name   string `xml:"name,attr"`
			Errors []struct {
				Line     int    `xml:"line,attr"`
				Column   int    `xml:"column,attr"`
				Severity string `xml:"severity,attr"`
				Message  string `xml:"message,attr"`
				Source   string `xml:"source,attr"`
			} `xml:"error"`
		} `xml:"file"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("checkstyle output is not XML: %v\n%s", err, b.String())
	}
	if doc.Version != "4.3" || len(doc.Files) != 2 || doc.Files[0].Name != "a/Dockerfile" {
		t.Fatalf("checkstyle %+v", doc)
	}
	e := doc.Files[0].Errors
	if len(e) != 1 || e[0].Line != 11 || e[0].Source != "DL3059" || e[0].Severity != "info" || e[0].Message != lessonFindings[0].Message {
		t.Errorf("first file's errors %+v", e)
	}
	if e := doc.Files[1].Errors; len(e) != 1 || e[0].Source != "DL1000" || e[0].Severity != "error" || e[0].Line != 3 {
		t.Errorf("parse error as %+v", e)
	}
}

// TestWrite_codeclimate checks the NUL-separated stream and GitLab's
// fingerprints, which must differ between issues and stay put between runs.
func TestWrite_codeclimate(t *testing.T) {
	results := []Result{{File: "Dockerfile", Findings: mixedFindings(t)}}
	var cc, gl1, gl2 bytes.Buffer
	for _, w := range []struct {
		b      *bytes.Buffer
		format string
	}{{&cc, "codeclimate"}, {&gl1, "gitlab_codeclimate"}, {&gl2, "gitlab_codeclimate"}} {
		if err := Write(w.b, w.format, results, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	parts := bytes.Split(bytes.TrimSuffix(cc.Bytes(), []byte{0}), []byte{0})
	if len(parts) != len(results[0].Findings) {
		t.Fatalf("%d issues for %d findings", len(parts), len(results[0].Findings))
	}
	for _, p := range parts {
		var is struct {
			Severity  string `json:"severity"`
			CheckName string `json:"check_name"`
		}
		if err := json.Unmarshal(p, &is); err != nil || is.Severity == "" || is.CheckName == "" {
			t.Fatalf("issue %q: %+v %v", p, is, err)
		}
	}
	var issues []struct {
		Fingerprint string `json:"fingerprint"`
	}
	if err := json.Unmarshal(gl1.Bytes(), &issues); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, is := range issues {
		if len(is.Fingerprint) != 40 || seen[is.Fingerprint] {
			t.Errorf("fingerprint %q missing or repeated", is.Fingerprint)
		}
		seen[is.Fingerprint] = true
	}
	if !bytes.Equal(gl1.Bytes(), gl2.Bytes()) {
		t.Error("fingerprints change from one run to the next")
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

// TestFinding_json: the API's findings carry the rule's link and fix.
func TestFinding_json(t *testing.T) {
	b, err := json.Marshal(lessonFindings[0])
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	r, _ := ruleByCode("DL3059")
	if got["code"] != "DL3059" || got["severity"] != "info" || got["line"] != 11.0 || got["endLine"] != 11.0 ||
		got["url"] != r.URL || got["fix"] != r.Fix || r.Fix == "" {
		t.Errorf("finding as JSON: %s", b)
	}
	var back Finding
	if err := json.Unmarshal(b, &back); err != nil || back != lessonFindings[0] {
		t.Errorf("read back %+v, %v", back, err)
	}
}

// TestWrite_sarifSeveralFiles reads back a SARIF log over two files, one of
// which does not parse.
func TestWrite_sarifSeveralFiles(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "sarif", goldenInputs(t)["multi"], WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID   string `json:"id"`
						Help struct {
							Text string `json:"text"`
						} `json:"help"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 || len(log.Runs[0].Results) != 2 {
		t.Fatalf("log %+v", log)
	}
	run := log.Runs[0]
	for _, r := range run.Tool.Driver.Rules {
		if r.Help.Text == "" {
			t.Errorf("rule %s has no help text", r.ID)
		}
	}
	first, second := run.Results[0], run.Results[1]
	if first.RuleID != "DL3059" || run.Tool.Driver.Rules[first.RuleIndex].ID != "DL3059" ||
		first.Locations[0].PhysicalLocation.ArtifactLocation.URI != "a/Dockerfile" {
		t.Errorf("first result %+v", first)
	}
	// DL1000 is no rule of the driver: SARIF's -1 says so.
	if second.RuleID != "DL1000" || second.RuleIndex != -1 || second.Level != "error" ||
		second.Locations[0].PhysicalLocation.ArtifactLocation.URI != "b/Dockerfile" {
		t.Errorf("parse error result %+v", second)
	}
}

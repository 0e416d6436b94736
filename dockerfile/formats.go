package dockerfile

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
)

// Result is what linting one file gave: its findings, or the reason it
// could not be checked.
type Result struct {
	File     string
	Findings []Finding
	Err      *ParseError // set when the file does not parse; Findings is then empty
}

// Formats are the output formats Write knows, as hadolint names them.
var Formats = []string{"tty", "json", "checkstyle", "codeclimate", "gitlab_codeclimate", "gnu", "codacy", "sarif"}

// WriteOptions adjust Write's output.
type WriteOptions struct {
	// Color marks severities with ANSI colours in the tty format, as
	// hadolint does on a terminal.
	Color bool
}

// Write renders the results of one run, over one or more files, in format
// (one of Formats). Files that did not parse appear where the format has a
// place for errors: as a DL1000 error, hadolint's code for them; tty and
// gnu leave them to the caller, which reports them on standard error.
func Write(w io.Writer, format string, results []Result, o WriteOptions) error {
	var err error
	switch format {
	case "tty":
		err = writeLines(w, results, func(file string, f Finding) string {
			sev := f.Severity.String()
			if o.Color {
				sev = ttyColors[f.Severity] + sev + "\x1b[0m"
			}
			return fmt.Sprintf("%s:%d %s %s: %s", file, f.Line, f.Code, sev, f.Message)
		})
	case "gnu":
		// GNU's "program:file:line: message", for editors' error parsers.
		err = writeLines(w, results, func(file string, f Finding) string {
			return fmt.Sprintf("kaj:%s:%d: %s %s: %s", file, f.Line, f.Code, f.Severity, f.Message)
		})
	case "json":
		err = writeJSON(w, results)
	case "checkstyle":
		err = writeCheckstyle(w, results)
	case "codeclimate":
		err = writeCodeclimate(w, results)
	case "gitlab_codeclimate":
		err = writeGitLab(w, results)
	case "codacy":
		err = writeCodacy(w, results)
	case "sarif":
		err = writeSARIF(w, results)
	default:
		return fmt.Errorf("unknown format %q: use one of %v", format, Formats)
	}
	if err != nil {
		return fmt.Errorf("writing findings: %w", err)
	}
	return nil
}

var ttyColors = map[Severity]string{
	SeverityError:   "\x1b[1;31m",
	SeverityWarning: "\x1b[1;33m",
	SeverityInfo:    "\x1b[32m",
	SeverityStyle:   "\x1b[36m",
}

func writeLines(w io.Writer, results []Result, line func(string, Finding) string) error {
	for _, r := range results {
		for _, f := range r.Findings {
			if _, err := fmt.Fprintln(w, line(r.File, f)); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseFinding stands for a file that does not parse, in formats that list
// such files among the findings.
func parseFinding(e *ParseError) Finding {
	return Finding{Line: e.Line, EndLine: e.Line, Code: "DL1000", Severity: SeverityError, Message: e.Err.Error()}
}

// all returns a result's findings, its parse error first if it has one.
func (r Result) all() []Finding {
	if r.Err != nil {
		return append([]Finding{parseFinding(r.Err)}, r.Findings...)
	}
	return r.Findings
}

func encodeJSON(w io.Writer, v any, indent bool) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

func writeJSON(w io.Writer, results []Result) error {
	out := []hadolintJSON{}
	for _, r := range results {
		for _, f := range r.all() {
			out = append(out, hadolintJSON{Code: f.Code, Column: 1, File: r.File, Level: f.Severity, Line: f.Line, Message: f.Message})
		}
	}
	return encodeJSON(w, out, false)
}

type (
	checkstyleLog struct {
		XMLName xml.Name         `xml:"checkstyle"`
		Version string           `xml:"version,attr"`
		Files   []checkstyleFile `xml:"file"`
	}
	checkstyleFile struct {
		Name   string            `xml:"name,attr"`
		Errors []checkstyleError `xml:"error"`
	}
	checkstyleError struct {
		Line     int    `xml:"line,attr"`
		Column   int    `xml:"column,attr"`
		Severity string `xml:"severity,attr"`
		Message  string `xml:"message,attr"`
		Source   string `xml:"source,attr"`
	}
)

func writeCheckstyle(w io.Writer, results []Result) error {
	log := checkstyleLog{Version: "4.3"}
	for _, r := range results {
		file := checkstyleFile{Name: r.File}
		for _, f := range r.all() {
			file.Errors = append(file.Errors, checkstyleError{f.Line, 1, f.Severity.String(), f.Message, f.Code})
		}
		log.Files = append(log.Files, file)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(log); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// codeclimateIssue is one issue of Code Climate's engine format, which
// GitLab reads with a fingerprint added. Fields are in the order hadolint
// writes them.
type codeclimateIssue struct {
	Categories  []string            `json:"categories"`
	CheckName   string              `json:"check_name"`
	Description string              `json:"description"`
	Fingerprint string              `json:"fingerprint,omitempty"`
	Location    codeclimateLocation `json:"location"`
	Severity    string              `json:"severity"`
	Type        string              `json:"type"`
}

type codeclimateLocation struct {
	Path  string `json:"path"`
	Lines struct {
		Begin int `json:"begin"`
		End   int `json:"end"`
	} `json:"lines"`
}

// codeclimateSeverity maps hadolint's levels to Code Climate's.
var codeclimateSeverity = map[Severity]string{
	SeverityError: "blocker", SeverityWarning: "major", SeverityInfo: "info", SeverityStyle: "minor",
}

func codeclimateIssues(results []Result) []codeclimateIssue {
	var out []codeclimateIssue
	for _, r := range results {
		for _, f := range r.all() {
			is := codeclimateIssue{
				Categories: []string{"Bug Risk"}, CheckName: f.Code, Description: f.Message,
				Severity: codeclimateSeverity[f.Severity], Type: "issue",
			}
			is.Location.Path = r.File
			is.Location.Lines.Begin, is.Location.Lines.End = f.Line, f.Line
			out = append(out, is)
		}
	}
	return out
}

// writeCodeclimate writes Code Climate's engine stream: each issue as JSON
// followed by a NUL byte.
func writeCodeclimate(w io.Writer, results []Result) error {
	for _, is := range codeclimateIssues(results) {
		b, err := json.Marshal(is)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, 0)); err != nil {
			return err
		}
	}
	return nil
}

// writeGitLab writes GitLab's code quality report: a JSON array of Code
// Climate issues, each fingerprinted by the SHA-1 of the issue itself so
// GitLab can follow it from one pipeline to the next.
func writeGitLab(w io.Writer, results []Result) error {
	issues := codeclimateIssues(results)
	for i := range issues {
		b, err := json.Marshal(issues[i])
		if err != nil {
			return err
		}
		sum := sha1.Sum(b)
		issues[i].Fingerprint = hex.EncodeToString(sum[:])
	}
	if issues == nil {
		issues = []codeclimateIssue{}
	}
	return encodeJSON(w, issues, false)
}

// writeCodacy writes one JSON object per line, as Codacy's tool runner reads.
func writeCodacy(w io.Writer, results []Result) error {
	type issue struct {
		Filename  string `json:"filename"`
		PatternID string `json:"patternId"`
		Message   string `json:"message"`
		Line      int    `json:"line"`
	}
	for _, r := range results {
		for _, f := range r.all() {
			if err := encodeJSON(w, issue{r.File, f.Code, f.Message, f.Line}, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// sarifURI turns a file name into a SARIF artifact URI.
func sarifURI(filename string) string {
	loc := &url.URL{Path: filepath.ToSlash(filename)}
	if filepath.IsAbs(filename) {
		loc.Scheme = "file"
	}
	return loc.String()
}

func writeSARIF(w io.Writer, results []Result) error {
	driver := sarifDriver{Name: "kaj", InformationURI: "https://github.com/kajhq/kaj"}
	index := make(map[string]int, len(rules))
	for i, r := range rules {
		index[r.Code] = i
		driver.Rules = append(driver.Rules, sarifRule{
			ID:               r.Code,
			ShortDescription: sarifText{r.Description},
			HelpURI:          r.URL,
			Help:             &sarifText{r.Fix},
			DefaultConfiguration: sarifConfig{
				Enabled: r.Severity != SeverityIgnore,
				Level:   sarifLevel(r.Severity),
			},
		})
	}
	out := []sarifResult{}
	for _, r := range results {
		uri := sarifURI(r.File)
		for _, f := range r.all() {
			res := sarifResult{
				RuleID:    f.Code,
				RuleIndex: -1,
				Level:     sarifLevel(f.Severity),
				Message:   sarifText{f.Message},
				Locations: []sarifLocation{{sarifPhysical{
					ArtifactLocation: sarifArtifact{uri},
					Region:           sarifRegion{StartLine: f.Line, EndLine: max(f.EndLine, f.Line), StartColumn: 1},
				}}},
			}
			if i, ok := index[f.Code]; ok {
				res.RuleIndex = i
			}
			out = append(out, res)
		}
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{driver}, Results: out}},
	}
	return encodeJSON(w, log, true)
}

package dockerfile

import (
	"io"
)

// WriteTTY writes one line per finding, as hadolint does on a terminal:
//
//	Dockerfile:8 DL3059 info: Multiple consecutive `RUN` instructions. Consider consolidation.
func WriteTTY(w io.Writer, filename string, findings []Finding) error {
	return Write(w, "tty", []Result{{File: filename, Findings: findings}}, WriteOptions{})
}

// hadolintJSON is one element of hadolint's --format json output.
type hadolintJSON struct {
	Code    string   `json:"code"`
	Column  int      `json:"column"`
	File    string   `json:"file"`
	Level   Severity `json:"level"`
	Line    int      `json:"line"`
	Message string   `json:"message"`
}

// WriteJSON writes findings in hadolint's JSON format, an array of objects
// with code, column, file, level, line and message, so tools that read
// hadolint's output read kaj's.
func WriteJSON(w io.Writer, filename string, findings []Finding) error {
	return Write(w, "json", []Result{{File: filename, Findings: findings}}, WriteOptions{})
}

// The subset of SARIF 2.1.0 that code-scanning services read.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string      `json:"id"`
		ShortDescription     sarifText   `json:"shortDescription"`
		HelpURI              string      `json:"helpUri"`
		Help                 *sarifText  `json:"help,omitempty"`
		DefaultConfiguration sarifConfig `json:"defaultConfiguration"`
	}
	sarifConfig struct {
		Enabled bool   `json:"enabled"`
		Level   string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID    string          `json:"ruleId"`
		RuleIndex int             `json:"ruleIndex"`
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           sarifRegion   `json:"region"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		EndLine     int `json:"endLine"`
		StartColumn int `json:"startColumn"`
	}
)

// sarifLevel maps a severity to SARIF's levels, which have no style or info.
func sarifLevel(s Severity) string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	case SeverityIgnore, SeverityNone:
		return "none"
	}
	return "note"
}

// WriteSARIF writes findings as a SARIF 2.1.0 log with one run, listing
// every rule in the tool's driver so viewers can show its description.
func WriteSARIF(w io.Writer, filename string, findings []Finding) error {
	return Write(w, "sarif", []Result{{File: filename, Findings: findings}}, WriteOptions{})
}

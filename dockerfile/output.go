package dockerfile

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
)

// WriteTTY writes one line per finding, as hadolint does on a terminal:
//
//	Dockerfile:8 DL3059 info: Multiple consecutive `RUN` instructions. Consider consolidation.
func WriteTTY(w io.Writer, filename string, findings []Finding) error {
	for _, f := range findings {
		if _, err := fmt.Fprintf(w, "%s:%d %s %s: %s\n", filename, f.Line, f.Code, f.Severity, f.Message); err != nil {
			return fmt.Errorf("writing findings: %w", err)
		}
	}
	return nil
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
	out := make([]hadolintJSON, len(findings))
	for i, f := range findings {
		out[i] = hadolintJSON{Code: f.Code, Column: 1, File: filename, Level: f.Severity, Line: f.Line, Message: f.Message}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing findings: %w", err)
	}
	return nil
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
	driver := sarifDriver{Name: "kaj", InformationURI: "https://github.com/kajhq/kaj"}
	index := make(map[string]int, len(rules))
	for i, r := range rules {
		index[r.Code] = i
		driver.Rules = append(driver.Rules, sarifRule{
			ID:               r.Code,
			ShortDescription: sarifText{r.Description},
			HelpURI:          r.URL,
			DefaultConfiguration: sarifConfig{
				Enabled: r.Severity != SeverityIgnore,
				Level:   sarifLevel(r.Severity),
			},
		})
	}
	loc := &url.URL{Path: filepath.ToSlash(filename)}
	if filepath.IsAbs(filename) {
		loc.Scheme = "file"
	}
	uri := loc.String()
	results := make([]sarifResult, 0, len(findings))
	for _, f := range findings {
		results = append(results, sarifResult{
			RuleID:    f.Code,
			RuleIndex: index[f.Code],
			Level:     sarifLevel(f.Severity),
			Message:   sarifText{f.Message},
			Locations: []sarifLocation{{sarifPhysical{
				ArtifactLocation: sarifArtifact{uri},
				Region:           sarifRegion{StartLine: f.Line, EndLine: max(f.EndLine, f.Line), StartColumn: 1},
			}}},
		})
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{driver}, Results: results}},
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("writing findings: %w", err)
	}
	return nil
}

package dockerfile

import (
	"fmt"
	"strings"
)

// Severity ranks a finding, with hadolint's levels. Higher is more severe.
//
// The zero value is SeverityIgnore: a rule at that level is switched off, and
// as a threshold it lets every finding through.
type Severity int

const (
	// SeverityIgnore switches a rule off (hadolint's "ignore").
	SeverityIgnore Severity = iota
	SeverityStyle
	SeverityInfo
	SeverityWarning
	SeverityError
	// SeverityNone ranks above every finding. It is only useful as a
	// threshold: nothing reaches it, so nothing fails.
	SeverityNone
)

var severityNames = [...]string{
	SeverityIgnore:  "ignore",
	SeverityStyle:   "style",
	SeverityInfo:    "info",
	SeverityWarning: "warning",
	SeverityError:   "error",
	SeverityNone:    "none",
}

// String returns hadolint's name for s: "error", "warning", "info", "style",
// "ignore" or "none".
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name as String writes it, in any case.
func ParseSeverity(name string) (Severity, error) {
	for s, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(s), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: use error, warning, info, style, ignore or none", name)
}

// MarshalText writes the severity's name, so JSON carries "warning", not 3.
func (s Severity) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(severityNames) {
		return nil, fmt.Errorf("marshaling severity: unknown value %d", int(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText accepts what ParseSeverity accepts.
func (s *Severity) UnmarshalText(text []byte) error {
	v, err := ParseSeverity(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

package build

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kajhq/kaj/dockerfile"
)

// Errors returned by Build. Match them with errors.Is.
var (
	// ErrFetch means the source could not be fetched: a wrong URL, ref or
	// credentials, or the forge is down.
	ErrFetch = errors.New("fetching the source failed")
	// ErrContext means the build context is unusable: a missing
	// Dockerfile or context folder, a malformed upload.
	ErrContext = errors.New("the build context is unusable")
	// ErrLint means the Dockerfile's lint findings reached the app's
	// threshold; the engine built nothing. A *LintError carries them.
	ErrLint = errors.New("the Dockerfile failed lint")
	// ErrEngine means the engine's build failed (a RUN that exits
	// non-zero, a COPY of a missing file) or the engine is unreachable.
	ErrEngine = errors.New("the engine build failed")
)

// LintError lists the findings that stopped a build.
type LintError struct {
	Dockerfile string
	Threshold  dockerfile.Severity
	Findings   []dockerfile.Finding
}

func (e *LintError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d finding(s) at %s or above in %s", ErrLint, len(e.Findings), e.Threshold, e.Dockerfile)
	for _, f := range e.Findings {
		b.WriteString("\n  " + FormatFinding(f))
	}
	b.WriteString("\nfix them, silence a rule with '# hadolint ignore=CODE', or raise the app's source.lint_threshold")
	return b.String()
}

// Is makes errors.Is(err, ErrLint) true.
func (e *LintError) Is(target error) bool { return target == ErrLint }

// FormatFinding is one finding as a line: "line 3 DL3000 error: Use absolute WORKDIR."
func FormatFinding(f dockerfile.Finding) string {
	return fmt.Sprintf("line %d %s %s: %s", f.Line, f.Code, f.Severity, f.Message)
}

// EngineError is a failed engine build with the engine's message.
type EngineError struct{ Msg string }

func (e *EngineError) Error() string { return fmt.Sprintf("%v: %s", ErrEngine, e.Msg) }

// Is makes errors.Is(err, ErrEngine) true.
func (e *EngineError) Is(target error) bool { return target == ErrEngine }

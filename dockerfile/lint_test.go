package dockerfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// lessonFindings is what hadolint 2.15 reports for the lesson's Dockerfile:
// DL3059 on the second RUN of each consecutive pair, and DL3066 (added in
// hadolint 2.15) on `USER microblog`, a name the host may not resolve.
var lessonFindings = []Finding{
	{Line: 11, EndLine: 11, Code: "DL3059", Severity: SeverityInfo, Message: "Multiple consecutive `RUN` instructions. Consider consolidation."},
	{Line: 16, EndLine: 16, Code: "DL3059", Severity: SeverityInfo, Message: "Multiple consecutive `RUN` instructions. Consider consolidation."},
	{Line: 18, EndLine: 18, Code: "DL3066", Severity: SeverityInfo, Message: "Non-numeric user-id may not be resolvable by host system"},
}

func TestLint_lesson(t *testing.T) {
	got, err := Lint(readTestdata(t, "Dockerfile_lesson"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, lessonFindings) {
		t.Errorf("findings:\n%v\nwant:\n%v", got, lessonFindings)
	}
}

func TestLint_lessonMerged(t *testing.T) {
	for _, name := range []string{"Dockerfile_lesson_merged", "Dockerfile_lesson_heredoc"} {
		t.Run(name, func(t *testing.T) {
			got, err := Lint(readTestdata(t, name), Options{})
			if err != nil {
				t.Fatal(err)
			}
			// Merging the RUNs leaves only the USER by name.
			if c := codesByLine(got); len(c) != 1 || !strings.HasPrefix(c[0], "DL3066@") {
				t.Errorf("findings %v, want DL3066 alone", got)
			}
		})
	}
}

func codesByLine(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s@%d", f.Code, f.Line))
	}
	return out
}

func TestLint_pragmas(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"next instruction", "FROM a:1\nRUN a\n# hadolint ignore=DL3059\nRUN b\nRUN c", []string{"DL3059@5"}},
		{"several codes", "FROM ubuntu\n# hadolint ignore=DL3059,DL3003\nRUN cd /x\nRUN cd /y", []string{"DL3006@1", "SC2164@3", "DL3003@4", "DL3059@4", "SC2164@4"}},
		{"stacked with a reason", "FROM a:1\nRUN a\n# hadolint ignore=DL3059 the steps must stay apart\n# hadolint ignore=DL3003,SC2164\nRUN cd /b", nil},
		{"shellcheck directive", "FROM a:1\n# shellcheck disable=2086\nRUN echo $A\nRUN echo $A", []string{"DL3059@4", "SC2086@4"}},
		{"stage ignore", "FROM a:1\n# hadolint stage ignore=DL3059\nRUN a\nRUN b\nFROM b:1\nRUN a\nRUN b", []string{"DL3059@7"}},
		{"blank line ends it", "FROM a:1\nRUN a\n# hadolint ignore=DL3059\n\nRUN b", []string{"DL3059@5"}},
		{"only the next instruction", "FROM a:1\n# hadolint ignore=DL3059\nRUN a\nRUN b", []string{"DL3059@4"}},
		{"global", "# hadolint global ignore=DL3059\nFROM a:1\nRUN a\nRUN b\nRUN c", nil},
		{"global at the end", "FROM a:1\nRUN a\nRUN b\n# hadolint global ignore=DL3059", nil},
		{"comment inside a RUN is no pragma", "FROM a:1\nRUN a\nRUN b \\\n# hadolint ignore=DL3059\n  c\nRUN d", []string{"DL3059@3", "DL3059@6"}},
		{"not a pragma", "FROM a:1\nRUN a\n# hadolint: ignore=DL3059\nRUN b", []string{"DL3059@4"}},
		{"heredoc line is no pragma", "FROM a:1\nRUN <<EOF\n# hadolint global ignore=DL3059\nEOF\nRUN b", []string{"DL3059@5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Lint([]byte(tt.src), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if c := codesByLine(got); !slices.Equal(c, tt.want) {
				t.Errorf("got %v, want %v", c, tt.want)
			}
		})
	}
}

func TestLint_options(t *testing.T) {
	src := []byte("FROM ubuntu\nLABEL Foo=bar\nRUN a\nRUN b\nCMD x")
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"defaults", Options{}, []string{"DL3006@1", "DL3048@2", "DL3059@4", "DL3025@5"}},
		{"ignore", Options{Ignore: []string{"DL3059", "DL3006", "SC2086"}}, []string{"DL3048@2", "DL3025@5"}},
		{"threshold info", Options{Threshold: SeverityInfo}, []string{"DL3006@1", "DL3059@4", "DL3025@5"}},
		{"threshold warning", Options{Threshold: SeverityWarning}, []string{"DL3006@1", "DL3025@5"}},
		{"threshold none", Options{Threshold: SeverityNone}, nil},
		{"override on", Options{Override: map[string]Severity{"DL3057": SeverityInfo}}, []string{"DL3006@1", "DL3057@1", "DL3048@2", "DL3059@4", "DL3025@5"}},
		{"override off", Options{Override: map[string]Severity{"DL3006": SeverityIgnore}}, []string{"DL3048@2", "DL3059@4", "DL3025@5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Lint(src, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if c := codesByLine(got); !slices.Equal(c, tt.want) {
				t.Errorf("got %v, want %v", c, tt.want)
			}
		})
	}

	got, _ := Lint(src, Options{Override: map[string]Severity{"DL3059": SeverityError}})
	for _, f := range got {
		if f.Code == "DL3059" && f.Severity != SeverityError {
			t.Errorf("overridden DL3059 has severity %v, want error", f.Severity)
		}
	}
}

func TestLint_invalidOptions(t *testing.T) {
	for _, opts := range []Options{
		{Ignore: []string{"dl3059 "}},
		{Ignore: []string{"DL30590"}},
		{Override: map[string]Severity{"X": SeverityInfo}},
		{Override: map[string]Severity{"DL3059": SeverityNone}},
		{Threshold: Severity(42)},
	} {
		_, err := Lint([]byte("FROM a:1"), opts)
		if !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Lint with %+v: error %v, want ErrInvalidOptions", opts, err)
		}
	}
}

func TestLint_parseError(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"unknown instruction", "FROM a:1\nRUN x\nFOO bar", 3, "unknown instruction: FOO"},
		{"unterminated heredoc", "FROM a:1\nRUN <<EOF\necho hi\n", 2, "unterminated heredoc"},
		{"FROM with two words", "FROM a:1 b", 1, "FROM requires either one or three arguments"},
		{"bad stage name", "FROM a:1 AS 1st", 1, "invalid name for build stage"},
		{"COPY without destination", "FROM a:1\n\nCOPY app", 3, "COPY requires at least two arguments"},
		{"SHELL in shell form", "FROM a:1\nSHELL /bin/bash -c", 2, "JSON form"},
		{"JSON with a number", "FROM a:1\nRUN [\"a\", 1]", 2, "arrays must be comprised of strings only"},
		{"bad escape directive", "# syntax=docker/dockerfile:1\n# escape=x\nFROM a:1", 2, "invalid escape token"},
		{"empty", "", 1, "file with no instructions"},
		{"only comments", "# nothing\n\n", 2, "file with no instructions"},
		{"line too long", "FROM a:1\nRUN echo " + strings.Repeat("x", 70000), 1, "max allowed size"},
		{"continuation split", "FROM a:1\nRUN a \\\n  b\nWHAT \\\n  now", 4, "unknown instruction: WHAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Lint([]byte(tt.src), Options{})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want *ParseError", err)
			}
			if pe.Line != tt.line || !strings.Contains(pe.Error(), tt.msg) {
				t.Errorf("got line %d %q, want line %d containing %q", pe.Line, pe.Error(), tt.line, tt.msg)
			}
		})
	}
}

func TestLint_lines(t *testing.T) {
	src := "FROM a:1\nRUN a\nRUN b \\\n  c\nRUN <<EOF\nd \\\ne\nEOF\nCMD x"
	got, err := Lint([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{
		{Line: 3, EndLine: 4, Code: "DL3059", Severity: SeverityInfo, Message: "Multiple consecutive `RUN` instructions. Consider consolidation."},
		{Line: 5, EndLine: 8, Code: "DL3059", Severity: SeverityInfo, Message: "Multiple consecutive `RUN` instructions. Consider consolidation."},
		{Line: 9, EndLine: 9, Code: "DL3025", Severity: SeverityWarning, Message: "Use arguments JSON notation for CMD and ENTRYPOINT arguments"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
}

func TestLint_escapeDirective(t *testing.T) {
	src := "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN cd C:\\ `\n    && dir\nWORKDIR C:\\app"
	got, err := Lint([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := codesByLine(got); !slices.Equal(c, []string{"DL3003@3"}) {
		t.Errorf("got %v, want DL3003 on the RUN", c)
	}
}

func TestLint_onbuild(t *testing.T) {
	// Like hadolint, only rules about what a RUN runs look into triggers:
	// DL3059 and DL3022 do not, as the Dockerfile using the image decides.
	src := "FROM a:1\nONBUILD RUN sudo make\nONBUILD RUN apt-get update\nONBUILD COPY --from=build /a /b\nONBUILD FROM b:1"
	got, err := Lint([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"DL3004@2", "DL3009@3", "DL3043@5"}
	if c := codesByLine(got); !slices.Equal(c, want) {
		t.Errorf("got %v, want %v", c, want)
	}
}

func TestLint_concurrent(t *testing.T) {
	src := readTestdata(t, "Dockerfile_lesson")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := Lint(src, Options{})
			if err != nil || !slices.Equal(got, lessonFindings) {
				t.Errorf("concurrent Lint: %v %v", got, err)
			}
		})
	}
	wg.Wait()
}

// hadolintCodes are all of hadolint's DL rules: DL1001, DL3000-DL3067 and
// DL4000-DL4006, less the numbers hadolint never used or retired.
func hadolintCodes() []string {
	codes := []string{"DL1001"}
	for n := 3000; n <= 3067; n++ {
		switch n {
		case 3005, 3017, 3031, 3039: // retired or never used
			continue
		}
		codes = append(codes, fmt.Sprintf("DL%d", n))
	}
	for n := 4000; n <= 4006; n++ {
		if n != 4002 { // retired
			codes = append(codes, fmt.Sprintf("DL%d", n))
		}
	}
	return codes
}

func TestRules_metadata(t *testing.T) {
	var got, shellcheck []string
	for i, r := range Rules() {
		if r.Source == SourceHadolint {
			got = append(got, r.Code)
		} else {
			shellcheck = append(shellcheck, r.Code)
		}
		if r.Description == "" || r.Fix == "" || !strings.HasSuffix(r.URL, r.Code) {
			t.Errorf("%s: incomplete metadata %+v", r.Code, r)
		}
		if r.Source != SourceHadolint && r.Source != SourceShellCheck {
			t.Errorf("%s: source %q", r.Code, r.Source)
		}
		if i > 0 && Rules()[i-1].Code >= r.Code {
			t.Errorf("rules out of order at %s", r.Code)
		}
	}
	if want := hadolintCodes(); !slices.Equal(got, want) {
		t.Errorf("hadolint rules %v, want %v", got, want)
	}
	// The ShellCheck checks issue 17 asks for.
	if want := []string{"SC1091", "SC2006", "SC2016", "SC2028", "SC2035", "SC2046", "SC2086", "SC2155", "SC2164", "SC2181", "SC2196", "SC2197"}; !slices.Equal(shellcheck, want) {
		t.Errorf("ShellCheck rules %v, want %v", shellcheck, want)
	}
	sev := map[string]Severity{}
	for _, r := range Rules() {
		sev[r.Code] = r.Severity
	}
	// Spot checks against hadolint's table.
	for code, s := range map[string]Severity{"DL1001": SeverityIgnore, "DL3000": SeverityError, "DL3047": SeverityInfo,
		"DL3059": SeverityInfo, "DL3048": SeverityStyle, "DL3057": SeverityIgnore, "DL4006": SeverityWarning} {
		if sev[code] != s {
			t.Errorf("%s severity %v, want %v", code, sev[code], s)
		}
	}
}

func TestParseSeverity(t *testing.T) {
	for _, name := range []string{"error", "warning", "info", "style", "ignore", "none"} {
		s, err := ParseSeverity(strings.ToUpper(name))
		if err != nil || s.String() != name {
			t.Errorf("ParseSeverity(%q) = %v, %v", name, s, err)
		}
	}
	if _, err := ParseSeverity("fatal"); err == nil {
		t.Error("ParseSeverity(fatal) succeeded")
	}
}

// TestLint_quietOnBadBytes guards against BuildKit's lexer printing to
// standard error, which it does for bytes that are not UTF-8 text.
func TestLint_quietOnBadBytes(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	src := "FROM a:1\nLABEL x=\xff\x00 y=\"caf\xe9\"\nCOPY \"\xff\" /x\nRUN <<EOF\n\xfe\nEOF\nRUN a\n"
	got, lintErr := Lint([]byte(src), Options{})
	os.Stderr = stderr
	w.Close()
	printed, _ := io.ReadAll(r)
	if len(printed) > 0 {
		t.Errorf("Lint wrote to standard error: %q", printed)
	}
	if lintErr != nil || len(got) != 1 || got[0].Code != "DL3059" || got[0].Line != 7 {
		t.Errorf("findings %v, %v; want DL3059 on line 7", got, lintErr)
	}
}

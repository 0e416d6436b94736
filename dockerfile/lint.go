package dockerfile

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ErrInvalidOptions is wrapped by Lint's error when Options are unusable.
var ErrInvalidOptions = errors.New("invalid lint options")

// ParseError reports a Dockerfile that `docker build` would reject before
// running anything: a syntax error, an unknown instruction, an instruction
// with the wrong number of arguments.
type ParseError struct {
	Line int // 1-based line of the offending instruction
	Err  error
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *ParseError) Unwrap() error { return e.Err }

// Finding is one rule's complaint about one instruction.
type Finding struct {
	Line     int      `json:"line"`    // first line of the instruction, 1-based
	EndLine  int      `json:"endLine"` // last line, with continuations and heredocs
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// MarshalJSON writes the finding with its rule's documentation link (url)
// and one line on how to fix it (fix), so a client can show both without
// asking for the rule list.
func (f Finding) MarshalJSON() ([]byte, error) {
	type plain Finding // without this method
	out := struct {
		plain
		URL string `json:"url,omitempty"`
		Fix string `json:"fix,omitempty"`
	}{plain: plain(f)}
	if r, ok := ruleByCode(f.Code); ok {
		out.URL, out.Fix = r.URL, r.Fix
	}
	return json.Marshal(out)
}

// Options adjust which findings Lint reports. The zero value reports every
// rule at its default severity.
type Options struct {
	// Ignore lists rule codes never to report, as hadolint's --ignore does.
	// Codes of rules kaj does not have (ShellCheck's SC codes, say) are
	// accepted, so a hadolint ignore list can be used as it is.
	Ignore []string
	// Threshold drops findings below it. Zero (SeverityIgnore) keeps all;
	// SeverityNone keeps none.
	Threshold Severity
	// Override sets a rule's severity, as hadolint's override does:
	// SeverityIgnore switches a rule off, and a severity switches on a rule
	// that is off by default, such as DL3057.
	Override map[string]Severity
	// TrustedRegistries switches on DL3026: FROM, COPY --from and RUN
	// --mount from= images must come from one of these registries. A
	// leading or trailing * matches any prefix or suffix; images without a
	// registry come from docker.io.
	TrustedRegistries []string
	// LabelSchema maps label names to the type of value they need (one of
	// LabelTypes), switching on DL3049 and DL3051-DL3058.
	LabelSchema map[string]string
	// StrictLabels switches on DL3050: labels the schema does not name.
	StrictLabels bool
	// DisableIgnorePragma makes Lint disregard `# hadolint ignore=` and
	// `# shellcheck disable=` comments.
	DisableIgnorePragma bool
}

var codePattern = regexp.MustCompile(`^(DL|SC)[0-9]{4}$`)

// Validate reports the first problem with o, wrapping ErrInvalidOptions.
func (o Options) Validate() error {
	for _, c := range o.Ignore {
		if !codePattern.MatchString(c) {
			return fmt.Errorf("%w: ignore %q: rule codes look like DL3008 or SC2086", ErrInvalidOptions, c)
		}
	}
	for c, s := range o.Override {
		if !codePattern.MatchString(c) {
			return fmt.Errorf("%w: override %q: rule codes look like DL3008 or SC2086", ErrInvalidOptions, c)
		}
		if s < SeverityIgnore || s > SeverityError {
			return fmt.Errorf("%w: override %s to %v: use error, warning, info, style or ignore", ErrInvalidOptions, c, s)
		}
	}
	for l, t := range o.LabelSchema {
		if !slices.Contains(LabelTypes, t) {
			return fmt.Errorf("%w: label-schema %q: type %q: use one of %s", ErrInvalidOptions, l, t, strings.Join(LabelTypes, ", "))
		}
	}
	if o.Threshold < SeverityIgnore || o.Threshold > SeverityNone {
		return fmt.Errorf("%w: threshold %v: use error, warning, info, style or none", ErrInvalidOptions, o.Threshold)
	}
	return nil
}

// Lint checks a Dockerfile and returns its findings ordered by line, then
// code; a rule reports a line more than once only with different messages
// (DL3049, one per missing label). A Dockerfile that does not parse gives a
// *ParseError; bad options give an error wrapping ErrInvalidOptions. Lint is
// safe for concurrent use.
//
// Inline pragmas are honoured unless Options.DisableIgnorePragma is set: a
// comment `# hadolint ignore=DL3008,SC2086` (or `# shellcheck
// disable=SC2086`) silences those rules for the next instruction (only
// comment lines may stand between them), `# hadolint stage ignore=DL3059`
// up to the next FROM, and `# hadolint global ignore=DL3059` anywhere in
// the file silences them everywhere.
func Lint(src []byte, opts Options) ([]Finding, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	f, err := parse(src)
	if err != nil {
		return nil, err
	}
	global, local, stage, comments := readPragmas(src, f.insts)
	if opts.DisableIgnorePragma {
		global, local, stage = nil, nil, nil
	}
	skip := make(map[string]bool, len(opts.Ignore)+len(global))
	for _, c := range opts.Ignore {
		skip[c] = true
	}
	for c := range global {
		skip[c] = true
	}
	views := []*view{{insts: f.insts, stages: f.stages, opts: &opts, comments: comments}}
	if len(f.onbuild) > 0 {
		views = append(views, &view{insts: f.onbuild, onbuild: true, opts: &opts})
	}
	var out []Finding
	for _, r := range rules {
		sev := r.Severity
		if o, ok := opts.Override[r.Code]; ok {
			sev = o
		}
		if sev == SeverityIgnore || sev < opts.Threshold || skip[r.Code] {
			continue
		}
		for _, v := range views {
			if v.onbuild && !r.onbuild {
				continue
			}
			v.say = func(in *inst, msg string) {
				if local[in.line][r.Code] || stage.ignores(in.line, r.Code) {
					return
				}
				out = append(out, Finding{Line: in.line, EndLine: in.endLine, Code: r.Code, Severity: sev, Message: msg})
			}
			r.check(v, func(in *inst) { v.say(in, r.Description) })
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), strings.Compare(a.Code, b.Code))
	})
	// An ONBUILD trigger can break a rule in both passes.
	return slices.CompactFunc(out, func(a, b Finding) bool {
		return a.Line == b.Line && a.Code == b.Code && a.Message == b.Message
	}), nil
}

// stageIgnores are `# hadolint stage ignore=` pragmas: each silences its
// rules from the line after it to the next FROM.
type stageIgnores []stageIgnore

type stageIgnore struct {
	from, to int // lines, inclusive
	codes    map[string]bool
}

func (s stageIgnores) ignores(line int, code string) bool {
	for _, si := range s {
		if si.from <= line && line <= si.to && si.codes[code] {
			return true
		}
	}
	return false
}

// readPragmas collects the comments outside instructions and, from them,
// hadolint's ignore pragmas: the global ones, the per-instruction ones keyed
// by the line the instruction starts on (ShellCheck's `# shellcheck
// disable=` counts as one), and the per-stage ones.
func readPragmas(src []byte, insts []*inst) (global map[string]bool, local map[int]map[string]bool, stage stageIgnores, comments []comment) {
	global, local = map[string]bool{}, map[int]map[string]bool{}
	next := 0 // index of the first instruction not yet passed
	var pending map[string]bool
	openStage := -1 // index in stage of the pragma waiting for a FROM
	for i, line := range bytes.Split(src, []byte("\n")) {
		n := i + 1
		for next < len(insts) && insts[next].endLine < n {
			next++
		}
		if next < len(insts) && insts[next].line <= n {
			// Inside an instruction: comments among continuation lines
			// and heredoc bodies are not pragmas.
			if insts[next].line == n {
				if pending != nil {
					local[n] = pending
				}
				if insts[next].cmd == "from" && openStage >= 0 {
					stage[openStage].to = n
					openStage = -1
				}
			}
			pending = nil
			continue
		}
		if !isComment(line) {
			pending = nil
			continue
		}
		comments = append(comments, comment{line: n, text: string(line)})
		codes, isGlobal := parsePragma(line)
		if codes == nil {
			codes = parseShellCheckDisable(string(line))
		}
		switch {
		case codes == nil:
		case isGlobal:
			for _, c := range codes {
				global[c] = true
			}
		case isStagePragma(string(line)):
			if openStage >= 0 {
				stage[openStage].to = n
			}
			set := map[string]bool{}
			for _, c := range codes {
				set[c] = true
			}
			stage = append(stage, stageIgnore{from: n + 1, to: int(^uint(0) >> 1), codes: set})
			openStage = len(stage) - 1
		default:
			if pending == nil {
				pending = map[string]bool{}
			}
			for _, c := range codes {
				pending[c] = true
			}
		}
	}
	return global, local, stage, comments
}

// isStagePragma tells `# hadolint stage ignore=...` from the other pragmas.
func isStagePragma(line string) bool {
	f := strings.Fields(strings.TrimLeft(strings.TrimSpace(line), "#"))
	return len(f) >= 2 && f[0] == "hadolint" && f[1] == "stage"
}

// parseShellCheckDisable reads ShellCheck's `# shellcheck disable=SC2086,2035`
// directive, whose codes may leave out the SC.
func parseShellCheckDisable(line string) []string {
	s := strings.TrimLeft(strings.TrimSpace(line), "#")
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "shellcheck")
	if !ok {
		return nil
	}
	var codes []string
	for _, f := range strings.Fields(rest) {
		list, ok := strings.CutPrefix(f, "disable=")
		if !ok {
			continue
		}
		for _, c := range strings.Split(list, ",") {
			c = strings.ToUpper(strings.TrimSpace(c))
			if isDigits(c) {
				c = "SC" + c
			}
			if c != "" {
				codes = append(codes, c)
			}
		}
	}
	return codes
}

// parsePragma reads `# hadolint ignore=DL3008,DL3059` and
// `# hadolint global ignore=DL3059`. Text after the list is allowed, so a
// pragma can say why.
func parsePragma(line []byte) (codes []string, global bool) {
	s := strings.TrimLeft(string(line), "\ufeff \t")
	s = strings.TrimLeft(strings.TrimPrefix(s, "#"), " \t")
	rest, ok := strings.CutPrefix(s, "hadolint")
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return nil, false
	}
	rest = strings.TrimLeft(rest, " \t")
	if r, ok := strings.CutPrefix(rest, "global"); ok && r != "" && (r[0] == ' ' || r[0] == '\t') {
		global, rest = true, strings.TrimLeft(r, " \t")
	} else if r, ok := strings.CutPrefix(rest, "stage"); ok && r != "" && (r[0] == ' ' || r[0] == '\t') {
		rest = strings.TrimLeft(r, " \t")
	}
	rest, ok = strings.CutPrefix(rest, "ignore")
	if !ok {
		return nil, false
	}
	rest, ok = strings.CutPrefix(strings.TrimLeft(rest, " \t"), "=")
	if !ok {
		return nil, false
	}
	list, _, _ := strings.Cut(strings.TrimLeft(rest, " \t"), " ")
	list, _, _ = strings.Cut(list, "\t")
	for _, c := range strings.Split(strings.TrimRight(list, "\r"), ",") {
		if c = strings.ToUpper(strings.TrimSpace(c)); c != "" {
			codes = append(codes, c)
		}
	}
	return codes, global
}

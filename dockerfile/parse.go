package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// inst is one Dockerfile instruction as the rules see it.
type inst struct {
	cmd      string   // lower-case keyword, e.g. "run"
	line     int      // first line, 1-based
	endLine  int      // last line, counting continuations and heredoc bodies
	flags    []string // builder flags as written, e.g. "--from=build"
	args     []string // arguments as the parser split them (see validate for unquoting)
	raw      []string // COPY and ADD arguments before unquoting, as hadolint reads them
	json     bool     // exec (JSON array) form
	heredocs []parser.Heredoc
	sub      *inst // the trigger of an ONBUILD
	// badTrigger: an ONBUILD of ONBUILD, FROM or MAINTAINER, which Docker
	// refuses when the image is used; hadolint reports it as DL3043.
	badTrigger bool
	stage      int     // index into file.stages; -1 before the first FROM
	run        *script // what a RUN executes; nil for other instructions
}

// stage is one FROM.
type stage struct {
	alias string // lower-cased AS name; "" when there is none
	// ref is the base image after expanding the ARGs declared before the
	// first FROM; resolved is false when a variable had no default.
	ref      string
	resolved bool
	name     string // ref without tag and digest
	tag      string
	digest   string
}

// file is a parsed Dockerfile.
type file struct {
	insts   []*inst
	stages  []stage
	onbuild []*inst // ONBUILD triggers, checked as a Dockerfile of their own
}

// stageName matches the names BuildKit accepts after FROM ... AS.
var stageName = regexp.MustCompile(`^[a-z][a-z0-9-_.]*$`)

// parse reads src with BuildKit's parser and checks what `docker build`
// would reject before running anything. Errors are *ParseError.
func parse(src []byte) (*file, error) {
	src = sanitize(src)
	res, err := parseAST(src)
	if err != nil {
		return nil, &ParseError{Line: errorLine(err, src), Err: cleanError(err)}
	}
	lex := shell.NewLex(res.EscapeToken)
	lex.SkipUnsetEnv = true
	f := &file{}
	for _, n := range res.AST.Children {
		in, err := convert(n, lex)
		if err != nil {
			return nil, &ParseError{Line: n.StartLine, Err: err}
		}
		f.insts = append(f.insts, in)
	}
	f.resolveStages(res.EscapeToken)
	f.buildScripts()
	for _, in := range f.insts {
		if in.sub != nil && !in.badTrigger {
			sub := *in.sub
			sub.stage = -1
			f.onbuild = append(f.onbuild, &sub)
		}
	}
	return f, nil
}

// sanitize replaces invalid UTF-8 and NUL bytes with U+FFFD. BuildKit's
// word lexer reads with text/scanner and no error handler, which prints
// such bytes' positions to standard error; a server must not. Lines stay
// where they were.
func sanitize(src []byte) []byte {
	if utf8.Valid(src) && bytes.IndexByte(src, 0) < 0 {
		return src
	}
	return bytes.ReplaceAll(bytes.ToValidUTF8(src, []byte("\uFFFD")), []byte{0}, []byte("\uFFFD"))
}

// parseAST calls BuildKit's parser, turning a panic in it into an error:
// the linter serves untrusted input and must answer, not crash.
func parseAST(src []byte) (res *parser.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("dockerfile parser failed: %v", r)
		}
	}()
	return parser.Parse(bytes.NewReader(src))
}

// errorLine finds the 1-based line of a BuildKit parse error.
func errorLine(err error, src []byte) int {
	var le *parser.LocationError
	if !errors.As(err, &le) || len(le.Locations) == 0 || len(le.Locations[0]) == 0 {
		return 1
	}
	line := le.Locations[0][0].Start.Line
	// BuildKit reports a bad parser directive (# escape=...) one line early,
	// counting from zero; instruction errors point at the instruction.
	if lines := bytes.Split(src, []byte("\n")); line < len(lines) && isComment(lines[line]) &&
		(line == 0 || isComment(lines[line-1])) {
		line++
	}
	return max(line, 1)
}

func isComment(line []byte) bool {
	line = bytes.TrimLeft(line, " \t\r\v\f")
	if len(line) >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
		line = bytes.TrimLeft(line[3:], " \t")
	}
	return len(line) > 0 && line[0] == '#'
}

// cleanError drops BuildKit's location wrapper, whose line the ParseError
// carries already, and its stack trace.
func cleanError(err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && le.Unwrap() != nil {
		return errors.New(le.Unwrap().Error())
	}
	return errors.New(err.Error())
}

func convert(n *parser.Node, lex *shell.Lex) (*inst, error) {
	in := &inst{
		cmd:      strings.ToLower(n.Value),
		line:     n.StartLine,
		endLine:  n.EndLine,
		flags:    n.Flags,
		json:     n.Attributes["json"],
		heredocs: n.Heredocs,
		stage:    -1,
	}
	if _, ok := command.Commands[in.cmd]; !ok {
		return nil, fmt.Errorf("unknown instruction: %s", strings.ToUpper(n.Value))
	}
	if in.cmd == command.Onbuild {
		if n.Next == nil || len(n.Next.Children) == 0 {
			return nil, errors.New("ONBUILD requires at least one argument")
		}
		child := n.Next.Children[0]
		child.StartLine, child.EndLine = n.StartLine, n.EndLine
		switch strings.ToLower(child.Value) {
		case command.Onbuild, command.From, command.Maintainer:
			in.badTrigger = true
			return in, nil
		}
		sub, err := convert(child, lex)
		if err != nil {
			// Docker reads a trigger only when a build uses the image;
			// hadolint checks it no further, and neither does kaj.
			return in, nil
		}
		sub.heredocs = n.Heredocs
		in.sub = sub
		return in, nil
	}
	for a := n.Next; a != nil; a = a.Next {
		in.args = append(in.args, a.Value)
	}
	return in, validate(in, lex)
}

// validate rejects what BuildKit's instruction parser rejects, with its words.
func validate(in *inst, lex *shell.Lex) error {
	name := strings.ToUpper(in.cmd)
	switch in.cmd {
	case command.From:
		switch {
		case len(in.args) == 3 && strings.EqualFold(in.args[1], "as"):
			if !stageName.MatchString(strings.ToLower(in.args[2])) {
				return fmt.Errorf("invalid name for build stage: %q, name can't start with a number or contain symbols", in.args[2])
			}
		case len(in.args) != 1:
			return errors.New("FROM requires either one or three arguments")
		}
	case command.Copy, command.Add:
		if len(in.args) < 2 {
			return fmt.Errorf("%s requires at least two arguments, but only one was provided. Destination could not be determined", name)
		}
	case command.Workdir, command.User, command.Maintainer, command.StopSignal:
		if len(in.args) != 1 {
			return fmt.Errorf("%s requires exactly one argument", name)
		}
	case command.Expose, command.Volume, command.Arg, command.Healthcheck, command.Env, command.Label:
		if len(in.args) == 0 {
			return fmt.Errorf("%s requires at least one argument", name)
		}
	case command.Shell:
		if len(in.args) == 0 {
			return errors.New("SHELL requires at least one argument")
		}
		if !in.json {
			return errors.New(`SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/bash", "-o", "pipefail", "-c"]`)
		}
	}
	// Buildkit keeps quotes in these words; rules compare them without.
	switch in.cmd {
	case command.Copy, command.Add, command.Workdir, command.User, command.From:
		in.raw = slices.Clone(in.args)
		if !in.json {
			for i, a := range in.args {
				in.args[i] = unquote(lex, a)
			}
		}
	case command.Env, command.Label:
		for i := 0; i < len(in.args); i += 3 {
			in.args[i] = unquote(lex, in.args[i])
		}
	}
	return nil
}

// unquote removes Dockerfile quoting from word and leaves variables as
// written; a word the lexer cannot read stays as it is.
func unquote(lex *shell.Lex, word string) string {
	if !strings.ContainsAny(word, `"'\`+"`") {
		return word
	}
	out, _, err := lex.ProcessWord(word, envMap(nil))
	if err != nil {
		return word
	}
	return out
}

// flag returns the value of builder flag --name, and whether it is present.
func (in *inst) flag(name string) (string, bool) {
	for _, f := range in.flags {
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

// cacheMountTargets lists the targets of RUN --mount=type=cache and
// --mount=type=tmpfs, where files written during the build stay out of the image.
func (in *inst) cacheMountTargets() []string {
	var targets []string
	for _, f := range in.flags {
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if k != "mount" {
			continue
		}
		var typ, target string
		for _, field := range strings.Split(v, ",") {
			key, val, _ := strings.Cut(strings.TrimSpace(field), "=")
			switch strings.ToLower(key) {
			case "type":
				typ = strings.ToLower(val)
			case "target", "dst", "destination":
				target = strings.Trim(val, `"'`)
			}
		}
		if typ == "cache" || typ == "tmpfs" {
			targets = append(targets, target)
		}
	}
	return targets
}

// resolveStages records every FROM with its base image, expanding the ARGs
// declared before the first FROM the way BuildKit does, from their defaults.
func (f *file) resolveStages(escape rune) {
	lex := shell.NewLex(escape)
	meta := envMap{}
	for _, in := range f.insts {
		if in.cmd == command.Arg && len(f.stages) == 0 {
			for _, a := range in.args {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					continue // no default: left unresolved, as without --build-arg
				}
				if r, err := lex.ProcessWordWithMatches(v, meta); err == nil && len(r.Unmatched) == 0 {
					meta[k] = r.Result
				}
			}
			continue
		}
		if in.cmd != command.From {
			in.stage = len(f.stages) - 1
			continue
		}
		st := stage{ref: in.args[0]}
		if len(in.args) == 3 {
			st.alias = strings.ToLower(in.args[2])
		}
		r, err := lex.ProcessWordWithMatches(in.args[0], meta)
		st.resolved = err == nil && len(r.Unmatched) == 0
		if st.resolved {
			st.ref = r.Result
		}
		st.name, st.tag, st.digest = splitRef(st.ref)
		f.stages = append(f.stages, st)
		in.stage = len(f.stages) - 1
	}
}

// splitRef splits an image reference into name, tag and digest.
func splitRef(ref string) (name, tag, digest string) {
	name = ref
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		name, digest = name[:i], name[i+1:]
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.Contains(name[i:], "/") {
		name, tag = name[:i], name[i+1:]
	}
	return name, tag, digest
}

// envMap is the variable set BuildKit's lexer expands from.
type envMap map[string]string

func (e envMap) Get(key string) (string, bool) {
	v, ok := e[key]
	return v, ok
}

func (e envMap) Keys() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	return keys
}

package dockerfile

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"mvdan.cc/sh/v3/syntax"
)

// cmd is one simple command found in a RUN, e.g. apt-get with its arguments.
type cmd struct {
	name string   // the program as written: "apt-get", "/usr/bin/curl"
	args []string // the words after it, quotes removed, expansions as written
	sudo bool     // run through sudo
}

// script is what the rules know about the shell code of one RUN.
type script struct {
	src  string // the shell code as written, or the program of an exec form
	cmds []cmd
	// unsafePipe is set when a pipeline runs while pipefail is off: neither
	// the stage's SHELL nor an earlier `set -o pipefail` switched it on.
	unsafePipe bool
	sc         []scFinding // ShellCheck findings
}

// shellState is the stage's SHELL as far as RUN analysis cares.
type shellState struct {
	notPOSIX bool // PowerShell or cmd.exe: shell-form RUN is not sh code
	pipefail bool // SHELL ["/bin/bash", "-o", "pipefail", "-c"]
}

// maxHeredocDepth bounds how deep `bash <<EOF` bodies nested in bodies are
// read; real Dockerfiles use one level, fuzzers many more.
const maxHeredocDepth = 3

// buildScripts analyses every RUN, applying the SHELL in force in its stage.
func (f *file) buildScripts() {
	a := newAnalyzer()
	var sh shellState
	cur := -1
	for _, in := range f.insts {
		if in.stage != cur {
			// Like hadolint, a SHELL applies until the next FROM.
			cur, sh = in.stage, shellState{}
		}
		switch in.cmd {
		case command.Shell:
			sh = shellFrom(in.args)
		case command.Run:
			in.run = a.run(in, sh)
		case command.Onbuild:
			if in.sub != nil && in.sub.cmd == command.Run {
				in.sub.run = a.run(in.sub, shellState{})
			}
		}
	}
}

// shellFrom reads a SHELL instruction's JSON arguments.
func shellFrom(argv []string) shellState {
	c := newCmd(argv)
	switch strings.TrimSuffix(strings.ToLower(path.Base(c.name)), ".exe") {
	case "pwsh", "powershell", "cmd":
		return shellState{notPOSIX: true}
	case "bash", "zsh", "ash", "ksh", "mksh":
		return shellState{pipefail: c.setsPipefail()}
	}
	return shellState{}
}

type analyzer struct {
	p *syntax.Parser
}

func newAnalyzer() *analyzer {
	return &analyzer{p: syntax.NewParser(syntax.Variant(syntax.LangBash))}
}

// run works out what a RUN instruction executes, the way BuildKit runs it.
func (a *analyzer) run(in *inst, sh shellState) *script {
	s := &script{src: strings.Join(in.args, " ")}
	if in.json {
		a.exec(s, in.args)
		return s
	}
	if sh.notPOSIX || len(in.args) == 0 {
		return s
	}
	text, pipefail := in.args[0], sh.pipefail
	if len(in.heredocs) > 0 {
		if parser.MustParseHeredoc(text) != nil {
			// RUN <<EOF: BuildKit hands the body to the shell as the
			// script, or runs it as a file when it starts with #!.
			body := in.heredocs[0].Content
			if in.heredocs[0].Chomp {
				body = parser.ChompHeredocContent(body)
			}
			if interp, ok := strings.CutPrefix(body, "#!"); ok {
				line, _, _ := strings.Cut(interp, "\n")
				c := newCmd(strings.Fields(line))
				if c.name == "/usr/bin/env" && len(c.args) > 0 {
					c = newCmd(c.args)
				}
				if !isShell(c.name) {
					if c.name != "" {
						s.cmds = append(s.cmds, c)
					}
					return s
				}
				pipefail = false // a script file gets no SHELL options
			}
			text = body
		} else {
			// Otherwise BuildKit appends the bodies to the command line and
			// lets the shell read them as here-documents.
			var b strings.Builder
			b.WriteString(text)
			for _, h := range in.heredocs {
				b.WriteString("\n")
				b.WriteString(h.Content)
				b.WriteString(h.Name)
			}
			b.WriteString("\n")
			text = b.String()
		}
	}
	a.shell(s, text, pipefail, 0)
	return s
}

// exec handles the JSON form, which runs argv without a shell unless argv
// itself is `sh -c SCRIPT`.
func (a *analyzer) exec(s *script, argv []string) {
	if len(argv) == 0 {
		return
	}
	if isShell(argv[0]) {
		for i := 1; i+1 < len(argv); i++ {
			if arg := argv[i]; len(arg) > 1 && arg[0] == '-' && arg[1] != '-' && strings.HasSuffix(arg, "c") {
				shell := cmd{name: argv[0], args: argv[1:i]}
				a.shell(s, argv[i+1], shell.setsPipefail(), 0)
				return
			}
		}
	}
	s.cmds = append(s.cmds, newCmd(argv))
}

// shell parses src as bash, as hadolint does, and records its commands and
// pipes. Code that does not parse contributes nothing.
func (a *analyzer) shell(s *script, src string, pipefail bool, depth int) {
	f, err := a.parse(src)
	if err != nil {
		return
	}
	if depth > 0 || !strings.Contains(s.src, src) {
		// Keep heredoc bodies too: rules read the text (DL3042's
		// PIP_NO_CACHE_DIR=1).
		s.src += "\n" + src
	}
	shellCheck(s, src, f)
	var bodies []string
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.BinaryCmd:
			if (n.Op == syntax.Pipe || n.Op == syntax.PipeAll) && !pipefail {
				s.unsafePipe = true
			}
		case *syntax.Stmt:
			if body, ok := shellHeredoc(src, n); ok {
				bodies = append(bodies, body)
			}
		case *syntax.CallExpr:
			if c, ok := callCmd(src, n); ok {
				s.cmds = append(s.cmds, c)
				if c.setsPipefail() {
					pipefail = true
				}
			}
		}
		return true
	})
	if depth < maxHeredocDepth {
		for _, body := range bodies {
			// A shell reading a here-document is a new process: the
			// outer pipefail does not reach it.
			a.shell(s, body, false, depth+1)
		}
	}
}

// parse runs the shell parser, turning a panic in it into an error.
func (a *analyzer) parse(src string) (f *syntax.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			a.p = syntax.NewParser(syntax.Variant(syntax.LangBash))
			f, err = nil, fmt.Errorf("shell parser failed: %v", r)
		}
	}()
	return a.p.Parse(strings.NewReader(src), "")
}

// shellHeredoc returns the body of a here-document fed to a shell's
// standard input, as in `bash <<EOF`, which that shell runs as a script.
func shellHeredoc(src string, st *syntax.Stmt) (string, bool) {
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok {
		return "", false
	}
	c, ok := callCmd(src, call)
	if !ok || !isShell(c.name) || c.hasFlag("c") {
		return "", false
	}
	for _, r := range st.Redirs {
		if (r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc) && r.Hdoc != nil && (r.N == nil || r.N.Value == "0") {
			return hdocText(src, r.Hdoc), true
		}
	}
	return "", false
}

// hdocText returns a here-document body as the shell reads it before
// expansion. Literal parts come from the parser rather than the source,
// whose span for the last part runs on over the closing delimiter.
func hdocText(src string, w *syntax.Word) string {
	var b strings.Builder
	for _, p := range w.Parts {
		if l, ok := p.(*syntax.Lit); ok {
			b.WriteString(l.Value)
		} else {
			b.WriteString(slice(src, p))
		}
	}
	return b.String()
}

// callCmd turns a simple command into a cmd. Commands whose name is not a
// literal (`$CC -o x`) or that only assign variables are skipped, as
// hadolint skips them.
func callCmd(src string, call *syntax.CallExpr) (cmd, bool) {
	if len(call.Args) == 0 {
		return cmd{}, false
	}
	name, lit := wordText(src, call.Args[0])
	if !lit || name == "" {
		return cmd{}, false
	}
	words := make([]string, 1, len(call.Args))
	words[0] = name
	for _, w := range call.Args[1:] {
		t, _ := wordText(src, w)
		words = append(words, t)
	}
	return newCmd(words), true
}

// wordText returns a word with its quotes and escapes removed and its
// expansions as written, and whether it was all literal text.
func wordText(src string, w *syntax.Word) (string, bool) {
	if len(w.Parts) == 1 {
		if l, ok := w.Parts[0].(*syntax.Lit); ok && !strings.Contains(l.Value, `\`) {
			return l.Value, true
		}
	}
	var b strings.Builder
	lit := writeParts(&b, src, w.Parts)
	return b.String(), lit
}

func writeParts(b *strings.Builder, src string, parts []syntax.WordPart) bool {
	return writePartsQuoted(b, src, parts, false)
}

// writePartsQuoted writes parts; quoted tells that they stand inside double
// quotes, where a backslash escapes only $ ` " \ and the newline.
func writePartsQuoted(b *strings.Builder, src string, parts []syntax.WordPart, quoted bool) bool {
	lit := true
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.Lit:
			if quoted {
				unescapeQuoted(b, p.Value)
			} else {
				unescape(b, p.Value)
			}
		case *syntax.SglQuoted:
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			if !writePartsQuoted(b, src, p.Parts, true) {
				lit = false
			}
		default:
			b.WriteString(slice(src, p))
			lit = false
		}
	}
	return lit
}

// unescape drops the backslashes the shell removes from a word.
func unescape(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
}

// unescapeQuoted drops the backslashes the shell removes inside double quotes.
func unescapeQuoted(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
}

// slice returns the source text of n, or "" when its position is unusable.
func slice(src string, n syntax.Node) string {
	start, end := n.Pos().Offset(), n.End().Offset()
	if start > end || end > uint(len(src)) {
		return ""
	}
	return src[start:end]
}

// newCmd builds a cmd from argv, looking through wrappers to the program
// they run: those ShellCheck looks through (command, builtin, busybox,
// exec), and also sudo and env, so `sudo apt-get install x` is checked as
// an apt-get install run with sudo.
func newCmd(argv []string) cmd {
	if len(argv) == 0 {
		return cmd{}
	}
	c := cmd{name: argv[0], args: argv[1:]}
	for range 4 {
		var skip int // words between the wrapper and the program
		switch c.name {
		case "command", "builtin", "busybox":
			if len(c.args) > 0 && strings.HasPrefix(c.args[0], "-") {
				return c // command -v x only looks x up
			}
		case "exec":
			skip = skipOptions(c.args, "a")
		case "sudo":
			skip = skipOptions(c.args, "u", "g", "C", "D", "h", "p", "r", "t", "T", "U",
				"user", "group", "close-from", "chdir", "host", "prompt", "role", "type",
				"command-timeout", "other-user")
		case "env":
			skip = skipOptions(c.args, "u", "C", "S", "unset", "chdir", "split-string")
		default:
			return c
		}
		if skip >= len(c.args) {
			return c
		}
		if c.name == "sudo" {
			c.sudo = true
		}
		c.name, c.args = c.args[skip], c.args[skip+1:]
	}
	return c
}

// skipOptions counts the options and VAR=value assignments before a
// wrapped program; valued lists the options that take the next word.
func skipOptions(args []string, valued ...string) int {
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return i + 1
		}
		if !isFlag(a) {
			if strings.Contains(a, "=") && !strings.HasPrefix(a, "=") {
				i++ // VAR=value
				continue
			}
			return i
		}
		i++
		if names := flagNames(a); len(names) > 0 && !strings.Contains(a, "=") && slices.Contains(valued, names[len(names)-1]) {
			i++
		}
	}
	return i
}

// isShell reports whether program is a POSIX-style shell.
func isShell(program string) bool {
	switch path.Base(program) {
	case "sh", "bash", "ash", "dash", "zsh", "ksh", "mksh":
		return true
	}
	return false
}

// flagName returns the flag names in one argument, as hadolint counts them:
// "--no-cache=x" holds "no-cache", "-qy" holds "q" and "y", and "-", "--"
// and operands hold none.
func flagNames(arg string) []string {
	switch {
	case arg == "-" || arg == "--" || !strings.HasPrefix(arg, "-"):
		return nil
	case strings.HasPrefix(arg, "--"):
		name, _, _ := strings.Cut(arg[2:], "=")
		return []string{name}
	}
	names := make([]string, 0, len(arg)-1)
	for _, r := range arg[1:] {
		names = append(names, string(r))
	}
	return names
}

func isFlag(arg string) bool {
	return len(arg) > 1 && arg[0] == '-' && arg != "--"
}

// hasFlag reports whether any of names is given as a flag.
func (c cmd) hasFlag(names ...string) bool {
	for _, a := range c.args {
		if a == "--" {
			return false // the rest are operands
		}
		if !isFlag(a) {
			continue
		}
		if strings.HasPrefix(a, "--") {
			name, _, _ := strings.Cut(a[2:], "=")
			for _, n := range names {
				if name == n {
					return true
				}
			}
			continue
		}
		for _, n := range names {
			if len(n) == 1 && strings.Contains(a[1:], n) {
				return true
			}
		}
	}
	return false
}

// hasArg reports whether arg is one of the words.
func (c cmd) hasArg(arg string) bool {
	for _, a := range c.args {
		if a == arg {
			return true
		}
	}
	return false
}

// is reports whether the command is program with sub among its words, as
// in `apt-get -y install` for is("apt-get", "install").
func (c cmd) is(program, sub string) bool {
	return c.name == program && c.hasArg(sub)
}

// operands returns the words that are not flags, leaving out the value
// that follows any flag in valued (given without its dashes).
func (c cmd) operands(valued ...string) []string {
	var out []string
	for i := 0; i < len(c.args); i++ {
		a := c.args[i]
		if a == "--" {
			return append(out, c.args[i+1:]...)
		}
		if !isFlag(a) {
			out = append(out, a)
			continue
		}
		if strings.Contains(a, "=") {
			continue
		}
		names := flagNames(a)
		if len(names) == 0 {
			continue
		}
		last := names[len(names)-1]
		for _, v := range valued {
			if last == v {
				i++ // the flag's value
				break
			}
		}
	}
	return out
}

// setsPipefail reports whether the command is `set -o pipefail` (or a
// shell started with it), in any of its spellings such as `set -euo pipefail`.
func (c cmd) setsPipefail() bool {
	if c.name != "set" && !isShell(c.name) {
		return false
	}
	return c.hasFlag("o") && c.hasArg("pipefail")
}

// The helpers below read a command the way hadolint does, so rules that
// copy its judgement copy its edge cases too: flags are counted wherever
// they stand ("--" ends nothing), "-" and "--" are operands, and a flag's
// value is simply the next word.

// hlFlags returns hadolint's flag names: "--a=b" gives "a", "-xy" gives
// "x" and "y".
func (c cmd) hlFlags() []string {
	var out []string
	for _, a := range c.args {
		out = append(out, flagNames(a)...)
	}
	return out
}

// countFlag counts how often flag name is given.
func (c cmd) countFlag(name string) int {
	n := 0
	for _, f := range c.hlFlags() {
		if f == name {
			n++
		}
	}
	return n
}

// hasAnyFlag reports whether any of names is among hadolint's flags.
func (c cmd) hasAnyFlag(names ...string) bool {
	for _, a := range c.args {
		for _, f := range flagNames(a) {
			if slices.Contains(names, f) {
				return true
			}
		}
	}
	return false
}

// words returns the arguments that are not flags, as hadolint's
// getArgsNoFlags: flag values stay in unless dropFlagArg removed them.
func (c cmd) words() []string {
	var out []string
	for _, a := range c.args {
		if len(flagNames(a)) == 0 {
			out = append(out, a)
		}
	}
	return out
}

// dropFlagArg removes the word after each flag in names that has no
// inline "=value".
func (c cmd) dropFlagArg(names ...string) cmd {
	out := cmd{name: c.name, sudo: c.sudo}
	for i := 0; i < len(c.args); i++ {
		a := c.args[i]
		out.args = append(out.args, a)
		if strings.Contains(a, "=") {
			continue
		}
		for _, f := range flagNames(a) {
			if slices.Contains(names, f) {
				i++ // its value
				break
			}
		}
	}
	return out
}

// flagArg returns the words following flag name.
func (c cmd) flagArg(name string) []string {
	var out []string
	for i, a := range c.args {
		if i+1 < len(c.args) && slices.Contains(flagNames(a), name) {
			out = append(out, c.args[i+1])
		}
	}
	return out
}

// has reports whether the command is program with any of args among its
// words, as hadolint's cmdHasArgs.
func (c cmd) has(program string, args ...string) bool {
	if c.name != program {
		return false
	}
	for _, a := range c.args {
		if slices.Contains(args, a) {
			return true
		}
	}
	return false
}

// index returns the position of the first command for which ok holds, or -1.
func (s *script) index(ok func(cmd) bool) int {
	return slices.IndexFunc(s.cmds, ok)
}

// any reports whether ok holds for one of the commands.
func (s *script) any(ok func(cmd) bool) bool {
	return s != nil && slices.ContainsFunc(s.cmds, ok)
}

// cleanedAfter reports whether a command matching clean follows the first
// one matching install, as hadolint's index comparison does. A script
// without install counts as clean.
func (s *script) cleanedAfter(install, clean func(cmd) bool) bool {
	i := s.index(install)
	if i < 0 {
		return true
	}
	j := s.index(clean)
	return j >= 0 && i < j
}

package dockerfile

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// The ShellCheck checks people meet most in RUN lines, written on the
// shell AST kaj builds anyway. Each keeps ShellCheck's code, severity and
// message, so `# hadolint ignore=SC2086` and `# shellcheck disable=SC2086`
// lists keep working. They are kaj's own reading of ShellCheck's
// documentation (https://www.shellcheck.net/wiki/), not ShellCheck: they
// find less than it does and are tuned to report nothing ShellCheck would
// not.

// scFinding is one ShellCheck finding in a RUN's shell code.
type scFinding struct {
	code string
	msg  string // "" for the rule's own message
}

// sc makes a ShellCheck rule: it reports the RUNs whose shell code holds a
// finding with its code.
func sc(code string, sev Severity, msg, fix string) rule {
	return rule{
		Rule: Rule{code, sev, msg, "https://www.shellcheck.net/wiki/" + code, SourceShellCheck, fix},
		check: func(v *view, report func(*inst)) {
			for _, in := range v.insts {
				if in.run == nil {
					continue
				}
				for _, f := range in.run.sc {
					if f.code != code {
						continue
					}
					if f.msg != "" {
						v.say(in, f.msg)
					} else {
						report(in)
					}
				}
			}
		},
	}
}

// shellCheckRules are appended to rules, after the DL rules.
var shellCheckRules = []rule{
	// hadolint runs ShellCheck with SC1091 excluded, as a Dockerfile has
	// no way to say where a sourced file is; kaj has it, off by default.
	sc("SC1091", SeverityIgnore, "Not following: sourced file was not specified as input (see shellcheck -x).",
		"Make sure the sourced file exists in the image, or ignore SC1091."),
	sc("SC2006", SeverityStyle, "Use $(...) notation instead of legacy backticks `...`.",
		"Replace `cmd` with $(cmd)."),
	sc("SC2016", SeverityInfo, "Expressions don't expand in single quotes, use double quotes for that.",
		"Use double quotes if the variable should expand, or ignore SC2016 if not."),
	sc("SC2028", SeverityInfo, "echo may not expand escape sequences. Use printf.",
		`Use printf '%s\n' instead of echo with escapes.`),
	sc("SC2035", SeverityInfo, "Use ./*glob* or -- *glob* so names with dashes won't become options.",
		"Write ./*.ext, or put -- before the glob."),
	sc("SC2046", SeverityWarning, "Quote this to prevent word splitting.",
		`Quote the substitution: "$(cmd)".`),
	sc("SC2086", SeverityInfo, "Double quote to prevent globbing and word splitting.",
		`Quote the variable: "$var".`),
	sc("SC2155", SeverityWarning, "Declare and assign separately to avoid masking return values.",
		"Write `export x; x=$(cmd)` so a failing cmd is seen."),
	sc("SC2164", SeverityWarning, "Use 'cd ... || exit' or 'cd ... || return' in case cd fails.",
		"Write `cd dir || exit` (or `&&` the next command), or use WORKDIR."),
	sc("SC2181", SeverityStyle, "Check exit code directly with e.g. 'if mycmd;', not indirectly with $?.",
		"Test the command itself: `if mycmd; then`."),
	sc("SC2196", SeverityInfo, "egrep is non-standard and deprecated. Use grep -E instead.",
		"Replace egrep with grep -E."),
	sc("SC2197", SeverityInfo, "fgrep is non-standard and deprecated. Use grep -F instead.",
		"Replace fgrep with grep -F."),
}

func init() { rules = append(rules, shellCheckRules...) }

// singleQuotedExpansion is what SC2016 looks for in single quotes.
var singleQuotedExpansion = regexp.MustCompile("\\$[{(0-9a-zA-Z_]|`.*`")

// echoEscape is an escape sequence echo prints as it stands in POSIX sh.
var echoEscape = regexp.MustCompile(`\\[abefnrtv]`)

// noSC2016 are commands that take single-quoted code of their own, where
// ShellCheck expects $ to stay as it is.
var noSC2016 = []string{"trap", "sh", "bash", "ksh", "zsh", "ssh", "eval", "xprop", "alias", "sudo", "docker",
	"podman", "dpkg-query", "jq", "rename", "rg", "unset", "git", "mumps", "ldapsearch", "find", "xargs", "env", "su"}

// comparisonOps are the test operators SC2181 looks for next to $?.
var comparisonOps = []string{"-eq", "-ne", "-gt", "-ge", "-lt", "-le", "=", "==", "!="}

// shellCheck runs the checks on one parsed script and records what it finds.
func shellCheck(s *script, src string, f *syntax.File) {
	disabled := scDisabled(src)
	add := func(code, msg string) {
		if !disabled[code] && !slices.ContainsFunc(s.sc, func(x scFinding) bool { return x.code == code }) {
			s.sc = append(s.sc, scFinding{code, msg})
		}
	}
	safe := safeVariables(f)
	errexit := setsErrexit(f)
	checked := map[*syntax.Stmt]bool{} // statements whose failure is tested
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.BinaryCmd:
			if n.Op == syntax.AndStmt || n.Op == syntax.OrStmt {
				checked[n.X] = true
			}
		case *syntax.IfClause:
			for _, st := range n.Cond {
				checked[st] = true
			}
		case *syntax.WhileClause:
			for _, st := range n.Cond {
				checked[st] = true
			}
		case *syntax.Stmt:
			// A chain tested as a whole tests its last command too.
			if bc, ok := n.Cmd.(*syntax.BinaryCmd); ok && checked[n] && (bc.Op == syntax.AndStmt || bc.Op == syntax.OrStmt) {
				checked[bc.Y] = true
			}
			if call, ok := n.Cmd.(*syntax.CallExpr); ok && !checked[n] && !errexit && !n.Negated {
				if name, _ := callName(src, call); name == "cd" {
					add("SC2164", "")
				}
			}
		case *syntax.CmdSubst:
			if n.Backquotes {
				add("SC2006", "")
			}
		case *syntax.DeclClause:
			for _, a := range n.Args {
				if a.Value != nil && hasCmdSubst(a.Value.Parts) {
					add("SC2155", "")
				}
			}
		case *syntax.BinaryTest:
			if isExitStatus(n.X) || isExitStatus(n.Y) {
				add("SC2181", "")
			}
		case *syntax.CallExpr:
			callChecks(src, n, safe, add)
		}
		return true
	})
}

// callName returns a simple command's name as written, if it is literal.
func callName(src string, call *syntax.CallExpr) (string, bool) {
	if len(call.Args) == 0 {
		return "", false
	}
	return wordText(src, call.Args[0])
}

func callChecks(src string, call *syntax.CallExpr, safe map[string]bool, add func(code, msg string)) {
	name, ok := callName(src, call)
	if !ok {
		return
	}
	name = path.Base(name)
	args := call.Args[1:]
	switch name {
	case "egrep":
		add("SC2196", "")
	case "fgrep":
		add("SC2197", "")
	case "source", ".":
		if len(args) > 0 {
			file, _ := wordText(src, args[0])
			add("SC1091", fmt.Sprintf("Not following: %s was not specified as input (see shellcheck -x).", file))
		}
	case "[", "test":
		for i, w := range args {
			if isExitStatus(w) && (i+1 < len(args) && isOp(src, args[i+1]) || i > 0 && isOp(src, args[i-1])) {
				add("SC2181", "")
			}
		}
	case "echo":
		if len(args) > 0 {
			if first, _ := wordText(src, args[0]); !(strings.HasPrefix(first, "-") && strings.ContainsAny(first, "eE")) {
				for _, w := range args {
					if quotedMatch(w.Parts, echoEscape) {
						add("SC2028", "")
					}
				}
			}
		}
	}
	exemptSQ := slices.Contains(noSC2016, name) || strings.HasSuffix(name, "awk") ||
		hasAnyPrefix(name, "perl", "python", "ruby", "php")
	afterDashes := false
	for _, w := range args {
		if t, _ := wordText(src, w); t == "--" {
			afterDashes = true
		}
		for _, p := range w.Parts {
			switch p := p.(type) {
			case *syntax.SglQuoted:
				if !exemptSQ && !p.Dollar && singleQuotedExpansion.MatchString(p.Value) {
					add("SC2016", "")
				}
			case *syntax.CmdSubst:
				add("SC2046", "")
			case *syntax.ParamExp:
				if unsafeExpansion(p, safe) {
					add("SC2086", "")
				}
			}
		}
		if lit, ok := w.Parts[0].(*syntax.Lit); ok && strings.HasPrefix(lit.Value, "*") && !afterDashes &&
			name != "echo" && name != "printf" {
			add("SC2035", "")
		}
	}
}

// unsafeExpansion reports whether an unquoted $var may split or glob:
// special parameters and lengths cannot, nor variables the script only
// ever sets to a plain word.
func unsafeExpansion(p *syntax.ParamExp, safe map[string]bool) bool {
	if p.Length || p.Param == nil {
		return false
	}
	switch p.Param.Value {
	case "#", "?", "$", "!", "-", "@", "*":
		return false
	}
	return !safe[p.Param.Value]
}

// proxyVariables are the variables hadolint tells ShellCheck are set.
var proxyVariables = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy"}

// safeVariables lists variables assigned only plain words without spaces
// or glob characters in the script.
func safeVariables(f *syntax.File) map[string]bool {
	safe, unsafe := map[string]bool{}, map[string]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		a, ok := n.(*syntax.Assign)
		if !ok || a.Name == nil {
			return true
		}
		plain := a.Value != nil && len(a.Value.Parts) == 1
		if plain {
			lit, ok := a.Value.Parts[0].(*syntax.Lit)
			plain = ok && !strings.ContainsAny(lit.Value, " \t\n*?[]\\")
		}
		if plain && !a.Append && a.Index == nil {
			safe[a.Name.Value] = true
		} else {
			unsafe[a.Name.Value] = true
		}
		return true
	})
	for n := range unsafe {
		delete(safe, n)
	}
	for _, n := range proxyVariables {
		if !unsafe[n] {
			safe[n] = true
		}
	}
	return safe
}

// setsErrexit reports whether the script runs `set -e` (in any spelling,
// such as -eux or -o errexit), which makes every unchecked failure fatal.
func setsErrexit(f *syntax.File) bool {
	found := false
	syntax.Walk(f, func(n syntax.Node) bool {
		call, ok := n.(*syntax.CallExpr)
		if !ok || found || len(call.Args) < 2 {
			return !found
		}
		if lit := call.Args[0].Lit(); lit != "set" {
			return true
		}
		for i, w := range call.Args[1:] {
			a := w.Lit()
			if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "e") {
				found = true
			}
			if a == "-o" && i+2 < len(call.Args) && call.Args[i+2].Lit() == "errexit" {
				found = true
			}
		}
		return !found
	})
	return found
}

func hasCmdSubst(parts []syntax.WordPart) bool {
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.CmdSubst:
			return true
		case *syntax.DblQuoted:
			if hasCmdSubst(p.Parts) {
				return true
			}
		}
	}
	return false
}

// quotedMatch reports whether quoted text in parts matches re.
func quotedMatch(parts []syntax.WordPart, re *regexp.Regexp) bool {
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.SglQuoted:
			if re.MatchString(p.Value) {
				return true
			}
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if l, ok := q.(*syntax.Lit); ok && re.MatchString(l.Value) {
					return true
				}
			}
		}
	}
	return false
}

// isExitStatus reports whether a test operand is $? (quoted or not).
func isExitStatus(n syntax.Node) bool {
	w, ok := n.(*syntax.Word)
	if !ok || len(w.Parts) != 1 {
		return false
	}
	p := w.Parts[0]
	if dq, ok := p.(*syntax.DblQuoted); ok && len(dq.Parts) == 1 {
		p = dq.Parts[0]
	}
	pe, ok := p.(*syntax.ParamExp)
	return ok && pe.Param != nil && pe.Param.Value == "?" && !pe.Length
}

func isOp(src string, w *syntax.Word) bool {
	t, _ := wordText(src, w)
	return slices.Contains(comparisonOps, t)
}

// scDisabled reads `# shellcheck disable=` directives in the script. They
// apply to the whole RUN: ShellCheck scopes them to the next command, but
// a RUN is usually one command chain.
func scDisabled(src string) map[string]bool {
	if !strings.Contains(src, "shellcheck") {
		return nil
	}
	out := map[string]bool{}
	for _, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			for _, c := range parseShellCheckDisable(line[i:]) {
				out[c] = true
			}
		}
	}
	return out
}

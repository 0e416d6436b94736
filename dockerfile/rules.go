package dockerfile

import (
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
)

// Rule describes one check: hadolint's code, default severity and message,
// so users can look a finding up and keep their hadolint ignore lists.
type Rule struct {
	Code        string   `json:"code"`
	Severity    Severity `json:"severity"` // SeverityIgnore: off unless overridden
	Description string   `json:"description"`
	URL         string   `json:"url"` // hadolint's page for the rule
}

// view is the instruction list one pass of the rules sees: the Dockerfile,
// or its ONBUILD triggers, which hadolint checks as a file of their own.
type view struct {
	insts   []*inst
	stages  []stage
	onbuild bool
}

type rule struct {
	Rule
	check func(v *view, report func(*inst))
}

// Rules lists the rules Lint applies, ordered by code.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = r.Rule
	}
	return out
}

// knownCode reports whether code is one of Rules.
func knownCode(code string) bool {
	_, ok := slices.BinarySearchFunc(rules, code, func(r rule, c string) int { return strings.Compare(r.Code, c) })
	return ok
}

func newRule(code string, sev Severity, msg string, check func(*view, func(*inst))) rule {
	return rule{Rule{code, sev, msg, "https://github.com/hadolint/hadolint/wiki/" + code}, check}
}

// rules is sorted by code.
var rules = []rule{
	newRule("DL3000", SeverityError, "Use absolute WORKDIR.", dl3000),
	newRule("DL3002", SeverityWarning, "Last USER should not be root.", dl3002),
	newRule("DL3003", SeverityWarning, "Use WORKDIR to switch to a directory", runUses("cd")),
	newRule("DL3004", SeverityError, "Do not use sudo as it leads to unpredictable behavior. Use a tool like gosu to enforce root", runCmd(func(c cmd) bool { return c.sudo || c.name == "sudo" })),
	newRule("DL3006", SeverityWarning, "Always tag the version of an image explicitly", dl3006),
	newRule("DL3007", SeverityWarning, "Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag", dl3007),
	newRule("DL3008", SeverityWarning, "Pin versions in apt get install. Instead of `apt-get install <package>` use `apt-get install <package>=<version>`", runCmd(dl3008)),
	newRule("DL3009", SeverityInfo, "Delete the apt-get lists after installing something", dl3009),
	newRule("DL3013", SeverityWarning, "Pin versions in pip. Instead of `pip install <package>` use `pip install <package>==<version>` or `pip install --requirement <requirements file>`", runCmd(dl3013)),
	newRule("DL3015", SeverityInfo, "Avoid additional packages by specifying `--no-install-recommends`", runCmd(dl3015)),
	newRule("DL3016", SeverityWarning, "Pin versions in npm. Instead of `npm install <package>` use `npm install <package>@<version>`", runCmd(dl3016)),
	newRule("DL3018", SeverityWarning, "Pin versions in apk add. Instead of `apk add <package>` use `apk add <package>=<version>`", runCmd(dl3018)),
	newRule("DL3019", SeverityInfo, "Use the `--no-cache` switch to avoid the need to use `--update` and remove `/var/cache/apk/*` when done installing packages", dl3019),
	newRule("DL3020", SeverityError, "Use COPY instead of ADD for files and folders", dl3020),
	newRule("DL3021", SeverityError, "COPY with more than 2 arguments requires the last argument to end with /", dl3021),
	newRule("DL3022", SeverityWarning, "`COPY --from` should reference a previously defined `FROM` alias", dl3022),
	newRule("DL3025", SeverityWarning, "Use arguments JSON notation for CMD and ENTRYPOINT arguments", dl3025),
	newRule("DL3027", SeverityWarning, "Do not use apt as it is meant to be a end-user tool, use apt-get or apt-cache instead", runUses("apt")),
	newRule("DL3042", SeverityWarning, "Use BuildKit cache mount for pip (`--mount=type=cache,target=/root/.cache/pip`) or use `pip install --no-cache-dir <package>` to avoid cache bloat", dl3042),
	newRule("DL3045", SeverityWarning, "`COPY` to a relative destination without `WORKDIR` set.", dl3045),
	newRule("DL3047", SeverityWarning, "Avoid use of wget without progress bar. Use `wget --progress=dot:giga <url>`. Or consider using `-q` or `-nv` (shorthands for `--quiet` or `--no-verbose`).", runCmd(dl3047)),
	newRule("DL3048", SeverityStyle, "Invalid label key.", dl3048),
	newRule("DL3057", SeverityIgnore, "`HEALTHCHECK` instruction missing.", dl3057),
	newRule("DL3059", SeverityInfo, "Multiple consecutive `RUN` instructions. Consider consolidation.", dl3059),
	newRule("DL4000", SeverityError, "MAINTAINER is deprecated", dl4000),
	newRule("DL4001", SeverityWarning, "Either use Wget or Curl but not both", dl4001),
	newRule("DL4003", SeverityWarning, "Multiple `CMD` instructions found. If you list more than one `CMD` then only the last `CMD` will take effect", repeated(command.Cmd)),
	newRule("DL4004", SeverityError, "Multiple `ENTRYPOINT` instructions found. If you list more than one `ENTRYPOINT` then only the last `ENTRYPOINT` will take effect", repeated(command.Entrypoint)),
	newRule("DL4006", SeverityWarning, "Set the SHELL option -o pipefail before RUN with a pipe in it. If you are using /bin/sh in an alpine image or if your shell is symlinked to busybox then consider explicitly setting your SHELL to /bin/ash, or disable this check", dl4006),
}

// runCmd reports a RUN when bad holds for any command it runs.
func runCmd(bad func(cmd) bool) func(*view, func(*inst)) {
	return func(v *view, report func(*inst)) {
		for _, in := range v.insts {
			if in.run != nil && slices.ContainsFunc(in.run.cmds, bad) {
				report(in)
			}
		}
	}
}

// runUses reports a RUN that runs program.
func runUses(program string) func(*view, func(*inst)) {
	return runCmd(func(c cmd) bool { return c.name == program })
}

// repeated reports every instruction of kind after the first in a stage:
// only the last one takes effect.
func repeated(kind string) func(*view, func(*inst)) {
	return func(v *view, report func(*inst)) {
		seen := false
		for _, in := range v.insts {
			switch in.cmd {
			case command.From:
				seen = false
			case kind:
				if seen {
					report(in)
				}
				seen = true
			}
		}
	}
}

func dl3000(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd != command.Workdir {
			continue
		}
		p := in.args[0]
		windows := len(p) >= 2 && p[1] == ':' && isLetter(p[0])
		if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "$") && !windows {
			report(in)
		}
	}
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func dl3002(v *view, report func(*inst)) {
	lastRoot := map[int]*inst{} // stage -> its last USER when that is root
	for _, in := range v.insts {
		if in.cmd != command.User {
			continue
		}
		u := in.args[0]
		if u == "root" || u == "0" || strings.HasPrefix(u, "root:") || strings.HasPrefix(u, "0:") {
			lastRoot[in.stage] = in
		} else {
			delete(lastRoot, in.stage)
		}
	}
	for _, in := range v.insts {
		if lastRoot[in.stage] == in {
			report(in)
		}
	}
}

func dl3006(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd != command.From {
			continue
		}
		st := v.stages[in.stage]
		switch {
		case !st.resolved, st.name == "", st.tag != "", st.digest != "",
			strings.EqualFold(st.name, "scratch"), strings.HasPrefix(st.name, "$"),
			isEarlierStage(v.stages, st.name, in.stage):
		default:
			report(in)
		}
	}
}

func dl3007(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd == command.From && v.stages[in.stage].tag == "latest" {
			report(in)
		}
	}
}

// isEarlierStage reports whether name is the AS name of one of the first n stages.
func isEarlierStage(stages []stage, name string, n int) bool {
	name = strings.ToLower(name)
	for i := 0; i < n && i < len(stages); i++ {
		if stages[i].alias != "" && stages[i].alias == name {
			return true
		}
	}
	return false
}

func dl3008(c cmd) bool {
	if !c.is("apt-get", "install") {
		return false
	}
	for _, p := range c.operands("t", "target-release", "o", "option", "c", "config-file") {
		if p != "install" && !strings.Contains(p, "=") && !strings.Contains(p, "/") && !strings.HasSuffix(p, ".deb") {
			return true
		}
	}
	return false
}

func dl3009(v *view, report func(*inst)) {
	var forgot []*inst
	for _, in := range v.insts {
		if in.run == nil || !slices.ContainsFunc(in.run.cmds, func(c cmd) bool { return c.is("apt-get", "update") }) {
			continue
		}
		cleaned := slices.ContainsFunc(in.run.cmds, func(c cmd) bool {
			return c.name == "rm" && slices.ContainsFunc(c.args, func(a string) bool {
				return strings.HasPrefix(a, "/var/lib/apt/lists")
			})
		})
		targets := in.cacheMountTargets()
		under := func(dir string) bool {
			return slices.ContainsFunc(targets, func(t string) bool { return strings.HasPrefix(t, dir) })
		}
		if !cleaned && !under("/var/lib/apt/lists") && !(under("/var/lib/apt") && under("/var/cache/apt")) {
			forgot = append(forgot, in)
		}
	}
	// Only the lists left in an image matter: the last stage's, or those
	// of a stage another FROM builds on.
	for _, in := range forgot {
		if in.stage == len(v.stages)-1 || (in.stage >= 0 && usedAsBase(v.stages, v.stages[in.stage].alias)) {
			report(in)
		}
	}
}

// usedAsBase reports whether a FROM names the stage called alias.
func usedAsBase(stages []stage, alias string) bool {
	if alias == "" {
		return false
	}
	for _, st := range stages {
		if strings.EqualFold(st.ref, alias) {
			return true
		}
	}
	return false
}

// isPipInstall matches pip install and python -m pip install, by the
// program name as written, as hadolint does: `pip3` matches, `.venv/bin/pip3`
// does not.
func isPipInstall(c cmd) bool {
	if strings.HasPrefix(c.name, "pip") && c.hasArg("install") {
		return true
	}
	if !strings.HasPrefix(c.name, "python") {
		return false
	}
	for i := 0; i+2 < len(c.args); i++ {
		if c.args[i] == "-m" && c.args[i+1] == "pip" && c.args[i+2] == "install" {
			return true
		}
	}
	return false
}

// pipValued are pip install's flags that take a value.
var pipValued = []string{
	"abi", "b", "build", "e", "editable", "extra-index-url", "f", "find-links", "i", "index-url",
	"implementation", "no-binary", "only-binary", "platform", "prefix", "progress-bar", "proxy",
	"python-version", "root", "src", "t", "target", "trusted-host", "upgrade-strategy",
}

func dl3013(c cmd) bool {
	if !isPipInstall(c) || c.hasArg(".") || c.hasFlag("r", "requirement", "c", "constraint") {
		return false
	}
	ops := c.operands(pipValued...)
	if i := slices.Index(ops, "install"); i >= 0 {
		ops = ops[i+1:]
	}
	for _, p := range ops {
		if p == "install" {
			continue
		}
		pinned := strings.HasSuffix(p, ".whl") || strings.HasSuffix(p, ".tar.gz") ||
			(strings.Contains(p, "git+http") && strings.Contains(p, "@"))
		for _, op := range []string{"==", ">=", "<=", ">", "<", "!=", "~=", "==="} {
			pinned = pinned || strings.Contains(p, op)
		}
		if !pinned {
			return true
		}
	}
	return false
}

func dl3015(c cmd) bool {
	return c.is("apt-get", "install") && !c.hasFlag("no-install-recommends") &&
		!c.hasArg("APT::Install-Recommends=false") && !c.hasArg("APT::Install-Recommends=0")
}

func dl3016(c cmd) bool {
	ops := c.operands()
	if c.name != "npm" || len(ops) == 0 || ops[0] != "install" {
		return false
	}
	for _, p := range ops[1:] {
		if p == "install" {
			continue
		}
		var pinned bool
		switch {
		case hasAnyPrefix(p, "git://", "git+ssh://", "git+http://", "git+https://"):
			pinned = strings.Contains(p, "#")
		case hasAnySuffix(p, ".tar", ".tar.gz", ".tgz"), hasAnyPrefix(p, "/", "./", "../", "~/"):
			pinned = true
		default:
			name := p
			if strings.HasPrefix(name, "@") { // @scope/name@version
				_, name, _ = strings.Cut(name, "/")
			}
			pinned = strings.Contains(name, "@")
		}
		if !pinned {
			return true
		}
	}
	return false
}

func dl3018(c cmd) bool {
	if !c.is("apk", "add") {
		return false
	}
	for _, p := range c.operands("t", "virtual", "repository", "X") {
		if p != "add" && !strings.Contains(p, "=") {
			return true
		}
	}
	return false
}

func dl3019(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.run == nil || slices.ContainsFunc(in.cacheMountTargets(), func(t string) bool {
			return strings.TrimRight(t, "/") == "/var/cache/apk"
		}) {
			continue
		}
		if slices.ContainsFunc(in.run.cmds, func(c cmd) bool { return c.is("apk", "add") && !c.hasFlag("no-cache") }) {
			report(in)
		}
	}
}

func dl3020(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd != command.Add {
			continue
		}
		for _, src := range in.args[:len(in.args)-1] {
			archive := hasAnySuffix(src, ".tar", ".gz", ".bz2", ".xz", ".zip", ".tgz", ".tb2", ".tbz",
				".tbz2", ".lz", ".lzma", ".tlz", ".txz", ".Z", ".tZ")
			remote := hasAnyPrefix(src, "https://", "http://", "git@", "git://")
			if !archive && !remote {
				report(in)
				break
			}
		}
	}
}

func dl3021(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd != command.Copy || len(in.args) <= 2 {
			continue
		}
		// A destination held in a variable may well end with a slash.
		if dest := in.args[len(in.args)-1]; !strings.HasSuffix(dest, "/") && !strings.Contains(dest, "$") {
			report(in)
		}
	}
}

func dl3022(v *view, report func(*inst)) {
	if v.onbuild {
		return // a trigger copies from stages of a Dockerfile not written yet
	}
	for _, in := range v.insts {
		from, ok := in.flag("from")
		if in.cmd != command.Copy || !ok || strings.ContainsAny(from, ":$") {
			continue // an image reference, or a variable
		}
		if isEarlierStage(v.stages, from, in.stage+1) {
			continue
		}
		if n, err := strconv.Atoi(from); err == nil && n >= 0 && n <= in.stage {
			continue
		}
		report(in)
	}
}

func dl3025(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if (in.cmd == command.Cmd || in.cmd == command.Entrypoint) && !in.json {
			report(in)
		}
	}
}

func dl3042(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.run == nil || slices.ContainsFunc(in.cacheMountTargets(), func(t string) bool {
			return strings.Contains(t, ".cache/pip")
		}) {
			continue
		}
		if slices.ContainsFunc(in.run.cmds, func(c cmd) bool {
			return isPipInstall(c) && !isPipWrapper(c) && !c.hasArg("--no-cache-dir")
		}) {
			report(in)
		}
	}
}

// isPipWrapper matches pipx and pipenv, which manage their own caches.
func isPipWrapper(c cmd) bool {
	for _, w := range []string{"pipx", "pipenv"} {
		if strings.Contains(c.name, w) {
			return true
		}
		if strings.HasPrefix(c.name, "python") {
			for i := 0; i+1 < len(c.args); i++ {
				if c.args[i] == "-m" && c.args[i+1] == w {
					return true
				}
			}
		}
	}
	return false
}

func dl3045(v *view, report func(*inst)) {
	workdir := map[int]bool{} // stage -> a WORKDIR is in force
	for _, in := range v.insts {
		switch in.cmd {
		case command.From:
			// A stage built on an earlier one inherits its WORKDIR.
			name := strings.ToLower(v.stages[in.stage].ref)
			for i := in.stage - 1; i >= 0; i-- {
				if v.stages[i].alias != "" && v.stages[i].alias == name {
					workdir[in.stage] = workdir[i]
					break
				}
			}
		case command.Workdir:
			workdir[in.stage] = true
		case command.Copy:
			dest := in.args[len(in.args)-1]
			absolute := strings.HasPrefix(dest, "/") || strings.HasPrefix(dest, "$") ||
				(len(dest) >= 3 && dest[1] == ':' && (dest[2] == '\\' || dest[2] == '/'))
			if !workdir[in.stage] && !absolute {
				report(in)
			}
		}
	}
}

func dl3048(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd != command.Label {
			continue
		}
		for i := 0; i < len(in.args); i += 3 {
			if !validLabelKey(in.args[i]) {
				report(in)
				break
			}
		}
	}
}

// validLabelKey applies Docker's recommendations for label keys: lower-case
// alphanumerics, dots and dashes, starting with a letter, ending with a
// letter or digit, no doubled separators, no reserved namespace.
func validLabelKey(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	if last := k[len(k)-1]; !('a' <= last && last <= 'z' || '0' <= last && last <= '9') {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return !strings.Contains(k, "..") && !strings.Contains(k, "--") &&
		!hasAnyPrefix(k, "com.docker.", "io.docker.", "org.dockerproject.")
}

func dl3057(v *view, report func(*inst)) {
	healthy := map[int]bool{} // stage -> has, or inherits, a HEALTHCHECK
	for _, in := range v.insts {
		switch in.cmd {
		case command.From:
			name := strings.ToLower(v.stages[in.stage].ref)
			for i := in.stage - 1; i >= 0; i-- {
				if v.stages[i].alias != "" && v.stages[i].alias == name {
					healthy[in.stage] = healthy[i]
					break
				}
			}
		case command.Healthcheck:
			healthy[in.stage] = true
		}
	}
	for _, in := range v.insts {
		if in.cmd == command.From && !healthy[in.stage] {
			report(in)
		}
	}
}

func dl3059(v *view, report func(*inst)) {
	var prev *inst // the RUN just before, if the previous instruction was one
	for _, in := range v.insts {
		if in.cmd != command.Run {
			prev = nil
			continue
		}
		// Separate RUNs are often deliberate when each already chains
		// several commands, or when their mounts or network differ.
		if prev != nil && sameFlags(prev.flags, in.flags) && len(prev.run.cmds) <= 2 && len(in.run.cmds) <= 2 {
			report(in)
		}
		prev = in
	}
}

// sameFlags compares builder flags regardless of their order.
func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func dl4000(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd == command.Maintainer {
			report(in)
		}
	}
}

func dl4001(v *view, report func(*inst)) {
	used := map[string]bool{}
	for _, in := range v.insts {
		if in.cmd == command.From {
			clear(used)
		}
		if in.run == nil {
			continue
		}
		here := false
		for _, c := range in.run.cmds {
			if c.name == "curl" || c.name == "wget" {
				used[c.name], here = true, true
			}
		}
		if here && len(used) == 2 {
			report(in)
		}
	}
}

func dl4006(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.run != nil && in.run.unsafePipe {
			report(in)
		}
	}
}

func dl3047(c cmd) bool {
	return c.name == "wget" && !c.hasFlag("progress", "q", "quiet", "o", "output-file", "a", "append-output", "no-verbose") &&
		!c.hasArg("-nv")
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func hasAnySuffix(s string, suffixes ...string) bool {
	for _, p := range suffixes {
		if strings.HasSuffix(s, p) {
			return true
		}
	}
	return false
}

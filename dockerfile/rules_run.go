package dockerfile

import (
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
)

// Rules on the shell code of RUN: package managers and their caches.

// forgotInStage reports the RUNs for which forgot holds, but only where what
// they leave behind ends up in an image: in the last stage, or in a stage
// another FROM builds on. RUNs before any FROM count as the last stage's
// when no FROM follows, as in hadolint.
func forgotInStage(forgot func(*inst) bool) func(*view, func(*inst)) {
	return func(v *view, report func(*inst)) {
		for _, in := range v.insts {
			if in.run == nil || !forgot(in) {
				continue
			}
			if in.stage == len(v.stages)-1 || (in.stage >= 0 && usedAsBase(v.stages, v.stages[in.stage].alias)) {
				report(in)
			}
		}
	}
}

// hasCacheMount reports whether a cache or tmpfs mount's target contains frag.
func (in *inst) hasCacheMount(frag string) bool {
	return slices.ContainsFunc(in.cacheMountTargets(), func(t string) bool { return strings.Contains(t, frag) })
}

var dl3009 = forgotInStage(func(in *inst) bool {
	update := in.run.any(func(c cmd) bool {
		return c.has("apt-get", "update") || c.has("apt", "update") || c.has("aptitude", "update")
	})
	if !update {
		return false
	}
	// hadolint takes any `rm -rf` as the clean-up; kaj also takes an rm
	// of anything under /var/lib/apt/lists.
	cleaned := in.run.any(func(c cmd) bool {
		return c.has("rm", "-rf", "/var/lib/apt/lists/*") || (c.name == "rm" && slices.ContainsFunc(c.args, func(a string) bool {
			return strings.HasPrefix(a, "/var/lib/apt/lists")
		}))
	})
	return !cleaned && !in.hasCacheMount("/var/lib/apt/lists") &&
		!(in.hasCacheMount("/var/lib/apt") && in.hasCacheMount("/var/cache/apt"))
})

// isPipInstall matches pip install and python -m pip install by the program
// name as written, as hadolint does: `pip3` matches, `.venv/bin/pip3` does not.
func isPipInstall(c cmd) bool {
	if strings.HasPrefix(c.name, "pip") && !strings.HasPrefix(c.name, "pipenv") && c.hasArg("install") {
		return true
	}
	return strings.HasPrefix(c.name, "python") && hasSeq(c.args, "-m", "pip", "install")
}

// hasSeq reports whether seq occurs in args as consecutive words.
func hasSeq(args []string, seq ...string) bool {
	for i := 0; i+len(seq) <= len(args); i++ {
		if slices.Equal(args[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

// afterInstall drops the words up to and including the first "install"s.
func afterInstall(words []string) []string {
	i := slices.Index(words, "install")
	if i < 0 {
		return nil
	}
	words = words[i:]
	for len(words) > 0 && words[0] == "install" {
		words = words[1:]
	}
	return words
}

// pipVCS are the version-control schemes pip installs from.
var pipVCS = []string{"git+file", "git+https", "git+ssh", "git+http", "git+git", "git", "hg+file", "hg+http",
	"hg+https", "hg+ssh", "hg+static-http", "svn", "svn+svn", "svn+http", "svn+https", "svn+ssh",
	"bzr+http", "bzr+https", "bzr+ssh", "bzr+sftp", "bzr+ftp", "bzr+lp"}

func dl3013(c cmd) bool {
	if !isPipInstall(c) || c.hasAnyFlag("constraint", "c") ||
		hasSeq(c.args, "--requirement") || hasSeq(c.args, "-r") || hasSeq(c.args, ".") {
		return false
	}
	pkgs := afterInstall(c.dropFlagArg("abi", "b", "build", "e", "editable", "extra-index-url", "f", "find-links",
		"i", "index-url", "implementation", "no-binary", "only-binary", "platform", "prefix", "progress-bar",
		"proxy", "python", "python-version", "root", "root-user-action", "src", "t", "target", "trusted-host",
		"upgrade-strategy").words())
	for _, p := range pkgs {
		vcs := hasAnyPrefix(p, pipVCS...)
		pinned := (vcs && strings.Contains(p, "@")) || hasAnySuffix(p, ".whl", ".tar.gz") || (!vcs && strings.Contains(p, "/"))
		for _, op := range []string{"==", ">=", "<=", ">", "<", "!=", "~=", "==="} {
			pinned = pinned || strings.Contains(p, op)
		}
		if !pinned {
			return true
		}
	}
	return false
}

func dl3014(c cmd) bool {
	return c.has("apt-get", "install") && !c.hasAnyFlag("y", "yes", "qq", "assume-yes") &&
		c.countFlag("q") != 2 && c.countFlag("quiet") != 2 && !c.hasArg("-q=2")
}

func dl3016(c cmd) bool {
	if !c.has("npm", "install") {
		return false
	}
	words := c.dropFlagArg("loglevel", "registry").words()
	if len(words) == 0 || words[0] != "install" {
		return false
	}
	for _, p := range afterInstall(words) {
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
	if !c.has("apk", "add") {
		return false
	}
	for _, p := range c.dropFlagArg("t", "virtual", "repository", "X").words() {
		if p != "add" && !strings.ContainsAny(p, "=~><") && !strings.HasSuffix(p, ".apk") {
			return true
		}
	}
	return false
}

func dl3028(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.run != nil && in.run.any(unpinnedGem) {
			report(in)
		}
	}
}

func unpinnedGem(c cmd) bool {
	if !c.has("gem", "install", "i") || c.hasArg("-v") || c.hasArg("--version") ||
		slices.ContainsFunc(c.args, func(a string) bool { return strings.HasPrefix(a, "--version=") }) {
		return false
	}
	args := c.args
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[:i]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			i++ // hadolint takes every option to have a value
			continue
		}
		if a != "install" && a != "i" && !strings.Contains(a, ":") {
			return true
		}
	}
	return false
}

func dl3030(c cmd) bool {
	return c.has("yum", "install", "groupinstall", "localinstall") && !c.hasAnyFlag("y", "assumeyes")
}

func dl3032(v *view, report func(*inst)) {
	install := func(c cmd) bool { return c.has("yum", "install") }
	clean := func(c cmd) bool { return c.has("yum", "clean", "all") || c.has("rm", "-rf", "/var/cache/yum/*") }
	for _, in := range v.insts {
		if in.run != nil && !in.run.cleanedAfter(install, clean) {
			report(in)
		}
	}
}

// rpmPinned checks that yum or dnf packages carry a version (name-version)
// and modules a stream (name:stream). A version held in a variable counts
// when an ARG, or an ENV of the stage or its base, defines it.
func rpmPinned(code string, programs, notPackages []string) func(*view, func(*inst)) {
	installs := func(c cmd) bool { return slices.Contains(programs, c.name) && c.hasArg("install") }
	isModule := func(c cmd) bool { return slices.Contains(programs, c.name) && c.hasArg("module") }
	skip := func(c cmd) bool {
		return slices.Contains(programs, c.name) && slices.ContainsFunc(c.args, func(a string) bool { return slices.Contains(notPackages, a) })
	}
	return func(v *view, report func(*inst)) {
		args := map[string]bool{}
		env := map[string]map[string]bool{} // stage key -> ENV names
		current := ""
		for _, in := range v.insts {
			switch in.cmd {
			case command.Arg:
				for _, n := range in.argNames() {
					args[n] = true
				}
			case command.Env:
				if env[current] == nil {
					env[current] = map[string]bool{}
				}
				for _, p := range in.pairs() {
					env[current][p.key] = true
				}
			case command.From:
				st := v.stages[in.stage]
				key := st.alias
				if key == "" {
					key = "\x00" + st.ref
				}
				inherited := map[string]bool{}
				for k := range env[st.name] {
					inherited[k] = true
				}
				env[key], current = inherited, key
			}
			if in.run == nil {
				continue
			}
			defined := func(pkg string) bool {
				// hadolint sees $v as ${v}.
				for n := range args {
					if refersTo(pkg, n) {
						return true
					}
				}
				for n := range env[current] {
					if refersTo(pkg, n) {
						return true
					}
				}
				return false
			}
			bad := false
			for _, c := range in.run.cmds {
				if !installs(c) {
					continue
				}
				module := isModule(c)
				if !module && skip(c) {
					continue
				}
				for _, p := range c.words() {
					if p == "install" || p == "module" {
						continue
					}
					if module {
						bad = bad || !strings.Contains(p, ":")
					} else {
						bad = bad || !rpmVersioned(p, defined)
					}
				}
			}
			if bad {
				report(in)
			}
		}
	}
}

// rpmVersioned applies hadolint's test for name-version.
func rpmVersioned(pkg string, defined func(string) bool) bool {
	parts := strings.Split(pkg, "-")
	switch {
	case len(parts) <= 1:
		return false
	case strings.HasSuffix(pkg, ".rpm"):
		return true
	case strings.Contains(pkg, "$"):
		return defined(pkg)
	}
	digit := false
	for _, part := range parts[1:] {
		for _, r := range part {
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune(".~^_:+", r)) {
				return false
			}
		}
		digit = digit || (part != "" && part[0] >= '0' && part[0] <= '9')
	}
	return digit
}

func dl3034(c cmd) bool {
	return c.has("zypper", "install", "in", "remove", "rm", "source-install", "si", "patch") &&
		!c.hasAnyFlag("non-interactive", "n", "no-confirm", "y")
}

func dl3036(v *view, report func(*inst)) {
	install := func(c cmd) bool { return c.has("zypper", "install", "in") }
	clean := func(c cmd) bool { return c.has("zypper", "clean", "cc") }
	for _, in := range v.insts {
		if in.run != nil && !in.hasCacheMount("/var/cache/zypp") && !in.run.cleanedAfter(install, clean) {
			report(in)
		}
	}
}

func dl3037(c cmd) bool {
	if !c.has("zypper", "install", "in") {
		return false
	}
	for _, p := range c.words() {
		if p != "install" && p != "in" && !strings.ContainsAny(p, "=<>") && !strings.HasSuffix(p, ".rpm") {
			return true
		}
	}
	return false
}

func dl3038(c cmd) bool {
	return (c.has("dnf", "install", "groupinstall", "localinstall") || c.has("microdnf", "install", "groupinstall", "localinstall")) &&
		!c.hasAnyFlag("y", "assumeyes")
}

func dl3040(v *view, report func(*inst)) {
	installs := []string{"install", "in", "upgrade", "up", "upgrade-minimal", "up-min", "reinstall", "rei"}
	for _, in := range v.insts {
		if in.run == nil || in.hasCacheMount("/var/cache/libdnf5") || in.hasCacheMount(".cache/libdnf5") {
			continue
		}
		for _, prog := range []string{"dnf", "microdnf"} {
			install := func(c cmd) bool { return c.has(prog, installs...) }
			clean := func(c cmd) bool { return c.has(prog, "clean", "all") || c.has("rm", "-rf", "/var/cache/libdnf5*") }
			if !in.run.cleanedAfter(install, clean) {
				report(in)
				break
			}
		}
	}
}

// truthy are the values that switch a pip environment option on.
var truthy = []string{"1", "true", "True", "TRUE", "on", "On", "ON", "yes", "Yes", "YES"}

func dl3042(v *view, report func(*inst)) {
	// PIP_NO_CACHE_DIR set by ENV in a stage, or in the stage it builds on,
	// does the job of --no-cache-dir.
	noCache := map[string]bool{}
	current := "\x00onbuild"
	for _, in := range v.insts {
		switch in.cmd {
		case command.From:
			st := v.stages[in.stage]
			key := st.alias
			if key == "" {
				key = st.name
			}
			noCache[key] = noCache[st.name]
			current = key
		case command.Env:
			for _, p := range in.pairs() {
				if p.key == "PIP_NO_CACHE_DIR" {
					noCache[current] = noCache[current] || slices.Contains(truthy, p.value)
				}
			}
		}
		if in.run == nil || noCache[current] || in.run.setsPipNoCacheDir() || in.hasCacheMount(".cache/pip") {
			continue
		}
		if in.run.any(func(c cmd) bool { return isPipInstall(c) && !c.hasArg("--no-cache-dir") && !isPipWrapper(c) }) {
			report(in)
		}
	}
}

// setsPipNoCacheDir reads the RUN's text as hadolint does: the value after
// the first PIP_NO_CACHE_DIR= starts with a truthy word.
func (s *script) setsPipNoCacheDir() bool {
	_, after, ok := strings.Cut(s.src, "PIP_NO_CACHE_DIR=")
	if !ok {
		return false
	}
	return slices.ContainsFunc(truthy, func(t string) bool { return strings.HasPrefix(after, t) })
}

// isPipWrapper matches pipx and pipenv, which manage their own caches.
func isPipWrapper(c cmd) bool {
	for _, w := range []string{"pipx", "pipenv"} {
		if strings.Contains(c.name, w) || (strings.HasPrefix(c.name, "python") && hasSeq(c.args, "-m", w)) {
			return true
		}
	}
	return false
}

func dl3046(c cmd) bool {
	if c.name != "useradd" || c.hasAnyFlag("l", "no-log-init") || !c.hasAnyFlag("u", "uid") {
		return false
	}
	return slices.ContainsFunc(c.flagArg("u"), func(uid string) bool { return len(uid) > 5 })
}

func dl3047(c cmd) bool {
	return c.name == "wget" && !c.hasAnyFlag("progress", "q", "quiet", "o", "output-file", "a", "append-output", "no-verbose") &&
		!c.hasArg("-nv")
}

var dl3060 = forgotInStage(func(in *inst) bool {
	install := func(c cmd) bool { return c.has("yarn", "install") }
	clean := func(c cmd) bool { return c.has("yarn", "cache", "clean") }
	if !in.run.any(install) {
		return false
	}
	if !in.run.any(clean) {
		return !in.hasCacheMount(".cache/yarn")
	}
	return in.run.index(clean) < in.run.index(install)
})

func dl3062(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.run == nil {
			continue
		}
		var pkgs []string
		for _, c := range in.run.cmds {
			if c.has("go", "run") {
				for i, w := range c.words() {
					// After the package come the program's own arguments.
					if w != "run" && i <= 1 {
						pkgs = append(pkgs, w)
					}
				}
			}
		}
		if len(pkgs) == 0 {
			for _, c := range in.run.cmds {
				if c.has("go", "install", "get") {
					for _, w := range c.words() {
						if w != "install" && w != "get" && w != "tool" {
							pkgs = append(pkgs, w)
						}
					}
				}
			}
		}
		for _, p := range pkgs {
			local := p == "." || strings.HasPrefix(p, "/") || strings.HasPrefix(p, ".")
			pinned := strings.Contains(p, "@") && !strings.HasSuffix(p, "@latest") && !strings.HasSuffix(p, "@none")
			if !local && !pinned {
				report(in)
				break
			}
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

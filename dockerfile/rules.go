package dockerfile

import (
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
)

// Rule describes one check: its code, default severity and message as
// hadolint or ShellCheck give them, so users can look a finding up and keep
// their ignore lists, and a one-line hint on how to fix what it reports.
type Rule struct {
	Code        string   `json:"code"`
	Severity    Severity `json:"severity"` // SeverityIgnore: off unless overridden
	Description string   `json:"description"`
	URL         string   `json:"url"`    // the rule's documentation
	Source      string   `json:"source"` // "hadolint" or "shellcheck"
	Fix         string   `json:"fix"`    // one line on how to fix a finding
}

// Rule sources.
const (
	SourceHadolint   = "hadolint"
	SourceShellCheck = "shellcheck"
)

// view is the instruction list one pass of the rules sees: the Dockerfile,
// or its ONBUILD triggers, which hadolint checks as a file of their own.
type view struct {
	insts   []*inst
	stages  []stage
	onbuild bool
	opts    *Options
	// comments are the file's comment lines, for DL1001.
	comments []comment
	// say reports in with a message of its own, for rules whose message
	// names what they found (a label, a ShellCheck detail).
	say func(in *inst, msg string)
}

// comment is one comment line outside any instruction.
type comment struct {
	line int
	text string
}

type rule struct {
	Rule
	// onbuild: hadolint also applies the rule to ONBUILD triggers.
	onbuild bool
	check   func(v *view, report func(*inst))
}

// Rules lists the rules Lint applies, ordered by code: hadolint's DL rules,
// then the ShellCheck checks run on RUN instructions.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = r.Rule
	}
	return out
}

// ruleByCode returns the rule with code, if Lint has it.
func ruleByCode(code string) (*rule, bool) {
	i, ok := slices.BinarySearchFunc(rules, code, func(r rule, c string) int { return strings.Compare(r.Code, c) })
	if !ok {
		return nil, false
	}
	return &rules[i], true
}

// knownCode reports whether code is one of Rules.
func knownCode(code string) bool {
	_, ok := ruleByCode(code)
	return ok
}

// dl makes a hadolint rule checked on the Dockerfile only.
func dl(code string, sev Severity, msg, fix string, check func(*view, func(*inst))) rule {
	return rule{Rule{code, sev, msg, "https://github.com/hadolint/hadolint/wiki/" + code, SourceHadolint, fix}, false, check}
}

// dlOnbuild makes a hadolint rule that also checks ONBUILD triggers.
func dlOnbuild(code string, sev Severity, msg, fix string, check func(*view, func(*inst))) rule {
	r := dl(code, sev, msg, fix, check)
	r.onbuild = true
	return r
}

// rules is sorted by code, which ruleByCode relies on and TestRules_metadata
// checks; shellcheck.go appends the SC rules, which sort after these.
var rules = []rule{
	dl("DL1001", SeverityIgnore, "Please refrain from using inline ignore pragmas `# hadolint ignore=DLxxxx`.",
		"Fix the finding, or ignore the rule in .hadolint.yaml.", dl1001),
	dl("DL3000", SeverityError, "Use absolute WORKDIR",
		"Give WORKDIR an absolute path such as /app.", dl3000),
	dlOnbuild("DL3001", SeverityInfo, "For some bash commands it makes no sense running them in a Docker container like `ssh`, `vim`, `shutdown`, `service`, `ps`, `free`, `top`, `kill`, `mount`, `ifconfig`",
		"Drop the interactive or system command from the RUN.", runUses("free", "kill", "mount", "ps", "service", "shutdown", "ssh", "top", "vim")),
	dl("DL3002", SeverityWarning, "Last USER should not be root",
		"Switch to an unprivileged USER at the end of the stage.", dl3002),
	dl("DL3003", SeverityWarning, "Use WORKDIR to switch to a directory",
		"Replace `cd dir` with a WORKDIR instruction.", runUses("cd")),
	dlOnbuild("DL3004", SeverityError, "Do not use sudo as it leads to unpredictable behavior. Use a tool like gosu to enforce root",
		"Drop sudo: RUN already runs as the current USER; use gosu to step down.", runCmd(func(c cmd) bool { return c.sudo || c.name == "sudo" })),
	dl("DL3006", SeverityWarning, "Always tag the version of an image explicitly",
		"Add a tag or digest to the FROM image, e.g. debian:12.", dl3006),
	dl("DL3007", SeverityWarning, "Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag",
		"Replace :latest with a release tag.", dl3007),
	dlOnbuild("DL3008", SeverityWarning, "Pin versions in apt get install. Instead of `apt-get install <package>` use `apt-get install <package>=<version>`",
		"Write each package as name=version.", runCmd(dl3008)),
	dlOnbuild("DL3009", SeverityInfo, "Delete the apt lists (/var/lib/apt/lists) after installing something",
		"End the RUN with `&& rm -rf /var/lib/apt/lists/*`.", dl3009),
	dl("DL3010", SeverityInfo, "Use `ADD` for extracting archives into an image",
		"ADD the archive, which Docker extracts, instead of COPY and tar.", dl3010),
	dl("DL3011", SeverityError, "Valid UNIX ports range from 0 to 65535",
		"EXPOSE a port between 0 and 65535.", dl3011),
	dl("DL3012", SeverityError, "Multiple `HEALTHCHECK` instructions",
		"Keep one HEALTHCHECK per stage; only the last counts.", dl3012),
	dlOnbuild("DL3013", SeverityWarning, "Pin versions in pip. Instead of `pip install <package>` use `pip install <package>==<version>` or `pip install --requirement <requirements file>`",
		"Write each package as name==version, or install from a requirements file.", runCmd(dl3013)),
	dlOnbuild("DL3014", SeverityWarning, "Use the `-y` switch to avoid manual input `apt-get -y install <package>`",
		"Add -y to apt-get install.", runCmd(dl3014)),
	dlOnbuild("DL3015", SeverityInfo, "Avoid additional packages by specifying `--no-install-recommends`",
		"Add --no-install-recommends to apt-get install.", runCmd(dl3015)),
	dlOnbuild("DL3016", SeverityWarning, "Pin versions in npm. Instead of `npm install <package>` use `npm install <package>@<version>`",
		"Write each package as name@version.", runCmd(dl3016)),
	dlOnbuild("DL3018", SeverityWarning, "Pin versions in apk add. Instead of `apk add <package>` use `apk add <package>=<version>`",
		"Write each package as name=version.", runCmd(dl3018)),
	dlOnbuild("DL3019", SeverityInfo, "Use the `--no-cache` switch to avoid the need to use `--update` and remove `/var/cache/apk/*` when done installing packages",
		"Add --no-cache to apk add.", dl3019),
	dl("DL3020", SeverityError, "Use COPY instead of ADD for files and folders",
		"Use COPY; keep ADD for URLs and archives to extract.", dl3020),
	dl("DL3021", SeverityError, "COPY with more than 2 arguments requires the last argument to end with /",
		"End the COPY destination with / when copying several sources.", dl3021),
	dl("DL3022", SeverityWarning, "`COPY --from` should reference a previously defined `FROM` alias",
		"Name an earlier stage (FROM ... AS name) or an image in --from.", dl3022),
	dl("DL3023", SeverityError, "`COPY --from` cannot reference its own `FROM` alias",
		"Copy from another stage, not the one being built.", dl3023),
	dl("DL3024", SeverityError, "FROM aliases (stage names) must be unique",
		"Give every stage its own AS name.", dl3024),
	dl("DL3025", SeverityWarning, "Use arguments JSON notation for CMD and ENTRYPOINT arguments",
		`Write the command as a JSON array: CMD ["app", "--flag"].`, dl3025),
	dl("DL3026", SeverityError, "Use only an allowed registry in the FROM image",
		"Pull the image from one of the trusted registries.", dl3026),
	dlOnbuild("DL3027", SeverityWarning, "Do not use apt as it is meant to be an end-user tool, use apt-get or apt-cache instead",
		"Replace apt with apt-get or apt-cache.", runUses("apt")),
	dlOnbuild("DL3028", SeverityWarning, "Pin versions in gem install. Instead of `gem install <gem>` use `gem install <gem>:<version>`",
		"Write each gem as name:version, or pass -v.", dl3028),
	dl("DL3029", SeverityWarning, "Do not use --platform flag with FROM",
		"Drop --platform, or use $BUILDPLATFORM/$TARGETPLATFORM.", dl3029),
	dlOnbuild("DL3030", SeverityWarning, "Use the -y switch to avoid manual input `yum install -y <package>`",
		"Add -y to yum install.", runCmd(dl3030)),
	dlOnbuild("DL3032", SeverityWarning, "`yum clean all` missing after yum command.",
		"End the RUN with `&& yum clean all`.", dl3032),
	dlOnbuild("DL3033", SeverityWarning, "Specify version with `yum install -y <package>-<version>`.",
		"Write each package as name-version.", rpmPinned("DL3033", []string{"yum"}, []string{"module"})),
	dlOnbuild("DL3034", SeverityWarning, "Non-interactive switch missing from `zypper` command: `zypper install -y`",
		"Add -y (or --non-interactive) to zypper.", runCmd(dl3034)),
	dlOnbuild("DL3035", SeverityWarning, "Do not use `zypper dist-upgrade`.",
		"Install the packages you need instead of upgrading the distribution.", runCmd(func(c cmd) bool { return c.has("zypper", "dist-upgrade", "dup") })),
	dlOnbuild("DL3036", SeverityWarning, "`zypper clean` missing after zypper use.",
		"End the RUN with `&& zypper clean`.", dl3036),
	dlOnbuild("DL3037", SeverityWarning, "Specify version with `zypper install -y <package>=<version>`.",
		"Write each package as name=version.", runCmd(dl3037)),
	dlOnbuild("DL3038", SeverityWarning, "Use the -y switch to avoid manual input `dnf install -y <package>`",
		"Add -y to dnf install.", runCmd(dl3038)),
	dlOnbuild("DL3040", SeverityWarning, "`dnf clean all` missing after dnf command.",
		"End the RUN with `&& dnf clean all`.", dl3040),
	dlOnbuild("DL3041", SeverityWarning, "Specify version with `dnf install -y <package>-<version>`.",
		"Write each package as name-version.", rpmPinned("DL3041", []string{"dnf", "microdnf"}, []string{"module", "group"})),
	dlOnbuild("DL3042", SeverityWarning, "Avoid use of cache directory with pip. Use `pip install --no-cache-dir <package>`",
		"Add --no-cache-dir, or use a cache mount for /root/.cache/pip.", dl3042),
	dl("DL3043", SeverityError, "`ONBUILD`, `FROM` or `MAINTAINER` triggered from within `ONBUILD` instruction.",
		"Remove the ONBUILD, FROM or MAINTAINER trigger.", dl3043),
	dl("DL3044", SeverityError, "Do not refer to an environment variable within the same `ENV` statement where it is defined.",
		"Split the ENV so a variable is defined before it is used.", dl3044),
	dl("DL3045", SeverityWarning, "`COPY` to a relative destination without `WORKDIR` set.",
		"Set WORKDIR first, or copy to an absolute path.", dl3045),
	dlOnbuild("DL3046", SeverityWarning, "`useradd` without flag `-l` and high UID will result in excessively large Image.",
		"Add -l (--no-log-init) to useradd.", runCmd(dl3046)),
	dlOnbuild("DL3047", SeverityInfo, "Avoid use of wget without progress bar. Use `wget --progress=dot:giga <url>`. Or consider using `-q` or `-nv` (shorthands for `--quiet` or `--no-verbose`).",
		"Add --progress=dot:giga, -q or -nv to wget.", runCmd(dl3047)),
	dl("DL3048", SeverityStyle, "Invalid label key.",
		"Use lower-case reverse-DNS label keys such as org.example.name.", dl3048),
	dl("DL3049", SeverityInfo, "Label `<label>` is missing.",
		"Add the label the schema requires to the stage.", dl3049),
	dl("DL3050", SeverityInfo, "Superfluous label(s) present.",
		"Remove labels the schema does not list, or add them to it.", dl3050),
	dl("DL3051", SeverityWarning, "label `<label>` is empty.",
		"Give the label a value.", labelCheck("DL3051", "", func(v string) bool { return v != "" }, "label `%s` is empty.")),
	dl("DL3052", SeverityWarning, "Label `<label>` is not a valid URL.",
		"Give the label an absolute URL.", labelCheck("DL3052", "url", validURL, "Label `%s` is not a valid URL.")),
	dl("DL3053", SeverityWarning, "Label `<label>` is not a valid time format - must conform to RFC3339.",
		"Write the time as RFC 3339, e.g. 2024-01-02T15:04:05Z.", labelCheck("DL3053", "rfc3339", validRFC3339, "Label `%s` is not a valid time format - must conform to RFC3339.")),
	dl("DL3054", SeverityWarning, "Label `<label>` is not a valid SPDX identifier.",
		"Use an SPDX license identifier such as MIT or Apache-2.0.", labelCheck("DL3054", "spdx", validSPDX, "Label `%s` is not a valid SPDX identifier.")),
	dl("DL3055", SeverityWarning, "Label `<label>` is not a valid git hash.",
		"Use a 7- or 40-character lower-case git hash.", labelCheck("DL3055", "hash", validGitHash, "Label `%s` is not a valid git hash.")),
	dl("DL3056", SeverityWarning, "Label `<label>` does not conform to semantic versioning.",
		"Use a semantic version such as 1.2.3.", labelCheck("DL3056", "semver", validSemver, "Label `%s` does not conform to semantic versioning.")),
	dl("DL3057", SeverityIgnore, "`HEALTHCHECK` instruction missing.",
		"Add a HEALTHCHECK to the stage, or HEALTHCHECK NONE.", dl3057),
	dl("DL3058", SeverityWarning, "Label `<label>` is not a valid email format - must conform to RFC5322.",
		"Give the label an e-mail address such as name@example.com.", labelCheck("DL3058", "email", validEmail, "Label `%s` is not a valid email format - must conform to RFC5322.")),
	dl("DL3059", SeverityInfo, "Multiple consecutive `RUN` instructions. Consider consolidation.",
		"Join the consecutive RUNs with &&.", dl3059),
	dlOnbuild("DL3060", SeverityInfo, "`yarn cache clean` missing after `yarn install` was run.",
		"End the RUN with `&& yarn cache clean`.", dl3060),
	dl("DL3061", SeverityError, "Invalid instruction order. Dockerfile must begin with `FROM`, `ARG` or comment.",
		"Start the Dockerfile with FROM (ARGs may come first).", dl3061),
	dlOnbuild("DL3062", SeverityWarning, "Pin versions in go. Instead of `go install <package>` use `go install <package>@<version>`",
		"Write the package as path@version.", dl3062),
	dl("DL3063", SeverityWarning, "stage name should not be a reserved word",
		"Rename the stage: scratch and context are reserved.", dl3063),
	dlOnbuild("DL3064", SeverityWarning, "Potentially sensitive data should not be used in the `ARG` or `ENV` commands",
		"Pass secrets with RUN --mount=type=secret, not ARG or ENV.", dl3064),
	dl("DL3065", SeverityWarning, "Setting `FROM --platform` to predefined `$TARGETPLATFORM` in is redundant as this is the default behavior",
		"Drop --platform=$TARGETPLATFORM.", dl3065),
	dl("DL3066", SeverityInfo, "Non-numeric user-id may not be resolvable by host system",
		"Give USER a numeric uid, e.g. USER 10001.", dl3066),
	dl("DL3067", SeverityWarning, "Do not copy an entire filesystem from another stage",
		"Copy only the files you need from the other stage.", dl3067),
	dl("DL4000", SeverityError, "MAINTAINER is deprecated",
		`Use LABEL maintainer="name <mail>" instead.`, dl4000),
	dlOnbuild("DL4001", SeverityWarning, "Either use Wget or Curl but not both",
		"Use one of curl and wget throughout the stage.", dl4001),
	dl("DL4003", SeverityWarning, "Multiple `CMD` instructions found. If you list more than one `CMD` then only the last `CMD` will take effect",
		"Keep one CMD per stage.", repeated(command.Cmd)),
	dl("DL4004", SeverityError, "Multiple `ENTRYPOINT` instructions found. If you list more than one `ENTRYPOINT` then only the last `ENTRYPOINT` will take effect",
		"Keep one ENTRYPOINT per stage.", repeated(command.Entrypoint)),
	dlOnbuild("DL4005", SeverityWarning, "Use SHELL to change the default shell",
		"Use the SHELL instruction instead of linking /bin/sh.", runCmd(func(c cmd) bool { return c.has("ln", "/bin/sh") })),
	dl("DL4006", SeverityWarning, "Set the SHELL option -o pipefail before RUN with a pipe in it. If you are using /bin/sh in an alpine image or if your shell is symlinked to busybox then consider explicitly setting your SHELL to /bin/ash, or disable this check",
		`Add SHELL ["/bin/bash", "-o", "pipefail", "-c"] before the RUN.`, dl4006),
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

// runUses reports a RUN that runs any of programs.
func runUses(programs ...string) func(*view, func(*inst)) {
	return runCmd(func(c cmd) bool { return slices.Contains(programs, c.name) })
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

func dl3015(c cmd) bool {
	return c.is("apt-get", "install") && !c.hasFlag("no-install-recommends") &&
		!c.hasArg("APT::Install-Recommends=false") && !c.hasArg("APT::Install-Recommends=0")
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

func dl4006(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.run != nil && in.run.unsafePipe {
			report(in)
		}
	}
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

package dockerfile

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/moby/buildkit/frontend/dockerfile/command"
)

// Rules on instructions other than the shell code of RUN.

// dropQuotes removes the quotes around a word, as hadolint compares paths.
func dropQuotes(s string) string { return strings.Trim(s, `"'`) }

// pair is one KEY=value of an ENV or LABEL.
type pair struct{ key, value string }

// pairs returns an ENV's or LABEL's pairs with the value's quotes removed.
func (in *inst) pairs() []pair {
	var out []pair
	for i := 0; i+1 < len(in.args); i += 3 {
		out = append(out, pair{in.args[i], unquoteValue(in.args[i+1])})
	}
	return out
}

var dquoteEscapes = strings.NewReplacer(`\"`, `"`, `\\`, `\`)

// unquoteValue removes the quotes Docker removes from an ENV or LABEL value.
func unquoteValue(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		inner := v[1 : len(v)-1]
		if v[0] == '"' {
			inner = dquoteEscapes.Replace(inner)
		}
		return inner
	}
	return v
}

// argNames returns the names an ARG declares.
func (in *inst) argNames() []string {
	var out []string
	for _, a := range in.args {
		name, _, _ := strings.Cut(a, "=")
		out = append(out, name)
	}
	return out
}

func dl1001(v *view, report func(*inst)) {
	for _, c := range v.comments {
		if codes, global := parsePragma([]byte(c.text)); codes != nil && !global && !isStagePragma(c.text) {
			report(&inst{line: c.line, endLine: c.line})
		}
	}
}

func dl3000(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd != command.Workdir {
			continue
		}
		p := dropQuotes(in.args[0])
		windows := len(p) >= 2 && p[1] == ':' && isLetter(p[0])
		if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "$") && !windows {
			report(in)
		}
	}
}

func dl3007(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd == command.From && v.stages[in.stage].tag == "latest" && v.stages[in.stage].digest == "" {
			report(in)
		}
	}
}

// archiveSuffixes are the file names Docker's ADD extracts, as hadolint lists them.
var archiveSuffixes = []string{".tar", ".Z", ".bz2", ".gz", ".lz", ".lzma", ".tZ", ".tb2", ".tbz", ".tbz2", ".tgz", ".tlz", ".tpz", ".txz", ".xz"}

func isArchive(p string) bool { return hasAnySuffix(dropQuotes(p), archiveSuffixes...) }

// basename is the last path element, as hadolint takes it.
func basename(p string) string {
	p = dropQuotes(p)
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func dl3010(v *view, report func(*inst)) {
	type archive struct {
		in   *inst
		name string
	}
	var archives []archive
	extracted := map[*inst]bool{}
	var order []*inst
	for _, in := range v.insts {
		switch {
		case in.cmd == command.From:
			// hadolint starts afresh at every FROM, so only the last
			// stage's COPY-then-extract is reported; kaj follows.
			archives, extracted, order = nil, map[*inst]bool{}, nil
		case in.cmd == command.Copy:
			if _, ok := in.flag("from"); ok {
				continue
			}
			// Paths as written: a Windows path keeps its backslashes.
			dest := in.raw[len(in.raw)-1]
			if isArchive(dest) {
				archives = append(archives, archive{in, basename(dest)})
				continue
			}
			for _, src := range in.raw[:len(in.raw)-1] {
				if isArchive(src) {
					archives = append(archives, archive{in, basename(src)})
				}
			}
		case in.run != nil:
			for _, a := range archives {
				if !extracted[a.in] && in.run.any(func(c cmd) bool { return extracts(c, a.name) }) {
					extracted[a.in] = true
					order = append(order, a.in)
				}
			}
		}
	}
	for _, in := range order {
		report(in)
	}
}

// extracts reports whether c unpacks the archive called name.
func extracts(c cmd, name string) bool {
	tar := c.name == "tar" && anyArg(c.args, func(a string) bool {
		return a == "--extract" || a == "--get" || (strings.HasPrefix(a, "-") && strings.Contains(a, "x"))
	})
	unzip := false
	switch c.name {
	case "unzip", "gunzip", "bunzip2", "unlzma", "unxz", "zgz", "uncompress", "zcat", "gzcat":
		unzip = true
	}
	return (tar || unzip) && anyArg(c.words(), func(a string) bool { return basename(a) == name })
}

func anyArg(args []string, ok func(string) bool) bool {
	for _, a := range args {
		if ok(a) {
			return true
		}
	}
	return false
}

func dl3011(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd != command.Expose {
			continue
		}
		for _, p := range in.args {
			p, _, _ = strings.Cut(p, "/")
			lo, hi, isRange := strings.Cut(p, "-")
			bad := tooHigh(lo) || (isRange && tooHigh(hi))
			if bad {
				report(in)
				break
			}
		}
	}
}

// tooHigh reports whether s is a number above the highest port.
func tooHigh(s string) bool {
	n, err := strconv.ParseUint(s, 10, 64)
	return (err == nil && n > 65535) || (err != nil && isDigits(s))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func dl3012(v *view, report func(*inst)) {
	seen := false
	for _, in := range v.insts {
		switch in.cmd {
		case command.From:
			seen = false
		case command.Healthcheck:
			if seen {
				report(in)
			}
			seen = true
		}
	}
}

func dl3020(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd != command.Add {
			continue
		}
		for _, src := range in.args[:len(in.args)-1] {
			remote := hasAnyPrefix(dropQuotes(src), "https://", "http://")
			if !isArchive(src) && !remote {
				report(in)
				break
			}
		}
	}
}

func dl3023(v *view, report func(*inst)) {
	for _, in := range v.insts {
		from, ok := in.flag("from")
		if in.cmd != command.Copy || !ok || in.stage < 0 {
			continue
		}
		if alias := v.stages[in.stage].alias; alias != "" && alias == strings.ToLower(from) {
			report(in)
		}
	}
}

func dl3024(v *view, report func(*inst)) {
	seen := map[string]bool{}
	for _, in := range v.insts {
		if in.cmd != command.From || len(in.args) != 3 {
			continue
		}
		alias := strings.ToLower(in.args[2])
		if seen[alias] {
			report(in)
		}
		seen[alias] = true
	}
}

func dl3025(v *view, report func(*inst)) {
	for _, in := range v.insts {
		switch in.cmd {
		case command.Cmd, command.Entrypoint:
			if !in.json {
				report(in)
			}
		case command.Healthcheck:
			if len(in.args) > 0 && strings.EqualFold(in.args[0], "CMD") && !in.json {
				report(in)
			}
		}
	}
}

func dl3026(v *view, report func(*inst)) {
	allowed := v.opts.TrustedRegistries
	if len(allowed) == 0 {
		return
	}
	aliases := map[string]bool{}
	ok := func(image string) bool {
		name, _, _ := splitRef(image)
		if aliases[strings.ToLower(name)] {
			return true
		}
		reg, _ := splitRegistry(name)
		if reg == "" {
			return name == "scratch" || registryAllowed(allowed, "docker.io") || registryAllowed(allowed, "hub.docker.com")
		}
		return registryAllowed(allowed, reg)
	}
	for _, in := range v.insts {
		switch in.cmd {
		case command.From:
			if !ok(in.args[0]) {
				report(in)
			}
			if len(in.args) == 3 {
				aliases[strings.ToLower(in.args[2])] = true
			}
		case command.Copy:
			if from, has := in.flag("from"); has && !ok(from) {
				report(in)
			}
		case command.Run:
			for _, from := range in.mountSources() {
				if !ok(from) {
					report(in)
					break
				}
			}
		}
	}
}

// splitRegistry splits an image name into its registry host, when the
// first path element names one, and the rest.
func splitRegistry(name string) (registry, rest string) {
	first, after, ok := strings.Cut(name, "/")
	if !ok || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		return "", name
	}
	return first, after
}

// registryAllowed matches a registry against trusted patterns, which may
// start or end with *.
func registryAllowed(allowed []string, registry string) bool {
	for _, a := range allowed {
		switch {
		case a == "*":
			return true
		case strings.HasPrefix(a, "*"):
			if strings.HasSuffix(registry, a[1:]) {
				return true
			}
		case strings.HasSuffix(a, "*"):
			if strings.HasPrefix(registry, a[:len(a)-1]) {
				return true
			}
		case a == registry:
			return true
		}
	}
	return false
}

// mountSources lists the from= images of RUN --mount=type=cache and bind.
func (in *inst) mountSources() []string {
	var out []string
	for _, f := range in.flags {
		k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if k != "mount" {
			continue
		}
		typ, from := "bind", ""
		for _, field := range strings.Split(v, ",") {
			key, val, _ := strings.Cut(strings.TrimSpace(field), "=")
			switch strings.ToLower(key) {
			case "type":
				typ = strings.ToLower(val)
			case "from":
				from = val
			}
		}
		if (typ == "cache" || typ == "bind") && from != "" {
			out = append(out, from)
		}
	}
	return out
}

func dl3029(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if p, ok := in.flag("platform"); in.cmd == command.From && ok &&
			!strings.Contains(p, "BUILDPLATFORM") && !strings.Contains(p, "TARGETPLATFORM") {
			report(in)
		}
	}
}

func dl3043(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd == command.Onbuild && in.badTrigger {
			report(in)
		}
	}
}

func dl3044(v *view, report func(*inst)) {
	defined := map[string]bool{}
	for _, in := range v.insts {
		switch in.cmd {
		case command.Arg:
			for _, n := range in.argNames() {
				defined[n] = true
			}
		case command.Env:
			ps := in.pairs()
			bad := false
			for i, p := range ps {
				if defined[p.key] {
					continue
				}
				for j, q := range ps {
					if i != j && refersTo(q.value, p.key) {
						bad = true
					}
				}
			}
			for _, p := range ps {
				defined[p.key] = true
			}
			if bad {
				report(in)
			}
		}
	}
}

// refersTo reports whether text uses variable name as ${name} or as $name
// not followed by more of a name.
func refersTo(text, name string) bool {
	if strings.Contains(text, "${"+name+"}") {
		return true
	}
	parts := strings.Split(text, "$"+name)
	for _, rest := range parts[1:] {
		if rest == "" || !isNameChar(rest[0]) {
			return true
		}
	}
	return false
}

func isNameChar(c byte) bool { return c == '_' || '0' <= c && c <= '9' || isLetter(c) }

func dl3045(v *view, report func(*inst)) {
	// Like hadolint, stages are known by alias or image name, and a stage
	// built on another inherits its WORKDIR.
	workdir := map[string]bool{}
	current := "\x00onbuild"
	for _, in := range v.insts {
		switch in.cmd {
		case command.From:
			st := v.stages[in.stage]
			key := st.alias
			if key == "" {
				key = st.name
			}
			workdir[key] = workdir[st.name]
			current = key
		case command.Workdir:
			workdir[current] = true
		case command.Copy:
			dest := dropQuotes(in.args[len(in.args)-1])
			absolute := strings.HasPrefix(dest, "/") || strings.HasPrefix(dest, "$") ||
				(len(dest) >= 2 && dest[1] == ':' && isLetter(dest[0]))
			if !workdir[current] && !absolute {
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
		for _, p := range in.pairs() {
			if !validLabelKey(p.key) {
				report(in)
				break
			}
		}
	}
}

// validLabelKey applies Docker's recommendations for label keys as hadolint
// does: lower-case alphanumerics and . - _ /, starting with a letter,
// ending with a letter or digit, no doubled separators, no reserved namespace.
func validLabelKey(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	if last := k[len(k)-1]; !('a' <= last && last <= 'z' || '0' <= last && last <= '9') {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/') {
			return false
		}
	}
	return !strings.Contains(k, "..") && !strings.Contains(k, "--") &&
		!hasAnyPrefix(k, "com.docker.", "io.docker.", "org.dockerproject.")
}

// stageKey is how hadolint names a stage: by its alias, else its image.
func stageKey(st stage) string {
	if st.alias != "" {
		return st.alias
	}
	return strings.ToLower(st.name)
}

func dl3057(v *view, report func(*inst)) {
	// As in hadolint, a stage inherits a HEALTHCHECK from the stage it is
	// built on, and a HEALTHCHECK also counts for the stages it builds on.
	healthy := make([]bool, len(v.stages))
	parent := func(i int) int {
		for j := i - 1; j >= 0; j-- {
			if stageKey(v.stages[j]) == strings.ToLower(v.stages[i].name) {
				return j
			}
		}
		return -1
	}
	for _, in := range v.insts {
		switch {
		case in.cmd == command.From:
			if p := parent(in.stage); p >= 0 && healthy[p] {
				healthy[in.stage] = true
			}
		case in.cmd == command.Healthcheck && in.stage >= 0:
			for i := in.stage; i >= 0 && !healthy[i]; i = parent(i) {
				healthy[i] = true
			}
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
		// Separate RUNs are often deliberate when either already chains
		// commands, or when their mounts or network differ.
		if prev != nil && sameFlags(prev.flags, in.flags) && len(prev.run.cmds) <= 1 && len(in.run.cmds) <= 1 {
			report(in)
		}
		prev = in
	}
}

func dl3061(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd == command.From {
			return
		}
		if in.cmd != command.Arg {
			report(in)
		}
	}
}

func dl3063(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if in.cmd == command.From && len(in.args) == 3 {
			if a := in.args[2]; a == "scratch" || a == "context" {
				report(in)
			}
		}
	}
}

// sensitiveNames are variable names hadolint knows to hold secrets.
var sensitiveNames = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`ACCESS_TOKEN APPLICATION_KEY APP_SECRET AUTH_TOKEN AWS_ACCESS_KEY_ID
		AWS_SECRET_ACCESS_KEY BITTREX_API_KEY BITTREX_API_SECRET CF_PASSWORD CF_USERNAME CIRCLE_TOKEN
		CI_DEPLOY_PASSWORD CI_DEPLOY_USER DOCKERHUB_PASSWORD DOCKER_EMAIL DOCKER_PASSWORD DOCKER_USERNAME
		FACEBOOK_ACCESS_TOKEN FACEBOOK_APP_ID FACEBOOK_APP_SECRET FIREBASE_API_TOKEN FIREBASE_TOKEN
		FOSSA_API_KEY GH_ENTERPRISE_TOKEN GH_TOKEN GITHUB_ENTERPRISE_TOKEN GITHUB_TOKEN HEROKU_API_KEY
		HEROKU_API_USER NPM_AUTH_TOKEN NPM_TOKEN OKTA_AUTHN_GROUPID OKTA_CLIENT_ORGURL OKTA_CLIENT_TOKEN
		OKTA_OAUTH2_CLIENTID OKTA_OAUTH2_CLIENTSECRET OPENAI_API_KEY OS_PASSWORD OS_USERNAME
		POSTGRES_PASSWORD SLACK_TOKEN STRIPE_API_KEY STRIPE_DEVICE_NAME TRAVIS_OS_NAME
		TRAVIS_SECURE_ENV_VARS TRAVIS_SUDO VAULT_CLIENT_KEY VAULT_TOKEN`) {
		sensitiveNames[n] = true
	}
}

// sensitive reports whether a variable name suggests it holds a secret.
func sensitive(name string) bool {
	if sensitiveNames[strings.ToUpper(name)] {
		return true
	}
	lower := strings.ToLower(name)
	for _, s := range []string{"api_key", "client_key", "password", "private", "secret", "token", "username"} {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return false
}

func dl3064(v *view, report func(*inst)) {
	for _, in := range v.insts {
		var names []string
		switch in.cmd {
		case command.Arg:
			names = in.argNames()
		case command.Env:
			for _, p := range in.pairs() {
				names = append(names, p.key)
			}
		}
		for _, n := range names {
			if sensitive(n) {
				report(in)
				break
			}
		}
	}
}

func dl3065(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if p, ok := in.flag("platform"); in.cmd == command.From && ok && (p == "$TARGETPLATFORM" || p == "${TARGETPLATFORM}") {
			report(in)
		}
	}
}

func dl3066(v *view, report func(*inst)) {
	var args []string
	for _, in := range v.insts {
		switch in.cmd {
		case command.Arg:
			args = append(args, in.argNames()...)
		case command.User:
			uid, _, _ := strings.Cut(in.args[0], ":")
			if strings.IndexFunc(uid, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
				continue
			}
			named := false
			for _, a := range args {
				named = named || strings.Contains(uid, "${"+a+"}") || strings.Contains(uid, "$"+a)
			}
			if !named {
				report(in)
			}
		}
	}
}

func dl3067(v *view, report func(*inst)) {
	for _, in := range v.insts {
		if _, ok := in.flag("from"); in.cmd != command.Copy || !ok {
			continue
		}
		n := len(in.args)
		root := false
		for _, src := range in.args[:n-1] {
			root = root || dropQuotes(src) == "/"
		}
		if root && dropQuotes(in.args[n-1]) == "/" {
			report(in)
		}
	}
}

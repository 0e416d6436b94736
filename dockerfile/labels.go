package dockerfile

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/command"
)

// Label schema rules (DL3049-DL3058): they run only when Options.LabelSchema
// names labels, as hadolint's label-schema does.

// LabelTypes are the value types a label schema may give a label.
var LabelTypes = []string{"text", "url", "rfc3339", "spdx", "hash", "semver", "email"}

// schemaLabels returns the schema's labels of type typ ("" for all), sorted
// so findings come out in a stable order.
func schemaLabels(schema map[string]string, typ string) []string {
	var out []string
	for l, t := range schema {
		if typ == "" || t == typ {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

func dl3049(v *view, report func(*inst)) {
	for _, label := range schemaLabels(v.opts.LabelSchema, "") {
		good := make([]bool, len(v.stages))
		var bad []int // stages missing the label, by index
		drop := func(ok func(i int) bool) {
			bad = slices.DeleteFunc(bad, ok)
		}
		for _, in := range v.insts {
			switch in.cmd {
			case command.From:
				i := in.stage
				st := v.stages[i]
				for j := range i {
					if good[j] && v.stages[j].alias != "" && v.stages[j].alias == strings.ToLower(st.name) {
						good[i] = true
					}
				}
				if !good[i] {
					bad = append(bad, i)
				}
			case command.Copy:
				// A stage only copied from never becomes an image.
				if from, ok := in.flag("from"); ok {
					drop(func(i int) bool { return v.stages[i].alias == strings.ToLower(from) })
				}
			case command.Label:
				if in.stage >= 0 && slices.ContainsFunc(in.pairs(), func(p pair) bool { return p.key == label }) {
					// hadolint also excuses the stage whose alias is this
					// stage's name, which for a stage without an alias is
					// the stage it builds on.
					key := stageKey(v.stages[in.stage])
					good[in.stage] = true
					drop(func(i int) bool { return i == in.stage || v.stages[i].alias == key })
				}
			}
		}
		for _, in := range v.insts {
			if in.cmd == command.From && slices.Contains(bad, in.stage) {
				v.say(in, fmt.Sprintf("Label `%s` is missing.", label))
			}
		}
	}
}

func dl3050(v *view, report func(*inst)) {
	if !v.opts.StrictLabels || len(v.opts.LabelSchema) == 0 {
		return
	}
	for _, in := range v.insts {
		if in.cmd == command.Label && slices.ContainsFunc(in.pairs(), func(p pair) bool {
			_, ok := v.opts.LabelSchema[p.key]
			return !ok
		}) {
			report(in)
		}
	}
}

// labelCheck reports LABELs giving a schema label of type typ ("" for any)
// a value valid rejects, with msg naming the label.
func labelCheck(code, typ string, valid func(string) bool, msg string) func(*view, func(*inst)) {
	return func(v *view, report func(*inst)) {
		labels := schemaLabels(v.opts.LabelSchema, typ)
		for _, in := range v.insts {
			if in.cmd != command.Label {
				continue
			}
			for _, l := range labels {
				if slices.ContainsFunc(in.pairs(), func(p pair) bool { return p.key == l && !valid(p.value) }) {
					v.say(in, fmt.Sprintf(msg, l))
				}
			}
		}
	}
}

// validURL accepts an absolute URI, as Haskell's parseURI.
func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && !strings.ContainsAny(s, " \t\"<>")
}

func validRFC3339(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

func validGitHash(s string) bool {
	if len(s) != 7 && len(s) != 40 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// semverPattern is Semantic Versioning 2.0.0's own regular expression.
var semverPattern = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

func validSemver(s string) bool { return semverPattern.MatchString(s) }

// validEmail accepts a bare address, no display name.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// spdxIDs are the SPDX license identifiers in common use; an expression
// such as "MIT OR Apache-2.0" is not an identifier.
var spdxIDs = strings.Fields(`0BSD AFL-3.0 AGPL-1.0 AGPL-3.0 AGPL-3.0-only AGPL-3.0-or-later Apache-1.0 Apache-1.1
	Apache-2.0 APSL-2.0 Artistic-1.0 Artistic-2.0 BlueOak-1.0.0 BSD-1-Clause BSD-2-Clause
	BSD-2-Clause-Patent BSD-3-Clause BSD-3-Clause-Clear BSD-4-Clause BSL-1.0 bzip2-1.0.6 CC-BY-3.0
	CC-BY-4.0 CC-BY-SA-3.0 CC-BY-SA-4.0 CC0-1.0 CDDL-1.0 CDDL-1.1 CECILL-2.1 CPL-1.0 curl ECL-2.0
	EPL-1.0 EPL-2.0 EUPL-1.1 EUPL-1.2 FTL GPL-1.0 GPL-1.0-only GPL-1.0-or-later GPL-2.0 GPL-2.0-only
	GPL-2.0-or-later GPL-3.0 GPL-3.0-only GPL-3.0-or-later HPND ICU IJG IPL-1.0 ISC LGPL-2.0
	LGPL-2.0-only LGPL-2.0-or-later LGPL-2.1 LGPL-2.1-only LGPL-2.1-or-later LGPL-3.0 LGPL-3.0-only
	LGPL-3.0-or-later Libpng LPPL-1.3c MirOS MIT MIT-0 MPL-1.0 MPL-1.1 MPL-2.0 MS-PL MS-RL NCSA
	ODbL-1.0 OFL-1.1 OpenSSL OSL-3.0 PHP-3.0 PHP-3.01 PostgreSQL Python-2.0 Ruby SSPL-1.0 Unicode-DFS-2016
	Unlicense UPL-1.0 Vim W3C WTFPL X11 Xnet Zlib zlib-acknowledgement ZPL-2.0 ZPL-2.1`)

func validSPDX(s string) bool {
	return slices.ContainsFunc(spdxIDs, func(id string) bool { return strings.EqualFold(id, s) })
}

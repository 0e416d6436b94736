package runtime

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// The labels kaj puts on everything it creates. They are reserved: extra
// labels passed by a caller may not set them.
const (
	LabelManaged  = "kaj.managed"  // "true" on every object kaj created
	LabelApp      = "kaj.app"      // the app's name
	LabelRole     = "kaj.role"     // "app" or "db"
	LabelRelease  = "kaj.release"  // the release an app container runs
	LabelDatabase = "kaj.database" // the kind of a database container
	LabelInstance = "kaj.instance" // the kaj instance that made it (see Scope)
)

// Role is what a kaj container does for its app.
type Role string

// The roles of kaj's containers.
const (
	RoleApp Role = "app"
	RoleDB  Role = "db"
)

// MinMemory is the smallest memory limit the engine accepts: the daemon
// refuses anything under 6 MiB (its linuxMinMemory).
const MinMemory = 6 << 20

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	releaseRe  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	volumeRe   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}$`)
	sqlIdentRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)
	schemeRe   = regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,31}$`)
)

const dnsLabelRule = "must be a DNS label: 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit"

func checkApp(field, app string) error {
	if !dnsLabel.MatchString(app) {
		return invalid(field, app, dnsLabelRule)
	}
	return nil
}

func checkRelease(field, r string) error {
	if !releaseRe.MatchString(r) {
		return invalid(field, r, "must be 1 to 32 lowercase letters, digits and '-', starting and ending with a letter or digit (a release number)")
	}
	return nil
}

func checkImage(field, ref string) error {
	switch {
	case ref == "":
		return invalid(field, ref, "is required: name the image to run, e.g. registry.example.com/team/app:1.0")
	case strings.IndexFunc(ref, unicode.IsSpace) >= 0:
		return invalid(field, ref, "an image reference has no spaces")
	}
	return nil
}

func checkPort(field string, p int, zeroOK bool) error {
	if p == 0 && zeroOK {
		return nil
	}
	if p < 1 || p > 65535 {
		return invalid(field, fmt.Sprint(p), "a TCP port is between 1 and 65535")
	}
	return nil
}

func checkEnv(field string, env map[string]string) error {
	for k := range env {
		if err := checkEnvKey(field, k); err != nil {
			return err
		}
	}
	return nil
}

func checkEnvKey(field, k string) error {
	switch {
	case k == "":
		return invalid(field, k, "an environment variable needs a name")
	case strings.ContainsRune(k, '='):
		return invalid(field+" key", k, "a variable name cannot contain '=': put the value in the map's value")
	case strings.IndexFunc(k, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return invalid(field+" key", k, "a variable name cannot contain spaces or control characters")
	}
	return nil
}

func checkLabels(field string, labels map[string]string) error {
	for k := range labels {
		switch k {
		case LabelManaged, LabelApp, LabelRole, LabelRelease, LabelDatabase, LabelInstance:
			return invalid(field, k, "is set by kaj itself; choose another label key")
		case "":
			return invalid(field, k, "a label needs a key")
		}
	}
	return nil
}

func checkMemory(field string, m int64) error {
	if m != 0 && m < MinMemory {
		return invalid(field, fmt.Sprint(m), fmt.Sprintf("a memory limit is at least %d bytes (6 MiB), the engine's minimum; zero means no limit", MinMemory))
	}
	return nil
}

func checkCPUs(field string, c float64) error {
	if c != 0 && !(c >= 0.01 && c <= 1024) {
		return invalid(field, fmt.Sprint(c), "a CPU limit is between 0.01 and the machine's CPU count; zero means no limit")
	}
	return nil
}

func checkVolume(field, v string) error {
	if !volumeRe.MatchString(v) {
		return invalid(field, v, "a volume name is 2 to 128 letters, digits, '_', '.' and '-', starting with a letter or digit")
	}
	return nil
}

func checkRestart(field string, r RestartPolicy) error {
	switch r {
	case "", RestartNo, RestartAlways, RestartOnFailure, RestartUnlessStopped:
		return nil
	}
	return invalid(field, string(r), `must be "no", "always", "on-failure" or "unless-stopped" (empty means unless-stopped)`)
}

// labelsFor is extra plus the scope's labels plus kaj's own, which win.
func (d *Docker) labelsFor(extra map[string]string, app string, role Role, release string) map[string]string {
	out := make(map[string]string, len(extra)+len(d.scope.Labels)+5)
	for k, v := range extra {
		out[k] = v
	}
	for k, v := range d.scope.Labels {
		out[k] = v
	}
	out[LabelManaged] = "true"
	out[LabelApp] = app
	if d.scope.Instance != "" {
		out[LabelInstance] = d.scope.Instance
	}
	if role != "" {
		out[LabelRole] = string(role)
	}
	if release != "" {
		out[LabelRelease] = release
	}
	return out
}

func managed(labels map[string]string) bool { return labels[LabelManaged] == "true" }

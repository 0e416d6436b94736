// Package buildinfo tells which kaj this is.
package buildinfo

import "runtime/debug"

// version is set at link time: -ldflags "-X github.com/kajhq/kaj/internal/buildinfo.version=v1.2.3".
var version string

// Version is the release version, or the VCS revision of a development
// build, or "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) >= 12 {
			rev = rev[:12]
			if dirty {
				rev += "-dirty"
			}
			return "dev-" + rev
		}
	}
	return "dev"
}

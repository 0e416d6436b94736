package microblog_test

import (
	"os/exec"
	"strings"
	"testing"
)

const (
	module = "github.com/kajhq/kaj"
	self   = module + "/microblog"
)

// goListDeps lists the packages pkgs depend on, tests included.
func goListDeps(t *testing.T, test bool, pkgs ...string) []string {
	t.Helper()
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}"}
	if test {
		args = append(args, "-test")
	}
	out, err := exec.Command("go", append(args, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// TestDeps_selfContained pins that Microblog knows nothing of kaj: no
// package under microblog/, nor its tests, imports the rest of the module.
func TestDeps_selfContained(t *testing.T) {
	deps := goListDeps(t, true, self+"/...")
	if len(deps) == 0 {
		t.Fatal("go list found no packages")
	}
	for _, p := range deps {
		if outside(p) {
			t.Errorf("microblog depends on %s", p)
		}
	}
}

// outside reports whether a package listed by go list belongs to the
// module but not to microblog.
func outside(p string) bool {
	p, _, _ = strings.Cut(p, " ") // "pkg [pkg.test]" variants
	p = strings.TrimSuffix(strings.TrimSuffix(p, ".test"), "_test")
	if p == self || strings.HasPrefix(p, self+"/") {
		return false
	}
	return p == module || strings.HasPrefix(p, module+"/")
}

func TestOutside(t *testing.T) {
	for p, want := range map[string]bool{
		module + "/runtime":                             true,
		module + "/deploy [" + module + "/deploy.test]": true,
		module:                                true,
		self + "/web":                         false,
		self + "/web [" + self + "/web.test]": false,
		self + "_test":                        false,
		self + ".test":                        false,
		"github.com/kajhq/kajx/web":           false,
		"golang.org/x/crypto/bcrypt":          false,
		module + "/microblogger":              true,
	} {
		if got := outside(p); got != want {
			t.Errorf("outside(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestDeps_binaryLean pins that the app binary carries no build tooling:
// the Docker client belongs to package image only.
func TestDeps_binaryLean(t *testing.T) {
	for _, p := range goListDeps(t, false, self+"/cmd/microblog") {
		if strings.HasPrefix(p, "github.com/moby/") || strings.HasPrefix(p, "github.com/docker/") || p == self+"/image" || p == self+"/webclient" {
			t.Errorf("the microblog binary depends on %s", p)
		}
	}
}

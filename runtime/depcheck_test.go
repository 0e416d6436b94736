package runtime_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps pins what runtime may import: the standard library and the
// Docker Engine's client with its API types and error kinds. It must not
// reach kaj's other packages, whose arrows point at runtime.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "github.com/kajhq/kaj/runtime").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := []string{
		"github.com/moby/moby/client",
		"github.com/moby/moby/api/",
		"github.com/containerd/errdefs",
	}
	for _, imp := range strings.Fields(string(out)) {
		if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
			continue // standard library
		}
		ok := false
		for _, a := range allowed {
			ok = ok || imp == a || strings.HasPrefix(imp, a)
		}
		if !ok {
			t.Errorf("runtime imports %s; it may import only the standard library, the moby client and API, and containerd/errdefs", imp)
		}
	}

	deps, err := exec.Command("go", "list", "-deps", "github.com/kajhq/kaj/runtime").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, deps)
	}
	for _, dep := range strings.Fields(string(deps)) {
		if strings.HasPrefix(dep, "github.com/kajhq/kaj/") && dep != "github.com/kajhq/kaj/runtime" {
			t.Errorf("runtime depends on %s", dep)
		}
	}
}

package registry

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDeps pins the package's place in kaj: it speaks to registries and
// the engine through their SDKs and to nothing else, kaj included.
func TestDeps(t *testing.T) {
	allowed := []string{
		"github.com/google/go-containerregistry/",
		"github.com/moby/moby/client",
		"github.com/moby/moby/api/",
		// The moby client's errors are containerd's error classes.
		"github.com/containerd/errdefs",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(fset, f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(p, "/")
			if !strings.Contains(first, ".") {
				continue // standard library
			}
			ok := false
			for _, a := range allowed {
				if strings.HasPrefix(p, a) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s; registry may use only the standard library, go-containerregistry and the moby client", f, p)
			}
		}
	}
}

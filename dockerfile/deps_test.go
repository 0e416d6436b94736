package dockerfile

import (
	"go/build"
	"strings"
	"testing"
)

// TestDeps keeps the package a pure library: the standard library (no
// HTTP), BuildKit's Dockerfile parser, the shell parser and YAML for
// hadolint's configuration, nothing of kaj.
func TestDeps(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"github.com/moby/buildkit/frontend/dockerfile/command": true,
		"github.com/moby/buildkit/frontend/dockerfile/parser":  true,
		"github.com/moby/buildkit/frontend/dockerfile/shell":   true,
		"mvdan.cc/sh/v3/syntax":                                true,
		"go.yaml.in/yaml/v3":                                   true, // .hadolint.yaml
	}
	for _, imp := range pkg.Imports {
		std := !strings.Contains(strings.Split(imp, "/")[0], ".")
		if (std && strings.HasPrefix(imp, "net/http")) || (!std && !allowed[imp]) {
			t.Errorf("dockerfile imports %s", imp)
		}
	}
}

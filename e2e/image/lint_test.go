package image

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kajhq/kaj/dockerfile"
)

// TestDockerfiles_lintClean checks both production Dockerfiles with kaj's
// linter, every rule on (those off by default too, like DL3057's missing
// HEALTHCHECK), and wants no finding at any severity, and no pragma that
// would hide one.
func TestDockerfiles_lintClean(t *testing.T) {
	opts := dockerfile.Options{Override: map[string]dockerfile.Severity{}}
	for _, r := range dockerfile.Rules() {
		if r.Severity == dockerfile.SeverityIgnore {
			opts.Override[r.Code] = dockerfile.SeverityStyle
		}
	}
	for _, name := range []string{"Dockerfile_prod", "microblog/Dockerfile_prod"} {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(name)))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(bytes.ToLower(src), []byte("hadolint")) {
				t.Errorf("%s mentions hadolint: no finding may be silenced by a pragma", name)
			}
			findings, err := dockerfile.Lint(src, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range findings {
				t.Errorf("%s:%d: %s %s: %s", name, f.Line, f.Severity, f.Code, f.Message)
			}
		})
	}
}

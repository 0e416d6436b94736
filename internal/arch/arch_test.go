package arch

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/kajhq/kaj/"

// allowed lists, per package, the non-standard imports it may have
// (prefixes). runtime, registry, dockerfile and microblog pin their own.
var allowed = map[string][]string{
	"store":     {"go.etcd.io/bbolt", "github.com/google/go-containerregistry/pkg/name"},
	"logstream": {},
	"jobs":      {},
	"config":    {"github.com/pelletier/go-toml/v2"},
	"auth":      {mod + "store", "golang.org/x/crypto/bcrypt"},
	"catalog":   {mod + "store", "github.com/pelletier/go-toml/v2"},
	"deploy":    {mod + "jobs", mod + "registry", mod + "runtime", mod + "store"},
	// server speaks HTTP and uses the lower packages' types; it reaches
	// the engine only through deploy and registry, never the client.
	"server": {
		"github.com/gofiber/", mod + "auth", mod + "catalog", mod + "dashboard", mod + "deploy", mod + "dockerfile",
		mod + "internal/buildinfo", mod + "jobs", mod + "logstream", mod + "registry", mod + "runtime",
		mod + "store", mod + "microblog",
	},
}

func TestArrows(t *testing.T) {
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, mod+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				continue // standard library
			}
			fine := false
			for _, a := range ok {
				fine = fine || imp == a || strings.HasPrefix(imp, a+"/") || strings.HasSuffix(a, "/") && strings.HasPrefix(imp, a)
			}
			if !fine {
				t.Errorf("%s imports %s, which DESIGN.md's arrows do not allow", pkg, imp)
			}
		}
	}
}

// TestPackageDocs: every package says what it is for.
func TestPackageDocs(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{.Doc}}`, mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, doc, _ := strings.Cut(line, "|"); strings.TrimSpace(doc) == "" {
			t.Errorf("%s has no package doc comment", path)
		}
	}
}

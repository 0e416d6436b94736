package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/kajhq/kaj/"

// allowed lists, per package, the non-standard imports it may have
// (prefixes). runtime, registry, dockerfile and microblog pin their own.
var allowed = map[string][]string{
	"store":     {"go.etcd.io/bbolt", "github.com/google/go-containerregistry/pkg/name"},
	"logstream": {},
	"stats":     {mod + "runtime"},
	"notify":    {mod + "store", mod + "runtime"},
	"jobs":      {},
	"redact":    {},
	"config":    {"github.com/pelletier/go-toml/v2"},
	"auth":      {mod + "store", "golang.org/x/crypto/bcrypt"},
	"catalog":   {mod + "store", "github.com/pelletier/go-toml/v2"},
	"deploy":    {mod + "jobs", mod + "redact", mod + "registry", mod + "runtime", mod + "store"},
	// apps owns an app's life; it drives the lower layers and knows no
	// HTTP.
	"apps": {mod + "backup", mod + "build", mod + "catalog", mod + "deploy", mod + "jobs", mod + "router", mod + "runtime", mod + "store"},
	// router knows HTTP, certificates and metrics, and nothing of kaj's
	// other packages: apps tells it the routes.
	"router": {"github.com/caddyserver/certmagic", "github.com/prometheus/client_golang", "go.uber.org/zap"},
	"backup": {mod + "runtime", mod + "store", "github.com/klauspost/compress", "github.com/robfig/cron/v3"},
	// build knows the engine's build API, git and kaj's linter; no HTTP
	// of its own.
	"build": {
		mod + "dockerfile", mod + "jobs", mod + "registry", mod + "store", "github.com/go-git/go-git/v5",
		"github.com/moby/moby/api", "github.com/moby/moby/client", "github.com/moby/patternmatcher",
	},
	"dashboard": {mod + "apps", mod + "catalog", mod + "dockerfile", mod + "store"},
	// server speaks HTTP and uses the lower packages' types; it reaches
	// the engine only through deploy and registry, never the client.
	"server": {
		"github.com/gofiber/", mod + "apps", mod + "auth", mod + "catalog", mod + "dashboard", mod + "deploy", mod + "dockerfile",
		mod + "internal/buildinfo", mod + "jobs", mod + "logstream", mod + "registry", mod + "runtime",
		mod + "store", mod + "microblog", mod + "stats", mod + "notify",
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

// appState are the store's methods that read or write an app's state: the
// apps layer alone calls them, so every rule about an app has one owner.
var appState = map[string]bool{
	"App": true, "Apps": true, "CreateApp": true, "UpdateApp": true, "DeleteApp": true, "RevealApp": true,
	"Release": true, "Releases": true, "CreateRelease": true, "UpdateRelease": true, "RevealRelease": true,
	"RestoreRelease": true, "PruneReleases": true, "KeptVolumes": true,
}

// TestAppStateHasOneOwner: server and dashboard translate HTTP and
// templates; they never read or write an app's state in the store
// themselves (DESIGN.md: one owner per rule).
func TestAppStateHasOneOwner(t *testing.T) {
	for _, pkg := range []string{"server", "dashboard"} {
		files, err := filepath.Glob(filepath.Join("..", "..", pkg, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no files (%v)", pkg, err)
		}
		fset := token.NewFileSet()
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(af, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || !appState[sel.Sel.Name] {
					return true
				}
				// s.opts.Apps.X is the apps layer itself.
				if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "Apps" {
					return true
				}
				t.Errorf("%s: calls %s on the store: app state belongs to the apps layer", fset.Position(call.Pos()), sel.Sel.Name)
				return true
			})
		}
	}
}

package kajd

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/kajhq/kaj/build"
	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/dockerfile"
)

// newBuilder builds apps' images from source through the engine kaj
// drives. Checkouts and uploads are unpacked under the data directory,
// not /tmp: they can be large, and the data directory is where the
// operator gave kaj room.
func newBuilder(cfg config.Config, k *Kaj, lint dockerfile.Options, labels map[string]string, log *slog.Logger) (*build.Builder, error) {
	dir := filepath.Join(cfg.Data.Dir, "build")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the build folder: %w", err)
	}
	// Whatever a crash left behind is of no use to the next build.
	if old, err := filepath.Glob(filepath.Join(dir, "kaj-*")); err == nil {
		for _, p := range old {
			os.RemoveAll(p)
		}
	}
	return build.New(build.Options{
		Engine: k.Engine.Client(), Pusher: k.Registry, Lint: lint, Labels: labels, WorkDir: dir, Logger: log,
	})
}

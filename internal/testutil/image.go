package testutil

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one file of an image layer.
type File struct {
	Path string
	Mode int64
	Data []byte
}

// Layer makes an uncompressed-on-the-fly layer holding files.
func Layer(files ...File) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: f.Path, Mode: mode, Size: int64(len(f.Data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// ImageConfig is what a test image runs.
type ImageConfig struct {
	Entrypoint []string
	Env        []string
	// ExposedPorts like "8080/tcp".
	ExposedPorts []string
	Labels       map[string]string
}

// Image assembles an image for this machine's platform from layers.
func Image(cfg ImageConfig, layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Created = v1.Time{Time: time.Unix(0, 0)}
	cf.Config.Entrypoint = cfg.Entrypoint
	cf.Config.Env = append([]string{"PATH=/"}, cfg.Env...)
	cf.Config.Labels = cfg.Labels
	if len(cfg.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range cfg.ExposedPorts {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cf)
}

// Load writes img into the engine as ref, returning the image ID. The
// caller must have labelled the image with e.Labels for cleanup.
func (e *Env) Load(ctx context.Context, ref string, img v1.Image) (string, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", err
	}
	if _, err := daemon.Write(tag, img, daemon.WithClient(e.Client), daemon.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("loading %s into the engine: %w", ref, err)
	}
	id, err := img.ConfigName()
	return id.String(), err
}

var testApp struct {
	once sync.Once
	path string
	err  error
}

// TestAppBinary builds the testapp program once per test process, static,
// for linux on this machine's architecture, and returns its path.
func TestAppBinary() (string, error) {
	testApp.once.Do(func() {
		dir, err := os.MkdirTemp("", "kaj-testapp-")
		if err != nil {
			testApp.err = err
			return
		}
		out := filepath.Join(dir, "testapp")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "github.com/kajhq/kaj/internal/testutil/testapp")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			testApp.err = fmt.Errorf("building testapp: %v\n%s", err, b)
			return
		}
		testApp.path = out
	})
	return testApp.path, testApp.err
}

// TestAppLayer is a layer holding the testapp binary at /testapp.
func TestAppLayer() (v1.Layer, error) {
	p, err := TestAppBinary()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return Layer(File{Path: "testapp", Mode: 0o755, Data: b})
}

// TestAppImage loads an image running testapp (port 8080) into the engine
// under a tag unique to this test and returns the tag. Extra env entries
// become the image's defaults.
func (e *Env) TestAppImage(env ...string) string {
	e.t.Helper()
	return e.TestAppImageAs("kaj-testapp", env...)
}

// TestAppImageAs is TestAppImage under the repository name repo, so one
// test can hold several variants.
func (e *Env) TestAppImageAs(repo string, env ...string) string {
	e.t.Helper()
	layer, err := TestAppLayer()
	if err != nil {
		e.t.Fatal(err)
	}
	img, err := Image(ImageConfig{
		Entrypoint:   []string{"/testapp"},
		Env:          env,
		ExposedPorts: []string{"8080/tcp"},
		Labels:       e.Labels(),
	}, layer)
	if err != nil {
		e.t.Fatal(err)
	}
	ref := repo + ":" + e.ID
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.Load(ctx, ref, img); err != nil {
		e.t.Fatal(err)
	}
	return ref
}

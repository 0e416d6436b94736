// Package image builds Microblog's production image (Dockerfile_prod)
// through the Docker Engine API, with no registry: it compiles the static
// binary with the local Go toolchain, sends it with the Dockerfile as the
// build context, and lets the engine's classic builder assemble a FROM
// scratch image.
//
// It is build tooling for tests and scripts, not part of the app. It runs
// "go build" on the microblog sources, so the Go toolchain and this module's
// source tree must be present.
package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kajhq/kaj/microblog"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// Package is the import path of the program the image runs.
const Package = "github.com/kajhq/kaj/microblog/cmd/microblog"

// dockerfileName is the Dockerfile's name inside the build context.
const dockerfileName = "Dockerfile_prod"

// Build compiles microblog for the engine's platform, builds the
// production image with the given tags and labels, and returns its ID
// ("sha256:..."). Tags may be empty. The error carries the end of the
// build output when the engine refuses the build.
func Build(ctx context.Context, cli *client.Client, tags []string, labels map[string]string) (string, error) {
	v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("asking the engine its platform: %w", err)
	}
	dir, err := os.MkdirTemp("", "microblog-image-")
	if err != nil {
		return "", fmt.Errorf("making build directory: %w", err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "microblog")
	if err := Compile(ctx, bin, v.Os, v.Arch); err != nil {
		return "", err
	}

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, bin)) }()
	defer pr.Close()
	res, err := cli.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags:        tags,
		Labels:      labels,
		Dockerfile:  dockerfileName,
		Remove:      true,
		ForceRemove: true,
		// The classic builder needs no session and no frontend image: it
		// works offline on every engine version.
		Version: build.BuilderV1,
	})
	if err != nil {
		return "", fmt.Errorf("building image: %w", err)
	}
	defer res.Body.Close()
	return readBuildOutput(res.Body)
}

// Compile builds the static microblog binary at out for goos/goarch
// (empty for the host's), as Dockerfile_prod expects it.
func Compile(ctx context.Context, out, goos, goarch string) error {
	if goos == "" {
		goos = runtime.GOOS
	}
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, Package)
	cmd.Dir = sourceDir()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("compiling %s: %w\n%s", Package, err, b)
	}
	return nil
}

// sourceDir is a directory inside the module, where "go build" can resolve
// Package: this file's own, or the working directory when the file's path
// was trimmed away.
func sourceDir() string {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if _, err := os.Stat(file); err == nil {
			return filepath.Dir(file)
		}
	}
	return ""
}

// writeContext writes the build context as a tar stream: the Dockerfile,
// the binary and the empty data directory, owned by root and dated at the
// epoch so that equal inputs give equal layers.
func writeContext(w io.Writer, bin string) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	df := []byte(microblog.DockerfileProd)
	if err := tw.WriteHeader(&tar.Header{Name: dockerfileName, Mode: 0o644, Size: int64(len(df)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(df); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "data/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
		return err
	}
	f, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "microblog", Mode: 0o755, Size: st.Size(), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return err
	}
	return tw.Close()
}

// readBuildOutput follows the engine's JSON message stream to its end and
// returns the built image's ID.
func readBuildOutput(r io.Reader) (string, error) {
	var id string
	var tail []string // the last lines of output, for errors
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("reading build output: %w", err)
		}
		if m.Error != nil {
			return "", fmt.Errorf("building image: %s\n%s", m.Error.Message, strings.Join(tail, ""))
		}
		if m.Stream != "" {
			tail = append(tail, m.Stream)
			if len(tail) > 20 {
				tail = tail[1:]
			}
		}
		if m.Aux != nil {
			var res build.Result
			if err := json.Unmarshal(*m.Aux, &res); err == nil && res.ID != "" {
				id = res.ID
			}
		}
	}
	if id == "" {
		return "", errors.New("building image: the engine reported no image ID\n" + strings.Join(tail, ""))
	}
	return id, nil
}

package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// MariaDBTag is the MariaDB server image scripts/build-mariadb-image
// builds from Debian bookworm's packages: MariaDB 10.11, with an
// entrypoint that honours the MYSQL_* variables as the official image
// does. It is kept per machine by this tag and carries no kaj.test label,
// so no test's cleanup removes it.
const MariaDBTag = "kaj-mariadb:10.11-bookworm"

var mariadbBuild sync.Mutex

// MariaDBImage returns MariaDBTag, building the image first when the
// engine lacks it (about a minute, once per machine; concurrent test
// processes wait on the script's lock and build it once). When it cannot
// be built the test is skipped, or fails under KAJ_REQUIRE_DOCKER=1.
func (e *Env) MariaDBImage() string {
	e.t.Helper()
	return e.scriptImage(&mariadbBuild, MariaDBTag, "build-mariadb-image", "MariaDB", "KAJ_MARIADB_IMAGE="+MariaDBTag)
}

// scriptImage returns tag, building it with scripts/<script> (env added)
// when the engine lacks it, once per process under mu. When it cannot be
// built the test is skipped, or fails under KAJ_REQUIRE_DOCKER=1.
func (e *Env) scriptImage(mu *sync.Mutex, tag, script, what string, env ...string) string {
	e.t.Helper()
	if e.hasImage(tag) {
		return tag
	}
	mu.Lock()
	defer mu.Unlock()
	if e.hasImage(tag) {
		return tag
	}
	if err := runBuildScript(script, env...); err != nil {
		msg := fmt.Sprintf("no %s test image: %v", what, err)
		if RequireDocker() {
			e.t.Fatal(msg + " [KAJ_REQUIRE_DOCKER=1]")
		}
		e.t.Skip(msg)
	}
	if !e.hasImage(tag) {
		e.t.Fatalf("scripts/%s succeeded but the engine has no %s", script, tag)
	}
	return tag
}

func (e *Env) hasImage(ref string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := e.Client.ImageInspect(ctx, ref)
	return err == nil
}

// runBuildScript runs one of scripts/build-*-image with env added.
func runBuildScript(name string, env ...string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	script := filepath.Join(root, "scripts", name)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		tail := out.String()
		if len(tail) > 2000 {
			tail = "..." + tail[len(tail)-2000:]
		}
		return fmt.Errorf("%s: %v\n%s\nrun it by hand as root to build the image once for this machine", script, err, strings.TrimSpace(tail))
	}
	return nil
}

// moduleRoot is the directory holding kaj's go.mod, found upwards from
// the test's working directory (its package directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/kajhq/kaj\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kaj's go.mod not found above the working directory")
		}
		dir = parent
	}
}

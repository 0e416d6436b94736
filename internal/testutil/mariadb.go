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
	if e.hasImage(MariaDBTag) {
		return MariaDBTag
	}
	mariadbBuild.Lock()
	defer mariadbBuild.Unlock()
	if e.hasImage(MariaDBTag) {
		return MariaDBTag
	}
	if err := buildMariaDB(); err != nil {
		msg := fmt.Sprintf("no MariaDB test image: %v", err)
		if RequireDocker() {
			e.t.Fatal(msg + " [KAJ_REQUIRE_DOCKER=1]")
		}
		e.t.Skip(msg)
	}
	if !e.hasImage(MariaDBTag) {
		e.t.Fatalf("scripts/build-mariadb-image succeeded but the engine has no %s", MariaDBTag)
	}
	return MariaDBTag
}

func (e *Env) hasImage(ref string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := e.Client.ImageInspect(ctx, ref)
	return err == nil
}

func buildMariaDB() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	script := filepath.Join(root, "scripts", "build-mariadb-image")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script)
	cmd.Env = append(os.Environ(), "KAJ_MARIADB_IMAGE="+MariaDBTag)
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

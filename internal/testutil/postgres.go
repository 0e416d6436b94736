package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// PostgresTag is the PostgreSQL server image scripts/build-postgres-image
// builds from Debian bookworm's packages: PostgreSQL 15, with an
// entrypoint that honours POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB
// as the official image does, and psql, pg_dump and pg_restore. It is kept
// per machine by this tag and carries no kaj.test label, so no test's
// cleanup removes it.
const PostgresTag = "kaj-postgres:15-bookworm"

var postgresBuild sync.Mutex

// PostgresImage returns PostgresTag, building the image first when the
// engine lacks it (about a minute, once per machine). When it cannot be
// built the test is skipped, or fails under KAJ_REQUIRE_DOCKER=1.
func (e *Env) PostgresImage() string {
	e.t.Helper()
	if e.hasImage(PostgresTag) {
		return PostgresTag
	}
	postgresBuild.Lock()
	defer postgresBuild.Unlock()
	if e.hasImage(PostgresTag) {
		return PostgresTag
	}
	if err := runBuildScript("build-postgres-image", "KAJ_POSTGRES_IMAGE="+PostgresTag); err != nil {
		msg := fmt.Sprintf("no PostgreSQL test image: %v", err)
		if RequireDocker() {
			e.t.Fatal(msg + " [KAJ_REQUIRE_DOCKER=1]")
		}
		e.t.Skip(msg)
	}
	if !e.hasImage(PostgresTag) {
		e.t.Fatalf("scripts/build-postgres-image succeeded but the engine has no %s", PostgresTag)
	}
	return PostgresTag
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

package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain_SIGTERM runs the real binary and stops it the way docker stop
// does: it must exit 0 by itself, well before the engine's SIGKILL.
func TestMain_SIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "microblog")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // free for the program; a race with another process is unlikely

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = []string{"PORT=" + strconv.Itoa(port), "SECRET_KEY=test secret key"}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})

	healthy := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !healthy; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/healthz")
		if err == nil {
			resp.Body.Close()
			healthy = resp.StatusCode == http.StatusOK
		}
	}
	if !healthy {
		t.Fatalf("never healthy; stderr:\n%s", stderr.String())
	}
	// The SQLite default is ./app.db, relative to the working directory.
	if _, err := os.Stat(filepath.Join(dir, "app.db")); err != nil {
		t.Errorf("no app.db in the working directory: %v", err)
	}

	hc := exec.Command(bin, "healthcheck")
	hc.Env = cmd.Env
	if out, err := hc.CombinedOutput(); err != nil {
		t.Errorf("microblog healthcheck: %v\n%s", err, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10s after SIGTERM; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "msg=stopped") {
		t.Errorf("no graceful stop in the log:\n%s", stderr.String())
	}

	bad := exec.Command(bin)
	bad.Env = []string{"DATABASE_URL=mysql//dbserver"}
	out, err := bad.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "microblog: DATABASE_URL") {
		t.Errorf("bad DATABASE_URL: %v\n%s", err, out)
	}
}

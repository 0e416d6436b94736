package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// buildKaj compiles the real binary once per test process.
func buildKaj(t *testing.T) string { return kajtest.Binary(t) }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type kajProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *kajtest.SyncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done is closed
}

// startKaj runs `kaj serve` with a fresh data dir and no config file.
func startKaj(t *testing.T, dataDir string, env []string, args ...string) *kajProc {
	t.Helper()
	p := &kajProc{addr: freeAddr(t), stderr: &kajtest.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(buildKaj(t), append([]string{"serve", "--listen", p.addr, "--data", dataDir}, args...)...)
	p.cmd.Dir = t.TempDir()
	p.cmd.Env = append(withoutKAJ(os.Environ()), env...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func withoutKAJ(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "KAJ_") {
			out = append(out, kv)
		}
	}
	return out
}

func (p *kajProc) healthz(t *testing.T) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err == nil {
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			return body
		}
		select {
		case <-p.done:
			t.Fatalf("kaj exited (%v) before serving:\n%s", p.err, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz within 10s: %v\n%s", err, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServe_defaults(t *testing.T) {
	testutil.NewEnv(t) // the engine must be up for the "reachable" half
	data := filepath.Join(t.TempDir(), "data")
	p := startKaj(t, data, nil)
	h := p.healthz(t)
	if h["status"] != "ok" {
		t.Fatalf("healthz = %v", h)
	}
	engine := h["engine"].(map[string]any)
	if engine["reachable"] != true || engine["version"] == "" {
		t.Fatalf("engine = %v", engine)
	}
	if st := h["store"].(map[string]any); st["ok"] != true {
		t.Fatalf("store = %v", st)
	}
	for path, mode := range map[string]os.FileMode{data: 0o700, filepath.Join(data, "kaj.key"): 0o600, filepath.Join(data, "kaj.db"): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v; want %v", path, st.Mode().Perm(), mode)
		}
	}

	// A second kaj on the same data fails fast and says why.
	second := exec.Command(buildKaj(t), "serve", "--listen", freeAddr(t), "--data", data)
	start := time.Now()
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another kaj process") {
		t.Fatalf("second kaj: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("second kaj took %v to give up", d)
	}

	// SIGTERM shuts down cleanly.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", p.err, p.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("kaj did not stop on SIGTERM")
	}
}

func TestServe_engineUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no-engine.sock")
	p := startKaj(t, filepath.Join(t.TempDir(), "data"), []string{"DOCKER_HOST=unix://" + sock})
	h := p.healthz(t)
	engine := h["engine"].(map[string]any)
	if engine["reachable"] != false || !strings.Contains(fmt.Sprint(engine["error"]), sock) {
		t.Fatalf("engine = %v; want unreachable naming %s", engine, sock)
	}
	if h["status"] != "degraded" {
		t.Fatalf("status = %v; want degraded", h["status"])
	}
}

func TestServe_configErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("[server]\nlisten = \"127.0.0.1:0\"\n\n[deploy]\nhelth_timeout = \"5s\"\n"), 0o600)
	cmd := exec.Command(buildKaj(t), "serve", "--config", cfg, "--data", filepath.Join(dir, "data"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("kaj started with an unknown config key")
	}
	for _, want := range []string{"line 5", "deploy.helth_timeout"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not mention %q:\n%s", want, out)
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Error("config error was not fast")
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("a refused config still created the data directory")
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(buildKaj(t), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "kaj ") {
		t.Fatalf("kaj version = %q, %v", out, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	if sc.Scan(); strings.TrimSpace(strings.TrimPrefix(sc.Text(), "kaj")) == "" {
		t.Fatal("no version printed")
	}
}

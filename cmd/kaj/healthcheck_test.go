package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kajhq/kaj/internal/testutil"
)

func TestLocalURL(t *testing.T) {
	for _, tc := range []struct {
		listen, want string
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080"},
		{":8080", "http://127.0.0.1:8080"},
		{"[::]:8080", "http://[::1]:8080"},
		{"[::1]:9000", "http://[::1]:9000"},
		{"10.1.2.3:80", "http://10.1.2.3:80"},
		{"localhost:8080", "http://localhost:8080"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			got, err := localURL(tc.listen)
			if err != nil || got != tc.want {
				t.Errorf("localURL(%q) = %q, %v; want %q", tc.listen, got, err, tc.want)
			}
		})
	}
	if _, err := localURL("8080"); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("localURL(8080) = %v; want an error asking for host:port", err)
	}
}

// healthcheck runs the real binary's healthcheck with env (no other KAJ_
// variables) and returns its exit code and output.
func healthcheck(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(buildKaj(t), append([]string{"healthcheck"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(withoutKAJ(os.Environ()), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func TestHealthcheck_healthy(t *testing.T) {
	testutil.NewEnv(t)
	p := startKaj(t, filepath.Join(t.TempDir(), "data"), nil)
	p.healthz(t)
	// Where kaj serve listens, as the image's HEALTHCHECK finds it.
	if code, out, errOut := healthcheck(t, []string{"KAJ_LISTEN=" + p.addr}); code != 0 || !strings.Contains(out, "healthy") {
		t.Fatalf("healthcheck with KAJ_LISTEN: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := healthcheck(t, nil, "--url", "http://"+p.addr); code != 0 || !strings.Contains(out, "healthy") {
		t.Fatalf("healthcheck --url: exit %d\n%s%s", code, out, errOut)
	}
}

func TestHealthcheck_engineUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no-engine.sock")
	p := startKaj(t, filepath.Join(t.TempDir(), "data"), []string{"DOCKER_HOST=unix://" + sock})
	p.healthz(t)
	code, out, errOut := healthcheck(t, []string{"KAJ_LISTEN=" + p.addr})
	if code != 1 || !strings.Contains(errOut, "Docker Engine does not answer") || !strings.Contains(errOut, sock) {
		t.Fatalf("healthcheck of a kaj without engine: exit %d, want 1 naming the engine\n%s%s", code, out, errOut)
	}
}

func TestHealthcheck_nothingListening(t *testing.T) {
	code, _, errOut := healthcheck(t, nil, "--url", "http://"+freeAddr(t))
	if code != 1 || !strings.Contains(errOut, "asking kaj") {
		t.Fatalf("healthcheck of nothing: exit %d, want 1\n%s", code, errOut)
	}
}

func TestHealthcheck_commandLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"argument", []string{"healthcheck", "now"}, "takes no arguments"},
		{"unknown flag", []string{"healthcheck", "--port", "8080"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, nil, &stdout, &stderr)
			var code exitCode
			if !errors.As(err, &code) || code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("run(%q) = %v\n%s; want exit 2 saying %q", tc.args, err, stderr.String(), tc.want)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck", "--url", "ftp://example.com"}, nil, &stdout, &stderr); err == nil || !strings.Contains(stderr.String(), "not an http(s) URL") {
		t.Fatalf("healthcheck of an ftp URL = %v\n%s", err, stderr.String())
	}
}

package router

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The ACME tests run Let's Encrypt's Pebble, a real ACME server, and its
// pebble-challtestsrv as the DNS server Pebble resolves domains with.
// Both are built from the Go module proxy through the tools module
// internal/tools/pebble (which pins the version and keeps Pebble out of
// kaj's own go.mod), into a cache directory, once per version.

// pebbleToolsDir is the tools module, relative to this package.
const pebbleToolsDir = "../internal/tools/pebble"

// pebbleBinaries returns the paths of pebble and pebble-challtestsrv,
// building them when the cache lacks them. When they cannot be built the
// test is skipped, unless KAJ_REQUIRE_DOCKER=1 (CI), where it fails: CI
// must prove HTTPS, not skip it.
func pebbleBinaries(t *testing.T) (pebble, challtestsrv string) {
	t.Helper()
	unavailable := func(format string, a ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, a...)
		if os.Getenv("KAJ_REQUIRE_DOCKER") == "1" {
			t.Fatalf("Pebble ACME server unavailable and KAJ_REQUIRE_DOCKER=1: %s", msg)
		}
		t.Skipf("skipping: Pebble ACME server unavailable (%s); it is built with the go tool from the Go module proxy", msg)
	}
	gomod, err := os.ReadFile(filepath.Join(pebbleToolsDir, "go.mod"))
	if err != nil {
		unavailable("reading the tools module: %v", err)
	}
	gosum, _ := os.ReadFile(filepath.Join(pebbleToolsDir, "go.sum"))
	sum := sha256.Sum256(append(gomod, gosum...))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "kaj-test", "pebble-"+hex.EncodeToString(sum[:6]))
	pebble, challtestsrv = filepath.Join(dir, "pebble"), filepath.Join(dir, "pebble-challtestsrv")
	if fileExists(pebble) && fileExists(challtestsrv) {
		return pebble, challtestsrv
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		unavailable("no go tool on PATH to build it")
	}
	tmp, err := os.MkdirTemp(cache, "kaj-pebble-build-")
	if err != nil {
		unavailable("making a build directory: %v", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Logf("building Pebble into %s (first run only)", dir)
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", tmp+string(filepath.Separator),
		"github.com/letsencrypt/pebble/v2/cmd/pebble", "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv")
	cmd.Dir = pebbleToolsDir
	// Read-only: the tools module's go.sum is complete, and a test must not
	// rewrite files of the repository.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		unavailable("go build: %v\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		unavailable("%v", err)
	}
	if err := os.Rename(tmp, dir); err != nil && !fileExists(pebble) {
		unavailable("installing the build: %v", err)
	}
	return pebble, challtestsrv
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// freePort returns a loopback port nothing listens on (TCP and UDP).
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free loopback port")
	return 0
}

// pebbleServer is a running Pebble with its DNS server.
type pebbleServer struct {
	directory string         // ACME directory URL
	apiRoots  *x509.CertPool // trust for Pebble's own HTTPS
	mgmt      string         // management API base URL (https)
	dnsMgmt   string         // challtestsrv management base URL (http)
}

// startPebble runs Pebble validating HTTP-01 on httpPort and TLS-ALPN-01
// on tlsPort, resolving names through its own challtestsrv, which
// answers only the A records the test adds.
func startPebble(t *testing.T, httpPort, tlsPort int) *pebbleServer {
	t.Helper()
	pebbleBin, challBin := pebbleBinaries(t)
	dir := t.TempDir()

	// Pebble's API is HTTPS; give it a certificate from a CA of our own.
	ca := newTestCA(t, "pebble API test CA")
	certPEM, keyPEM := ca.issue(t, time.Now().Add(time.Hour), "localhost", "127.0.0.1")
	must(t, os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600))

	apiPort, mgmtPort, dnsPort, dnsMgmtPort := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", apiPort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":                    filepath.Join(dir, "cert.pem"),
		"privateKey":                     filepath.Join(dir, "key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles":                       map[string]any{"default": map[string]any{"description": "kaj test", "validityPeriod": 7776000}},
	}}
	b, _ := json.Marshal(cfg)
	must(t, os.WriteFile(filepath.Join(dir, "pebble.json"), b, 0o600))

	run := func(name string, env []string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdout, cmd.Stderr = tWriter{t}, tWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", filepath.Base(name), err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	run(challBin, nil,
		"-management", fmt.Sprintf("127.0.0.1:%d", dnsMgmtPort),
		"-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-defaultIPv4", "", "-defaultIPv6", "")
	run(pebbleBin, []string{
		"PEBBLE_VA_NOSLEEP=1",      // no random wait before validating; the challenge is still really checked
		"PEBBLE_WFE_NONCEREJECT=0", // no random bad-nonce errors: they test ACME clients, not kaj
	}, "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort))

	p := &pebbleServer{
		directory: fmt.Sprintf("https://127.0.0.1:%d/dir", apiPort),
		apiRoots:  ca.pool,
		mgmt:      fmt.Sprintf("https://127.0.0.1:%d", mgmtPort),
		dnsMgmt:   fmt.Sprintf("http://127.0.0.1:%d", dnsMgmtPort),
	}
	client := p.apiClient()
	waitFor(t, "Pebble's directory", func() bool {
		resp, err := client.Get(p.directory)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	waitFor(t, "pebble-challtestsrv", func() bool {
		resp, err := http.Post(p.dnsMgmt+"/set-default-ipv4", "application/json", strings.NewReader(`{"ip":""}`))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

func (p *pebbleServer) apiClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.apiRoots}}}
}

// addA makes Pebble resolve host to 127.0.0.1, where the router listens.
func (p *pebbleServer) addA(t *testing.T, host string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"host": host + ".", "addresses": []string{"127.0.0.1"}})
	resp, err := http.Post(p.dnsMgmt+"/add-a", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("adding A record: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("adding A record: status %d", resp.StatusCode)
	}
}

// root returns the root that Pebble's issued certificates chain to, from
// its management API; a client trusting only it must accept the router.
func (p *pebbleServer) root(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := p.apiClient().Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("fetching Pebble's root: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if resp.StatusCode != 200 || !pool.AppendCertsFromPEM(b) {
		t.Fatalf("Pebble's root: status %d, %q", resp.StatusCode, b)
	}
	return pool
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

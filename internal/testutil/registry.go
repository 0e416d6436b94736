package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"golang.org/x/crypto/bcrypt"
)

// DistributionBinary is the reference registry server, from Debian's
// docker-registry package.
const DistributionBinary = "docker-registry"

// Registry is a registry server started for one test and stopped when the
// test ends. Host is "127.0.0.1:<port>", which clients treat as a
// plain-HTTP loopback registry.
type Registry struct {
	Host string
	// Username and Password are the htpasswd credentials; empty when the
	// registry takes anonymous pushes.
	Username, Password string
}

// URL is the registry's base URL.
func (r *Registry) URL() string { return "http://" + r.Host }

// NewMemRegistry starts go-containerregistry's in-process registry on a
// loopback port, without authentication. Its request log goes to the test
// log only when the test fails.
func NewMemRegistry(t testing.TB) *Registry {
	t.Helper()
	return NewMemRegistryHandler(t, nil)
}

// NewMemRegistryHandler is NewMemRegistry with wrap placed in front of the
// registry's handler (nil means none), for tests that count or fault
// requests.
func NewMemRegistryHandler(t testing.TB, wrap func(http.Handler) http.Handler) *Registry {
	t.Helper()
	var logBuf lockedBuffer
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(log.New(&logBuf, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("in-process registry log:\n%s", logBuf.String())
		}
	})
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://")}
}

// NewDistributionRegistry starts Debian's docker-registry (the reference
// distribution registry) as a subprocess on 127.0.0.1 with htpasswd
// authentication and its storage in a temporary directory. The process is
// killed when the test ends. Without the binary the test is skipped, or
// fails under KAJ_REQUIRE_DOCKER=1.
func NewDistributionRegistry(t testing.TB) *Registry {
	t.Helper()
	bin, err := exec.LookPath(DistributionBinary)
	if err != nil {
		msg := fmt.Sprintf("%s not found (%v); install it with: apt-get install -y docker-registry", DistributionBinary, err)
		if RequireDocker() {
			t.Fatal(msg + " [KAJ_REQUIRE_DOCKER=1]")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	user, pass := "kaj", randomHex(12)
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	secret := make([]byte, 16)
	rand.Read(secret)
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: %s
auth:
  htpasswd:
    realm: kaj-test
    path: %s
`, filepath.Join(dir, "data"), host, hex.EncodeToString(secret), htpasswd)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	var out lockedBuffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	// The registry reads REGISTRY_* variables as config overrides; keep
	// the caller's environment out of it.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", DistributionBinary, out.String())
		}
	})

	// Ready when /v2/ asks for credentials.
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited at start (%v):\n%s", DistributionBinary, err, out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on %s within 15s:\n%s", DistributionBinary, host, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &Registry{Host: host, Username: user, Password: pass}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects a subprocess's or server's output from several
// goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*lockedBuffer)(nil)

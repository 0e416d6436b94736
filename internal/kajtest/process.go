package kajtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/testutil"
)

var binary struct {
	once sync.Once
	path string
	err  error
}

// Binary builds cmd/kaj once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "kaj-bin-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "kaj")
		out, err := exec.Command("go", "build", "-o", binary.path, "github.com/kajhq/kaj/cmd/kaj").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("building kaj: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// Process is kaj running as its own process, as users run it.
type Process struct {
	URL string
	// RouterURL is the router's plain-HTTP address.
	RouterURL string
	Password  string
	DataDir   string
	Cmd       *exec.Cmd
	config    string
	addr      string
	log       *SyncBuffer
	done      chan struct{}
	t         testing.TB
}

// SyncBuffer collects a process's output; safe for concurrent use.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartProcess runs `kaj serve` with a config that labels every engine
// object for env's cleanup and scopes reconcile to them, plus extra TOML
// lines for the [deploy] section. It returns once /healthz says kaj has
// finished starting (its reconcile with the engine is done).
func StartProcess(t testing.TB, env *testutil.Env, deployTOML string) *Process {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	routerAddr := rl.Addr().String()
	l.Close()
	rl.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[server]\nlisten = %q\nshutdown_timeout = \"2s\"\n[data]\ndir = %q\n[router]\nlisten = %q\ndrain_timeout = \"5s\"\n[deploy]\nlabels = { %q = %q }\n%s\n",
		addr, filepath.Join(dir, "data"), routerAddr, testutil.Label, env.ID, deployTOML)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Process{URL: "http://" + addr, RouterURL: "http://" + routerAddr, DataDir: filepath.Join(dir, "data"), config: cfg, addr: addr, t: t}
	p.start()
	b, err := os.ReadFile(filepath.Join(p.DataDir, "initial-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	p.Password = strings.TrimSpace(string(b))
	return p
}

func (p *Process) start() {
	t := p.t
	t.Helper()
	p.log = &SyncBuffer{}
	p.done = make(chan struct{})
	p.Cmd = exec.Command(Binary(t), "serve", "--config", p.config)
	p.Cmd.Stdout, p.Cmd.Stderr = p.log, p.log
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := p.done
	cmd := p.Cmd
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			// Serving, and done with its start-up work with the engine
			// (reconcile): tests look at the engine next.
			var h struct {
				Starting bool `json:"starting"`
			}
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if !h.Starting {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("kaj exited before serving:\n%s", p.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kaj did not serve within 20s:\n%s", p.log)
		}
	}
}

// Kill ends kaj with SIGKILL: no cleanup, no flush, as a crash would.
func (p *Process) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Restart starts kaj again on the same data and address.
func (p *Process) Restart() { p.start() }

// Log is what kaj printed.
func (p *Process) Log() string { return p.log.String() }

// RSS is kaj's resident memory in bytes, from /proc.
func (p *Process) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", p.Cmd.Process.Pid)
}

// Login logs in as admin.
func (p *Process) Login(t testing.TB) *Client {
	k := &Kaj{URL: p.URL, Password: p.Password, t: t}
	return k.Login(t)
}

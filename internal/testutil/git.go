package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// GitServer is Debian's git daemon serving bare repositories on a
// loopback port, started for one test and stopped at its end.
type GitServer struct {
	// Base is the folder the repositories live in.
	Base string
	Addr string
	t    testing.TB
}

// NewGitServer starts `git daemon` on a free loopback port. Without git
// the test is skipped, or fails under KAJ_REQUIRE_DOCKER=1.
func NewGitServer(t testing.TB) *GitServer {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if RequireDocker() {
			t.Fatal("git is required (KAJ_REQUIRE_DOCKER=1): apt-get install git")
		}
		t.Skip("git is not installed; apt-get install git to run this test")
	}
	base := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command("git", "daemon", "--export-all", "--reuseaddr", "--informative-errors",
		"--base-path="+base, "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), base)
	// A file, not a pipe: the daemon's children inherit it, and a pipe
	// they hold open would keep Wait waiting after the daemon is gone.
	log, err := os.Create(filepath.Join(t.TempDir(), "git-daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so the cleanup stops the children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting git daemon: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		log.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("git daemon did not listen on %s: %s", addr, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &GitServer{Base: base, Addr: addr, t: t}
}

// GitRepo is a bare repository on a GitServer and a working copy that
// pushes to it.
type GitRepo struct {
	// URL is the git:// address kaj clones.
	URL  string
	bare string
	work string
	t    testing.TB
}

// Repo creates the bare repository name.git with an empty working copy
// on branch main.
func (g *GitServer) Repo(name string) *GitRepo {
	g.t.Helper()
	r := &GitRepo{URL: "git://" + g.Addr + "/" + name + ".git", bare: filepath.Join(g.Base, name+".git"), work: g.t.TempDir(), t: g.t}
	r.git(g.Base, "init", "--bare", "-b", "main", r.bare)
	r.git(r.work, "init", "-b", "main")
	r.git(r.work, "config", "user.email", "test@kaj.invalid")
	r.git(r.work, "config", "user.name", "kaj test")
	r.git(r.work, "remote", "add", "origin", r.bare)
	return r
}

// Commit writes files (path → content; mode 0755 for paths ending in a
// program name listed in exec) into the working copy, commits them and
// pushes the commit to branch. It returns the commit's hash.
func (r *GitRepo) Commit(branch, msg string, files map[string][]byte, exec ...string) string {
	r.t.Helper()
	x := map[string]bool{}
	for _, e := range exec {
		x[e] = true
	}
	for p, data := range files {
		full := filepath.Join(r.work, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if x[p] {
			mode = 0o755
		}
		if err := os.WriteFile(full, data, mode); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git(r.work, "add", "-A")
	r.git(r.work, "commit", "-q", "-m", msg)
	r.git(r.work, "push", "-q", "origin", "HEAD:refs/heads/"+branch)
	return strings.TrimSpace(r.git(r.work, "rev-parse", "HEAD"))
}

func (r *GitRepo) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/internal/testutil"
)

// version is what the test links into the binary and labels the image with.
const version = "e2e-image-test"

var (
	loopback   = netip.MustParseAddr("127.0.0.1")
	kajPort    = network.MustParsePort("8080/tcp")
	routerPort = network.MustParsePort("8000/tcp")
)

// repoRoot is the module's root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// buildKajImage builds kaj's image as scripts/build-image does, but
// through the engine API: a static binary for the engine's platform and
// the empty data directory, sent as the context of Dockerfile_prod.
func buildKajImage(t testing.TB, env *testutil.Env) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(env.Context(), 10*time.Minute)
	defer cancel()
	v, err := env.Client.ServerVersion(ctx, mclient.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root := repoRoot(t)
	bin := filepath.Join(t.TempDir(), "kaj")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/kajhq/kaj/internal/buildinfo.version="+version,
		"-o", bin, "./cmd/kaj")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+v.Os, "GOARCH="+v.Arch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building kaj: %v\n%s", err, out)
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile_prod"))
	if err != nil {
		t.Fatal(err)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		body []byte
	}{
		{"Dockerfile_prod", 0o644, dockerfile},
		{"datadir/", 0o755, nil},
		{"datadir/data/", 0o700, nil},
		{"kaj", 0o755, binary},
	} {
		h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}

	tag := env.Name("kaj") + ":" + version
	ver := version
	res, err := env.Client.ImageBuild(ctx, &buf, mclient.ImageBuildOptions{
		Tags:        []string{tag},
		Labels:      env.Labels(),
		Dockerfile:  "Dockerfile_prod",
		BuildArgs:   map[string]*string{"VERSION": &ver},
		Remove:      true,
		ForceRemove: true,
		// The classic builder works offline on every engine version.
		Version: build.BuilderV1,
	})
	if err != nil {
		t.Fatalf("building kaj's image: %v", err)
	}
	defer res.Body.Close()
	var out strings.Builder
	dec := json.NewDecoder(res.Body)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading the build output: %v", err)
		}
		if m.Error != nil {
			t.Fatalf("building kaj's image: %s\n%s", m.Error.Message, out.String())
		}
		out.WriteString(m.Stream)
	}
	return tag
}

// socket returns the path of the engine's unix socket, to mount into
// kaj's container, and the group that may use it.
func socket(t *testing.T, env *testutil.Env) (string, uint32, os.FileMode) {
	t.Helper()
	path, ok := strings.CutPrefix(env.Client.DaemonHost(), "unix://")
	if !ok {
		t.Skipf("the engine is at %s; kaj's image is tested with the engine's unix socket mounted", env.Client.DaemonHost())
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skipf("no owner information for %s on this system", path)
	}
	return path, sys.Gid, st.Mode().Perm()
}

// kajContainer is kaj's image running for a test.
type kajContainer struct {
	ID  string
	URL string
	// RouterURL is where kaj's router answers from the host.
	RouterURL string
}

// runOptions say how runKaj runs kaj's image.
type runOptions struct {
	// groups are given to kaj's user (--group-add).
	groups []string
	// hostListen, when set, runs kaj in the host's network namespace
	// (--network host) listening there (KAJ_LISTEN); otherwise port 8080
	// is published on a free loopback port.
	hostListen string
	// env is added to the container's environment.
	env []string
}

// runKaj starts kaj's image with the engine's socket and the data volume
// mounted.
func runKaj(t *testing.T, env *testutil.Env, tag, sock, volume string, opts runOptions) *kajContainer {
	t.Helper()
	ctx := env.Context()
	cfg := &container.Config{
		Image:  tag,
		Labels: env.Labels(),
		// Only the pace changes; the check itself is the image's.
		Healthcheck: &container.HealthConfig{Interval: time.Second, StartPeriod: time.Second},
	}
	hostCfg := &container.HostConfig{
		GroupAdd: opts.groups,
		Mounts: []mount.Mount{
			{Type: mount.TypeBind, Source: sock, Target: "/var/run/docker.sock"},
			{Type: mount.TypeVolume, Source: volume, Target: "/data"},
		},
	}
	cfg.Env = append(cfg.Env, opts.env...)
	routerListen := ""
	if opts.hostListen != "" {
		// On the host's network the router needs a port of its own too.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		routerListen = l.Addr().String()
		l.Close()
		cfg.Env = append(cfg.Env, "KAJ_LISTEN="+opts.hostListen, "KAJ_ROUTER_LISTEN="+routerListen)
		hostCfg.NetworkMode = "host"
	} else {
		hostCfg.PortBindings = network.PortMap{kajPort: {{HostIP: loopback}}, routerPort: {{HostIP: loopback}}}
	}
	res, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{Name: env.Name("kaj"), Config: cfg, HostConfig: hostCfg})
	if err != nil {
		t.Fatalf("creating kaj's container: %v", err)
	}
	if _, err := env.Client.ContainerStart(ctx, res.ID, mclient.ContainerStartOptions{}); err != nil {
		t.Fatalf("starting kaj's container: %v", err)
	}
	if opts.hostListen != "" {
		return &kajContainer{ID: res.ID, URL: "http://" + opts.hostListen, RouterURL: "http://" + routerListen}
	}
	insp, err := env.Client.ContainerInspect(ctx, res.ID, mclient.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	published := func(port network.Port) string {
		for _, b := range insp.Container.NetworkSettings.Ports[port] {
			if p, err := strconv.ParseUint(b.HostPort, 10, 16); err == nil && p != 0 {
				return "http://" + netip.AddrPortFrom(loopback, uint16(p)).String()
			}
		}
		t.Fatalf("port %s not published: %+v", port, insp.Container.NetworkSettings.Ports)
		return ""
	}
	return &kajContainer{ID: res.ID, URL: published(kajPort), RouterURL: published(routerPort)}
}

// freeLoopback returns a loopback address no one listens on right now.
func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// health is what these tests read of kaj's /healthz.
type health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Engine  struct {
		Reachable bool   `json:"reachable"`
		Version   string `json:"version"`
		Error     string `json:"error"`
	} `json:"engine"`
}

// healthz waits for kaj to answer /healthz and returns the answer.
func (k *kajContainer) healthz(t *testing.T, env *testutil.Env) health {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(k.URL + "/healthz")
		if err == nil {
			defer resp.Body.Close()
			var h health
			if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
				t.Fatalf("/healthz: %v", err)
			}
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("kaj's container does not answer /healthz within 30s: %v\n%s", err, k.logs(t, env))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitHealth waits until the engine reports the container's HEALTHCHECK
// status as want.
func (k *kajContainer) waitHealth(t *testing.T, env *testutil.Env, want container.HealthStatus) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		insp, err := env.Client.ContainerInspect(env.Context(), k.ID, mclient.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := insp.Container.State.Health
		if h != nil && h.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container health %+v after 30s; want %s\n%s", h, want, k.logs(t, env))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (k *kajContainer) logs(t *testing.T, env *testutil.Env) string {
	rc, err := env.Client.ContainerLogs(env.Context(), k.ID, mclient.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return err.Error()
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

// stop stops kaj with SIGTERM and returns its exit code.
func (k *kajContainer) stop(t *testing.T, env *testutil.Env) int {
	t.Helper()
	ctx := env.Context()
	grace := 10
	if _, err := env.Client.ContainerStop(ctx, k.ID, mclient.ContainerStopOptions{Timeout: &grace}); err != nil {
		t.Fatal(err)
	}
	insp, err := env.Client.ContainerInspect(ctx, k.ID, mclient.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return insp.Container.State.ExitCode
}

// dataDir reads /data from the container: each entry's header, and the
// first admin's password.
func (k *kajContainer) dataDir(t *testing.T, env *testutil.Env) (map[string]*tar.Header, string) {
	t.Helper()
	res, err := env.Client.CopyFromContainer(env.Context(), k.ID, mclient.CopyFromContainerOptions{SourcePath: "/data"})
	if err != nil {
		t.Fatalf("reading /data: %v", err)
	}
	defer res.Content.Close()
	entries := map[string]*tar.Header{}
	password := ""
	tr := tar.NewReader(res.Content)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		entries[strings.TrimSuffix(h.Name, "/")] = h
		if h.Name == "data/initial-admin-password" {
			b, _ := io.ReadAll(tr)
			password = strings.TrimSpace(string(b))
		}
	}
	return entries, password
}

// login logs in to kaj's API as admin and reports the status.
func login(t *testing.T, base, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": password})
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestKajImage_hostEngine runs kaj's image the way the README says: the
// host's engine socket mounted, the socket's group added to kaj's
// unprivileged user, a volume on /data, port 8080 published on loopback.
func TestKajImage_hostEngine(t *testing.T) {
	env := testutil.NewEnv(t)
	sock, gid, _ := socket(t, env)
	tag := buildKajImage(t, env)
	ctx := env.Context()

	img, err := env.Client.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kaj image %s: %d bytes (%.1f MB)", tag, img.Size, float64(img.Size)/1e6)
	cfg := img.Config
	if cfg.User != "10001:10001" {
		t.Errorf("image user %q; want the unprivileged 10001:10001", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/kaj", "serve"}) || len(cfg.Cmd) != 0 {
		t.Errorf("entrypoint %q, cmd %q; want exec-form /kaj serve", cfg.Entrypoint, cfg.Cmd)
	}
	if _, ok := cfg.ExposedPorts[kajPort.String()]; !ok {
		t.Errorf("exposed ports %v; want 8080/tcp", cfg.ExposedPorts)
	}
	if cfg.Healthcheck == nil || !slices.Equal(cfg.Healthcheck.Test, []string{"CMD", "/kaj", "healthcheck"}) {
		t.Errorf("healthcheck %+v; want CMD /kaj healthcheck", cfg.Healthcheck)
	}
	for _, kv := range []string{"KAJ_DATA=/data", "KAJ_LISTEN=0.0.0.0:8080"} {
		if !slices.Contains(cfg.Env, kv) {
			t.Errorf("image env %q lacks %s", cfg.Env, kv)
		}
	}
	if img.Config.Labels["org.opencontainers.image.version"] != version {
		t.Errorf("image labels %v; want version %s", img.Config.Labels, version)
	}

	engine, err := env.Client.ServerVersion(ctx, mclient.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	volume := env.Name("kaj-data")
	if _, err := env.Client.VolumeCreate(ctx, mclient.VolumeCreateOptions{Name: volume, Labels: env.Labels()}); err != nil {
		t.Fatal(err)
	}
	groups := []string{strconv.FormatUint(uint64(gid), 10)}
	k := runKaj(t, env, tag, sock, volume, runOptions{groups: groups})
	h := k.healthz(t, env)
	if h.Status != "ok" || !h.Engine.Reachable || h.Engine.Version != engine.Version || h.Version != version {
		t.Fatalf("/healthz = %+v; want ok, kaj %s, engine %s reachable\n%s", h, version, engine.Version, k.logs(t, env))
	}
	k.waitHealth(t, env, container.Healthy)

	// kaj's data is on the volume, private to its user.
	data, password := k.dataDir(t, env)
	if d := data["data"]; d == nil || d.Uid != 10001 || os.FileMode(d.Mode).Perm() != 0o700 {
		t.Errorf("/data is %+v; want a directory of user 10001 with mode 0700", d)
	}
	for _, f := range []string{"data/kaj.db", "data/kaj.key"} {
		if h := data[f]; h == nil || h.Uid != 10001 || os.FileMode(h.Mode).Perm() != 0o600 {
			t.Errorf("%s is %+v; want a file of user 10001 with mode 0600", f, h)
		}
	}
	if password == "" {
		t.Fatalf("no first admin password in /data: %v", data)
	}
	if code := login(t, k.URL, password); code != http.StatusOK {
		t.Fatalf("logging in to kaj in its container: status %d", code)
	}

	// SIGTERM stops it cleanly as PID 1; a new container on the same
	// volume has the same users.
	if code := k.stop(t, env); code != 0 {
		t.Errorf("kaj exited with %d on SIGTERM; want 0\n%s", code, k.logs(t, env))
	}
	again := runKaj(t, env, tag, sock, volume, runOptions{groups: groups})
	if h := again.healthz(t, env); h.Status != "ok" {
		t.Fatalf("second start: /healthz = %+v", h)
	}
	if code := login(t, again.URL, password); code != http.StatusOK {
		t.Errorf("after a restart on the same volume, the admin's login answers %d", code)
	}
	if code := again.stop(t, env); code != 0 {
		t.Errorf("kaj exited with %d on SIGTERM; want 0\n%s", code, again.logs(t, env))
	}

	// In the host's network namespace, as deploys need it, kaj listens on
	// the loopback address it is given, and its health check finds it
	// there.
	host := runKaj(t, env, tag, sock, volume, runOptions{groups: groups, hostListen: freeLoopback(t)})
	if h := host.healthz(t, env); h.Status != "ok" || !h.Engine.Reachable {
		t.Fatalf("with --network host: /healthz = %+v", h)
	}
	host.waitHealth(t, env, container.Healthy)
	if code := login(t, host.URL, password); code != http.StatusOK {
		t.Errorf("with --network host, the admin's login answers %d", code)
	}
}

// TestKajImage_socketNeedsGroup shows that kaj's user gets no engine
// access of its own: without the socket's group it cannot reach the
// engine, and the image's health check says so.
func TestKajImage_socketNeedsGroup(t *testing.T) {
	env := testutil.NewEnv(t)
	sock, _, mode := socket(t, env)
	if mode&0o006 != 0 {
		t.Skipf("%s has mode %v: every user may use it, there is nothing to withhold", sock, mode)
	}
	tag := buildKajImage(t, env)
	volume := env.Name("kaj-data")
	if _, err := env.Client.VolumeCreate(env.Context(), mclient.VolumeCreateOptions{Name: volume, Labels: env.Labels()}); err != nil {
		t.Fatal(err)
	}
	k := runKaj(t, env, tag, sock, volume, runOptions{})
	h := k.healthz(t, env)
	if h.Engine.Reachable || h.Status != "degraded" || !strings.Contains(h.Engine.Error, "permission denied") {
		t.Fatalf("/healthz without the socket's group = %+v; want degraded, engine unreachable: permission denied", h)
	}
	k.waitHealth(t, env, container.Unhealthy)
}

// TestBuildImageScript runs scripts/build-image as a user would, with the
// docker CLI, and checks the image it tags.
func TestBuildImageScript(t *testing.T) {
	env := testutil.NewEnv(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker command line here; scripts/build-image needs it")
	}
	repo := env.Name("kaj-script")
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "build-image"), "--label", fmt.Sprintf("%s=%s", testutil.Label, env.ID))
	cmd.Env = append(os.Environ(), "IMAGE="+repo, "VERSION=v0.0.0-test+local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build-image: %v\n%s", err, out)
	}
	for _, tag := range []string{repo + ":v0.0.0-test-local", repo + ":latest"} {
		img, err := env.Client.ImageInspect(env.Context(), tag)
		if err != nil {
			t.Fatalf("%s: %v", tag, err)
		}
		labels := img.Config.Labels
		if labels[testutil.Label] != env.ID || labels["org.opencontainers.image.version"] != "v0.0.0-test+local" || img.Config.User != "10001:10001" {
			t.Errorf("%s: labels %v, user %q", tag, labels, img.Config.User)
		}
	}
}

package image_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/kajhq/kaj/microblog/image"
	"github.com/kajhq/kaj/microblog/webclient"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// testLabel marks everything these tests create in the engine.
const testLabel = "kaj.test"

// engine returns a client of the local Docker Engine. Without one the test
// is skipped, unless KAJ_REQUIRE_DOCKER=1 makes that a failure.
func engine(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = cli.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		if os.Getenv("KAJ_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker Engine, and KAJ_REQUIRE_DOCKER=1: %v", err)
		}
		t.Skipf("no Docker Engine reachable (%v); set KAJ_REQUIRE_DOCKER=1 to fail instead", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func unique() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// buildImage builds the production image under two fresh tags, as the
// lesson tags it, and removes it when the test ends.
func buildImage(t testing.TB, cli *client.Client) (id, tag string) {
	t.Helper()
	repo := "kaj-test-microblog-" + unique()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	id, err := image.Build(ctx, cli, []string{repo + ":1.0.0-prod", repo + ":prod"}, map[string]string{testLabel: t.Name()})
	if id != "" {
		t.Cleanup(func() {
			_, err := cli.ImageRemove(context.Background(), id, client.ImageRemoveOptions{Force: true, PruneChildren: true})
			if err != nil {
				t.Errorf("removing image %s: %v", id, err)
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return id, repo + ":1.0.0-prod"
}

// running is a started microblog container.
type running struct {
	id, name string
	url      string
	started  time.Time
}

// runMicroblog starts a container of imageID with env (KEY=value), its port
// 5000 published on a free 127.0.0.1 port, and removes it when the test
// ends. Pass DATABASE_URL in env and a network to run against a database
// container; without them it uses SQLite in /data.
func runMicroblog(t testing.TB, cli *client.Client, imageID string, env []string, networkID string) *running {
	t.Helper()
	ctx := context.Background()
	name := "kaj-test-microblog-" + unique()
	port := network.MustParsePort("5000/tcp")
	hostCfg := &container.HostConfig{
		PortBindings: network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}},
	}
	if networkID != "" {
		hostCfg.NetworkMode = container.NetworkMode(networkID)
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:  imageID,
			Env:    env,
			Labels: map[string]string{testLabel: t.Name()},
			// Only the pace changes; the check itself is the image's.
			Healthcheck: &container.HealthConfig{Interval: time.Second},
		},
		HostConfig: hostCfg,
	})
	if err != nil {
		t.Fatalf("creating container: %v", err)
	}
	r := &running{id: created.ID, name: name}
	t.Cleanup(func() { r.remove(t, cli) })
	r.started = time.Now()
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("starting container: %v", err)
	}
	insp, err := cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bindings := insp.Container.NetworkSettings.Ports[port]
	if len(bindings) == 0 || bindings[0].HostPort == "" {
		t.Fatalf("port 5000 not published: %+v", insp.Container.NetworkSettings.Ports)
	}
	r.url = "http://127.0.0.1:" + bindings[0].HostPort
	return r
}

// waitHealthy polls /healthz until it answers 200 and returns the time
// since the container was started.
func (r *running) waitHealthy(t testing.TB, cli *client.Client) time.Duration {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := hc.Get(r.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(r.started)
			}
		}
	}
	stdout, stderr := r.logs(t, cli)
	t.Fatalf("no /healthz 200 within 60s\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	return 0
}

// remove removes the container and its anonymous volumes, if still there.
func (r *running) remove(t testing.TB, cli *client.Client) {
	_, err := cli.ContainerRemove(context.Background(), r.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		t.Errorf("removing container %s: %v", r.name, err)
	}
}

func (r *running) logs(t testing.TB, cli *client.Client) (stdout, stderr string) {
	t.Helper()
	rc, err := cli.ContainerLogs(context.Background(), r.id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("reading logs: %v", err)
	}
	defer rc.Close()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, rc); err != nil {
		t.Fatalf("reading logs: %v", err)
	}
	return out.String(), errb.String()
}

func (r *running) inspect(t testing.TB, cli *client.Client) container.InspectResponse {
	t.Helper()
	insp, err := cli.ContainerInspect(context.Background(), r.id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return insp.Container
}

func TestBuild(t *testing.T) {
	cli := engine(t)
	id, tag := buildImage(t, cli)
	ctx := context.Background()

	img, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != id {
		t.Errorf("tag %s is %s, Build returned %s", tag, img.ID, id)
	}
	cfg := img.Config
	if cfg.User != "10001:10001" {
		t.Errorf("user %q, want the unprivileged 10001:10001", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/microblog"}) {
		t.Errorf("entrypoint %q", cfg.Entrypoint)
	}
	if _, ok := cfg.ExposedPorts["5000/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 5000/tcp", cfg.ExposedPorts)
	}
	if cfg.Healthcheck == nil || !slices.Equal(cfg.Healthcheck.Test, []string{"CMD", "/microblog", "healthcheck"}) {
		t.Errorf("healthcheck %+v", cfg.Healthcheck)
	}
	for _, e := range cfg.Env {
		if strings.HasPrefix(e, "SECRET_KEY=") || strings.HasPrefix(e, "DATABASE_URL=") {
			t.Errorf("a setting is baked into the image: %s", e)
		}
	}
	if cfg.Labels[testLabel] != t.Name() {
		t.Errorf("labels %v lack %s", cfg.Labels, testLabel)
	}
	t.Logf("image %s: %.1f MB in %d layers", tag, float64(img.Size)/1e6, len(img.RootFS.Layers))

	t.Run("serves with SQLite", func(t *testing.T) {
		exercise(t, cli, id, nil, "")
	})

	t.Run("refuses a bad DATABASE_URL", func(t *testing.T) {
		r := runMicroblog(t, cli, id, []string{"DATABASE_URL=mysql//dbserver/microblog"}, "")
		var state *container.State
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if state = r.inspect(t, cli).State; state.Status == container.StateExited {
				break
			}
		}
		if state.Status != container.StateExited || state.ExitCode != 1 {
			t.Fatalf("state %s exit %d, want exited with 1", state.Status, state.ExitCode)
		}
		if _, stderr := r.logs(t, cli); !strings.Contains(stderr, "microblog: DATABASE_URL") {
			t.Errorf("stderr does not explain:\n%s", stderr)
		}
	})
}

// exercise runs the image with env on networkID, then does what a user
// does: register, log in, write a post and read it back; and what the
// engine does: health-check it and stop it. Pass a DATABASE_URL in env to
// exercise it against a database container.
func exercise(t *testing.T, cli *client.Client, imageID string, env []string, networkID string) {
	ctx := context.Background()
	r := runMicroblog(t, cli, imageID, append([]string{"SECRET_KEY=kaj test secret"}, env...), networkID)
	cold := r.waitHealthy(t, cli)
	t.Logf("cold start to first /healthz 200: %v", cold.Round(time.Millisecond))

	c, err := webclient.New(r.url)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, "alice", "alice@example.com", "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, "alice", "correct horse"); err != nil {
		t.Fatal(err)
	}
	post := "Hello from a container " + unique()
	if err := c.WritePost(ctx, post); err != nil {
		t.Fatal(err)
	}
	home, err := c.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if got := webclient.Posts(home.Body); !slices.Contains(got, post) {
		t.Errorf("timeline %q lacks the post", got)
	}

	// The image's own HEALTHCHECK (the binary checking itself) passes.
	var health string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if h := r.inspect(t, cli).State.Health; h != nil {
			if health = string(h.Status); health == string(container.Healthy) {
				break
			}
		}
	}
	if health != string(container.Healthy) {
		t.Errorf("engine health status %q, want healthy", health)
	}

	stdout, stderr := r.logs(t, cli)
	if !strings.Contains(stdout, `POST "/" HTTP/1.1 303`) {
		t.Errorf("access log (stdout) lacks the post:\n%s", stdout)
	}
	if !strings.Contains(stderr, "database is up to date") {
		t.Errorf("application log (stderr) lacks the upgrade:\n%s", stderr)
	}

	// docker stop: SIGTERM to PID 1, which must exit 0 on its own rather
	// than be killed (137) when the grace period ends.
	timeout := 10
	stopStart := time.Now()
	if _, err := cli.ContainerStop(ctx, r.id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if st := r.inspect(t, cli).State; st.ExitCode != 0 || st.OOMKilled {
		t.Errorf("exit code %d after docker stop, want 0", st.ExitCode)
	}
	t.Logf("docker stop took %v", time.Since(stopStart).Round(time.Millisecond))
}

// BenchmarkColdStart measures a fresh container's start to its first
// /healthz 200 with SQLite, reported as ms/healthy.
func BenchmarkColdStart(b *testing.B) {
	cli := engine(b)
	id, _ := buildImage(b, cli)
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		r := runMicroblog(b, cli, id, []string{"SECRET_KEY=kaj test secret"}, "")
		total += r.waitHealthy(b, cli)
		b.StopTimer()
		r.remove(b, cli)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/healthy")
}

package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kajhq/kaj/internal/testutil"
	mregistry "github.com/moby/moby/api/types/registry"
	mclient "github.com/moby/moby/client"
)

// BenchmarkPushPull moves a 200 MB image of four incompressible 50 MB
// layers between the engine and local distribution registries, by kaj and
// by docker push / docker pull, in the same run; each push goes to a
// fresh registry so that no blob is there yet. Alongside, it times the
// alternatives kaj chose against: go-containerregistry's
// daemon.Image + remote.Write and the engine's push API for pushing, and
// kaj's own download-and-load for pulling. Every figure is seconds per
// transfer; the ratios are kaj / docker, paired by round: kaj at
// docker's compression level (gzip 6), and kaj's own default (gzip 1)
// separately. Run it with -benchtime=3x.
func BenchmarkPushPull(b *testing.B) {
	env := testutil.NewEnv(b)
	// The test program is built once per process into the temporary
	// directory: build it before TMPDIR moves.
	if _, err := testutil.TestAppBinary(); err != nil {
		b.Fatal(err)
	}
	// daemon.WithFileBufferedOpener's files go away only when the garbage
	// collector finds them; keep them where the benchmark's cleanup looks.
	b.Setenv("TMPDIR", b.TempDir())
	ctx := context.Background()
	var layers []v1.Layer
	for range 4 {
		layers = append(layers, randomLayer(b, 50<<20))
	}
	local := "kaj-bench:" + env.ID
	loadImage(b, env, local, "bench", layers...)
	insp, err := env.Client.ImageInspect(ctx, local)
	if err != nil {
		b.Fatal(err)
	}
	id := insp.ID
	docker := newDockerCLI(b)

	times := map[string][]float64{}
	timed := func(what string, f func() error) {
		b.Helper()
		start := time.Now()
		if err := f(); err != nil {
			b.Fatalf("%s: %v", what, err)
		}
		times[what] = append(times[what], time.Since(start).Seconds())
	}
	// kaj at the engine's compression level, gzip's default, so that the
	// push ratio compares transfer work, not compression levels.
	sameLevel := func(reg *testutil.Registry) *Client {
		c, err := New(Options{Credentials: credsFor(reg), Backoff: fastBackoff, Engine: env.Client, GzipLevel: 6}) // compress/gzip's default level
		if err != nil {
			b.Fatal(err)
		}
		return c
	}

	b.ResetTimer()
	for i := range b.N {
		regs := map[string]*testutil.Registry{}
		for _, k := range []string{"kaj", "kaj6", "docker", "ggcr", "engine"} {
			regs[k] = testutil.NewDistributionRegistry(b)
		}
		c := newTestClient(b, env, regs["kaj"])
		kajRef := regs["kaj"].Host + "/bench:v1"
		dockerRef := regs["docker"].Host + "/bench:v1"

		c6 := sameLevel(regs["kaj6"])
		pushes := []func(){
			func() {
				timed("kaj push", func() error { _, err := c.Push(ctx, local, kajRef, nil); return err })
				timed("kaj push gzip 6", func() error { _, err := c6.Push(ctx, local, regs["kaj6"].Host+"/bench:v1", nil); return err })
			},
			func() {
				timed("docker push", func() error { return docker.push(ctx, env, local, regs["docker"]) })
			},
			func() {
				timed("ggcr daemon+remote push", func() error { return ggcrPush(ctx, env, local, regs["ggcr"]) })
			},
			func() {
				timed("engine API push", func() error { return enginePush(ctx, env, local, regs["engine"]) })
			},
		}
		// Alternate the order so that neither side always runs on a warm
		// page cache.
		if i%2 == 1 {
			pushes[0], pushes[1] = pushes[1], pushes[0]
		}
		for _, p := range pushes {
			p()
		}

		pulls := []func(){
			func() {
				removeImage(b, env, id)
				timed("docker pull", func() error { return docker.pull(ctx, env, dockerRef, regs["docker"]) })
			},
			func() {
				removeImage(b, env, id)
				timed("kaj pull", func() error { _, err := c.Pull(ctx, kajRef, nil); return err })
			},
		}
		if i%2 == 1 {
			pulls[0], pulls[1] = pulls[1], pulls[0]
		}
		for _, p := range pulls {
			p()
		}
		removeImage(b, env, id)
		r, _ := ParseReference(kajRef)
		timed("kaj load pull", func() error {
			_, err := c.pull(ctx, r, nil, func(context.Context, string) bool { return false })
			return err
		})
		if _, err := env.Client.ImageTag(ctx, mclient.ImageTagOptions{Source: id, Target: local}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()

	// Medians of the rounds, and the paired ratios' median and range.
	med := func(xs []float64) float64 { s := slices.Clone(xs); slices.Sort(s); return s[len(s)/2] }
	for _, k := range []string{"kaj push", "kaj push gzip 6", "docker push", "ggcr daemon+remote push", "engine API push", "kaj pull", "docker pull", "kaj load pull"} {
		b.ReportMetric(med(times[k]), strings.ReplaceAll(k, " ", "-")+"-s")
	}
	ratio := func(name, a, d string) {
		var rs []float64
		for i := range times[a] {
			rs = append(rs, times[a][i]/times[d][i])
		}
		slices.Sort(rs)
		b.ReportMetric(med(rs), name)
		b.Logf("%s / %s: median %.2f over %d rounds (range %.2f–%.2f)", a, d, med(rs), len(rs), rs[0], rs[len(rs)-1])
	}
	ratio("push-ratio-gzip6", "kaj push gzip 6", "docker push")
	ratio("push-ratio-kaj-default", "kaj push", "docker push")
	ratio("pull-ratio", "kaj pull", "docker pull")
	b.Logf("docker via %s, which compresses at gzip's default level (6); kaj's default is level 1; %d rounds", docker.how(), b.N)
}

// dockerCLI runs the docker command line with a configuration of its own,
// so that logging in leaves the user's ~/.docker alone. Without the CLI it
// falls back to the engine API calls the CLI would make.
type dockerCLI struct {
	path, config string
}

func newDockerCLI(b *testing.B) *dockerCLI {
	p, err := exec.LookPath("docker")
	if err != nil {
		b.Logf("docker CLI not found (%v): timing the engine API instead", err)
		return &dockerCLI{}
	}
	return &dockerCLI{path: p, config: b.TempDir()}
}

func (d *dockerCLI) how() string {
	if d.path == "" {
		return "the engine API"
	}
	return "the docker CLI"
}

func (d *dockerCLI) run(ctx context.Context, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, d.path, args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+d.config)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (d *dockerCLI) login(ctx context.Context, reg *testutil.Registry) error {
	return d.run(ctx, reg.Password, "login", "--username", reg.Username, "--password-stdin", reg.Host)
}

// push tags local for reg and pushes it; the login and tag stay outside
// the timing of the engine API fallback, but inside the CLI's (they take
// milliseconds).
func (d *dockerCLI) push(ctx context.Context, env *testutil.Env, local string, reg *testutil.Registry) error {
	if d.path == "" {
		return enginePush(ctx, env, local, reg)
	}
	ref := reg.Host + "/bench:v1"
	if err := d.login(ctx, reg); err != nil {
		return err
	}
	if err := d.run(ctx, "", "tag", local, ref); err != nil {
		return err
	}
	return d.run(ctx, "", "push", ref)
}

func (d *dockerCLI) pull(ctx context.Context, env *testutil.Env, ref string, reg *testutil.Registry) error {
	if d.path == "" {
		resp, err := env.Client.ImagePull(ctx, ref, mclient.ImagePullOptions{RegistryAuth: basicAuth(reg)})
		if err != nil {
			return err
		}
		defer resp.Close()
		return resp.Wait(ctx)
	}
	return d.run(ctx, "", "pull", ref)
}

func basicAuth(reg *testutil.Registry) string {
	b, _ := json.Marshal(mregistry.AuthConfig{Username: reg.Username, Password: reg.Password, ServerAddress: reg.Host})
	return base64.URLEncoding.EncodeToString(b)
}

// enginePush is the engine's own push, as docker push asks for it.
func enginePush(ctx context.Context, env *testutil.Env, local string, reg *testutil.Registry) error {
	ref := reg.Host + "/bench:v1"
	if _, err := env.Client.ImageTag(ctx, mclient.ImageTagOptions{Source: local, Target: ref}); err != nil {
		return err
	}
	resp, err := env.Client.ImagePush(ctx, ref, mclient.ImagePushOptions{RegistryAuth: basicAuth(reg)})
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Wait(ctx)
}

// ggcrPush is go-containerregistry's stock way: daemon.Image (buffered in
// a temporary file) written with remote.Write.
func ggcrPush(ctx context.Context, env *testutil.Env, local string, reg *testutil.Registry) error {
	src, err := name.ParseReference(local)
	if err != nil {
		return err
	}
	img, err := daemon.Image(src, daemon.WithClient(env.Client), daemon.WithContext(ctx), daemon.WithFileBufferedOpener())
	if err != nil {
		return err
	}
	dst, err := name.ParseReference(reg.Host + "/bench:v1")
	if err != nil {
		return err
	}
	return remote.Write(dst, img, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: reg.Username, Password: reg.Password}))
}

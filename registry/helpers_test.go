package registry

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/kajhq/kaj/internal/testutil"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	mclient "github.com/moby/moby/client"
)

// fastBackoff keeps retry tests from sleeping.
var fastBackoff = Backoff{Initial: time.Millisecond, Factor: 1, Attempts: 4}

// registryKinds are the registries every integration test runs against:
// go-containerregistry's in-process one (fast) and the reference
// distribution server with htpasswd, each behind a recorder of blob
// uploads.
var registryKinds = []struct {
	name  string
	start func(t *testing.T, log *blobLog) *testutil.Registry
	// repoBlobs: a blob uploaded to one repository is not visible in
	// another until mounted there (distribution); the in-process
	// registry shares all blobs.
	repoBlobs bool
}{
	{"in-process", func(t *testing.T, log *blobLog) *testutil.Registry {
		return testutil.NewMemRegistryHandler(t, log.wrap)
	}, false},
	{"distribution", func(t *testing.T, log *blobLog) *testutil.Registry {
		return recordedProxy(t, testutil.NewDistributionRegistry(t), log)
	}, true},
}

// credsFor hands out reg's credentials, as kaj's store would.
func credsFor(reg *testutil.Registry) Credentials {
	return func(_ context.Context, host string) (string, string, bool, error) {
		if host != reg.Host || reg.Username == "" {
			return "", "", false, nil
		}
		return reg.Username, reg.Password, true, nil
	}
}

func newTestClient(t testing.TB, env *testutil.Env, reg *testutil.Registry) *Client {
	t.Helper()
	opts := Options{Credentials: credsFor(reg), Backoff: fastBackoff}
	if env != nil {
		opts.Engine = env.Client
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// blobLog records the blob uploads a registry completes and the mounts it
// grants, by digest.
type blobLog struct {
	mu       sync.Mutex
	uploaded []string
	mounted  []string
}

func (l *blobLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		if !strings.Contains(r.URL.Path, "/blobs/uploads/") || rec.code != http.StatusCreated {
			return
		}
		q := r.URL.Query()
		l.mu.Lock()
		defer l.mu.Unlock()
		switch {
		case q.Get("mount") != "":
			l.mounted = append(l.mounted, q.Get("mount"))
		case q.Get("digest") != "":
			l.uploaded = append(l.uploaded, q.Get("digest"))
		}
	})
}

// take returns what was recorded since the last take, sorted.
func (l *blobLog) take() (uploaded, mounted []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	uploaded, mounted = l.uploaded, l.mounted
	l.uploaded, l.mounted = nil, nil
	slices.Sort(uploaded)
	slices.Sort(mounted)
	return uploaded, mounted
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// recordedProxy puts a reverse proxy that records blob uploads in front of
// reg, on its own loopback port; the registry builds its upload URLs from
// the Host header, so clients keep talking to the proxy.
func recordedProxy(t *testing.T, reg *testutil.Registry, log *blobLog) *testutil.Registry {
	t.Helper()
	u, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(log.wrap(httputil.NewSingleHostReverseProxy(u)))
	t.Cleanup(srv.Close)
	return &testutil.Registry{Host: strings.TrimPrefix(srv.URL, "http://"), Username: reg.Username, Password: reg.Password}
}

// randomLayer is a layer of n random bytes: unique to the test, and as
// incompressible as real binaries.
func randomLayer(t testing.TB, n int) v1.Layer {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	l, err := testutil.Layer(testutil.File{Path: "data-" + fmt.Sprint(time.Now().UnixNano()), Data: b})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// loadImage puts an image running testapp, with extra layers on top and
// MARK=mark in its environment, into the engine as ref.
func loadImage(t testing.TB, env *testutil.Env, ref, mark string, extra ...v1.Layer) v1.Image {
	t.Helper()
	app, err := testutil.TestAppLayer()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testutil.Image(testutil.ImageConfig{
		Entrypoint:   []string{"/testapp"},
		Env:          []string{"MARK=" + mark},
		ExposedPorts: []string{"8080/tcp"},
		Labels:       env.Labels(),
	}, append([]v1.Layer{app}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := env.Load(ctx, ref, img); err != nil {
		t.Fatal(err)
	}
	return img
}

// removeImage deletes the engine's image id with all its tags, and checks
// it is gone.
func removeImage(t testing.TB, env *testutil.Env, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Client.ImageRemove(ctx, id, mclient.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
		t.Fatalf("removing image %s: %v", id, err)
	}
	if _, err := env.Client.ImageInspect(ctx, id); err == nil {
		t.Fatalf("image %s still in the engine after removal", id)
	}
}

// runAndGet runs ref in a labelled container with port 8080 published on
// loopback and returns the body of GET /env. The container is removed
// before it returns.
func runAndGet(t testing.TB, env *testutil.Env, ref string) string {
	t.Helper()
	ctx := context.Background()
	port, _ := network.ParsePort("8080/tcp")
	res, err := env.Client.ContainerCreate(ctx, mclient.ContainerCreateOptions{
		Name:   env.Name("registry-run"),
		Config: &container.Config{Image: ref, Labels: env.Labels(), ExposedPorts: network.PortSet{port: {}}},
		HostConfig: &container.HostConfig{
			PortBindings: network.PortMap{port: []network.PortBinding{{HostIP: loopback}}},
		},
	})
	if err != nil {
		t.Fatalf("creating a container of %s: %v", ref, err)
	}
	defer env.Client.ContainerRemove(ctx, res.ID, mclient.ContainerRemoveOptions{Force: true})
	if _, err := env.Client.ContainerStart(ctx, res.ID, mclient.ContainerStartOptions{}); err != nil {
		t.Fatalf("starting %s: %v", ref, err)
	}
	insp, err := env.Client.ContainerInspect(ctx, res.ID, mclient.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := insp.Container.NetworkSettings.Ports[port]
	if len(b) == 0 {
		t.Fatal("port 8080 not published")
	}
	u := "http://" + net.JoinHostPort("127.0.0.1", b[0].HostPort) + "/env"
	var lastErr error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(u)
		if err != nil {
			lastErr = err
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			lastErr = fmt.Errorf("status %d, %v", resp.StatusCode, err)
			continue
		}
		return string(body)
	}
	t.Fatalf("container of %s never answered on %s: %v", ref, u, lastErr)
	return ""
}

// progressLog collects the events of one operation.
type progressLog struct {
	mu     sync.Mutex
	events []Progress
}

func (p *progressLog) add(e Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

func (p *progressLog) take() []Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.events
	p.events = nil
	return e
}

func layerTotals(layers []Layer) map[int]int64 {
	m := map[int]int64{}
	for i, l := range layers {
		m[i] = l.Size
	}
	return m
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

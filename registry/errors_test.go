package registry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kajhq/kaj/internal/testutil"
	mclient "github.com/moby/moby/client"
)

// seed writes a small random image to ref on reg with go-containerregistry
// alone, so that error tests need no engine.
func seed(t *testing.T, reg *testutil.Registry, ref string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	n, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	var a authn.Authenticator = authn.Anonymous
	if reg.Username != "" {
		a = &authn.Basic{Username: reg.Username, Password: reg.Password}
	}
	if err := remote.Write(n, img, remote.WithAuth(a)); err != nil {
		t.Fatal(err)
	}
	return img
}

func wantKind(t *testing.T, err, kind error) *Error {
	t.Helper()
	t.Logf("error: %v", err)
	if !errors.Is(err, kind) {
		t.Fatalf("got %v, want %v", err, kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not an *Error", err)
	}
	return e
}

func TestResolve_unknownRepositoryAndTag(t *testing.T) {
	for _, kind := range registryKinds {
		t.Run(kind.name, func(t *testing.T) {
			var log blobLog
			reg := kind.start(t, &log)
			c := newTestClient(t, nil, reg)
			ctx := t.Context()
			img := seed(t, reg, reg.Host+"/kt/known:1")

			_, err := c.Resolve(ctx, reg.Host+"/kt/unknown:1")
			e := wantKind(t, err, ErrUnknownRepository)
			if e.Registry != reg.Host {
				t.Errorf("error names registry %q, want %q", e.Registry, reg.Host)
			}
			_, err = c.Resolve(ctx, reg.Host+"/kt/known:2")
			wantKind(t, err, ErrUnknownTag)

			got, err := c.Resolve(ctx, reg.Host+"/kt/known:1")
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := img.Digest(); got.Digest != d.String() {
				t.Errorf("resolved %s, seeded %s", got.Digest, d)
			}
		})
	}
}

// faultServer is the in-process registry behind fault, which may answer
// a request itself (returning true) instead of passing it on.
func faultServer(t *testing.T, fault func(w http.ResponseWriter, r *http.Request) bool) *testutil.Registry {
	return testutil.NewMemRegistryHandler(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !fault(w, r) {
				h.ServeHTTP(w, r)
			}
		})
	})
}

func isManifestGet(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/")
}

func TestResolve_rateLimited(t *testing.T) {
	for _, tt := range []struct {
		name, header string
		want         time.Duration
	}{
		{"seconds", "120", 120 * time.Second},
		{"http date", time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat), 90 * time.Second},
		{"absent", "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			reg := faultServer(t, func(w http.ResponseWriter, r *http.Request) bool {
				if !isManifestGet(r) {
					return false
				}
				calls.Add(1)
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte(`{"errors":[{"code":"TOOMANYREQUESTS","message":"pull rate limit"}]}`))
				return true
			})
			c := newTestClient(t, nil, reg)
			_, err := c.Resolve(t.Context(), reg.Host+"/kt/app:1")
			e := wantKind(t, err, ErrRateLimited)
			if d := e.RetryAfter - tt.want; d < -2*time.Second || d > 0 {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.want)
			}
			if tt.want > 0 && !strings.Contains(err.Error(), "retry after") {
				t.Errorf("message %q does not say when to retry", err)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("the registry was asked %d times; a 429 must not be retried", n)
			}
		})
	}
}

func TestResolve_retries(t *testing.T) {
	tests := []struct {
		name     string
		failures int32
		fail     func(w http.ResponseWriter)
		timeout  time.Duration
	}{
		{"503 then success", 2, func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }, 0},
		{"502 then success", 3, func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, 0},
		{"reset then success", 2, func(w http.ResponseWriter) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0) // close with a RST
				conn.Close()
			}
		}, 0},
		{"timeout then success", 1, func(w http.ResponseWriter) { time.Sleep(300 * time.Millisecond) }, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			reg := faultServer(t, func(w http.ResponseWriter, r *http.Request) bool {
				if !isManifestGet(r) || calls.Add(1) > tt.failures {
					return false
				}
				tt.fail(w)
				return true
			})
			seed(t, reg, reg.Host+"/kt/app:1")
			opts := Options{Backoff: fastBackoff}
			if tt.timeout > 0 {
				opts.Transport = &http.Transport{ResponseHeaderTimeout: tt.timeout}
			}
			c, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Resolve(t.Context(), reg.Host+"/kt/app:1"); err != nil {
				t.Fatalf("after %d failures: %v", tt.failures, err)
			}
			if n := calls.Load(); n != tt.failures+1 {
				t.Errorf("registry asked %d times, want %d", n, tt.failures+1)
			}
		})
	}
}

func TestResolve_unavailableAfterRetries(t *testing.T) {
	var calls atomic.Int32
	reg := faultServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		if !isManifestGet(r) {
			return false
		}
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	c := newTestClient(t, nil, reg)
	_, err := c.Resolve(t.Context(), reg.Host+"/kt/app:1")
	wantKind(t, err, ErrUnavailable)
	if n := calls.Load(); n != int32(fastBackoff.Attempts) {
		t.Errorf("registry asked %d times, want %d", n, fastBackoff.Attempts)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	_, err = c.Resolve(t.Context(), host+"/kt/app:1")
	wantKind(t, err, ErrUnavailable)
}

// dialTo is a transport that connects to addr whatever the request's host:
// a registry under any name, without DNS.
func dialTo(addr string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
}

func TestResolve_TLSFailure(t *testing.T) {
	srv := httptest.NewUnstartedServer(ggcrregistry.New(ggcrregistry.Logger(discardLogger())))
	srv.Config.ErrorLog = discardLogger() // the failing handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "https://")

	c := newTestClient(t, nil, &testutil.Registry{})
	_, err := c.Resolve(t.Context(), addr+"/kt/app:1")
	wantKind(t, err, ErrTLS)

	// Under a name that is not loopback there is no plain-HTTP attempt.
	c, err = New(Options{Transport: dialTo(addr), Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(t.Context(), "registry.example.com/kt/app:1")
	e := wantKind(t, err, ErrTLS)
	if e.Registry != "registry.example.com" || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error %q should name the registry and the certificate problem", err)
	}
}

func TestResolve_plainHTTPOnlyWhereAllowed(t *testing.T) {
	reg := testutil.NewMemRegistry(t)
	seed(t, reg, reg.Host+"/kt/app:1")
	const private = "10.9.8.7:5000"

	c, err := New(Options{Transport: dialTo(reg.Host), Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(t.Context(), private+"/kt/app:1")
	wantKind(t, err, ErrPlainHTTP)

	c, err = New(Options{Transport: dialTo(reg.Host), Backoff: fastBackoff, Insecure: []string{private}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(t.Context(), private+"/kt/app:1"); err != nil {
		t.Errorf("with %s listed as insecure: %v", private, err)
	}
}

func TestResolve_DNSFailure(t *testing.T) {
	c := newTestClient(t, nil, &testutil.Registry{})
	_, err := c.Resolve(t.Context(), "kaj-test.invalid/kt/app:1")
	e := wantKind(t, err, ErrDNS)
	if e.Registry != "kaj-test.invalid" {
		t.Errorf("error names registry %q", e.Registry)
	}
}

func TestResolve_platformFromIndex(t *testing.T) {
	reg := testutil.NewMemRegistry(t)
	amd, _ := random.Image(512, 1)
	arm, _ := random.Image(512, 1)
	s390, _ := random.Image(512, 1)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	only := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: s390, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}})
	for ref, ix := range map[string]v1.ImageIndex{"/kt/multi:1": idx, "/kt/s390x:1": only} {
		n, _ := name.ParseReference(reg.Host + ref)
		if err := remote.WriteIndex(n, ix); err != nil {
			t.Fatal(err)
		}
	}
	idxDigest, _ := idx.Digest()
	for platform, want := range map[string]v1.Image{"linux/amd64": amd, "linux/arm64": arm} {
		c, err := New(Options{Platform: platform, Backoff: fastBackoff})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Resolve(t.Context(), reg.Host+"/kt/multi:1")
		if err != nil {
			t.Fatal(err)
		}
		wd, _ := want.Digest()
		if got.Digest != wd.String() || got.IndexDigest != idxDigest.String() {
			t.Errorf("%s: resolved %s in index %s, want %s in %s", platform, got.Digest, got.IndexDigest, wd, idxDigest)
		}
	}
	c := newTestClient(t, nil, reg)
	_, err := c.Resolve(t.Context(), reg.Host+"/kt/s390x:1")
	wantKind(t, err, ErrNoMatchingPlatform)
}

func TestClient_engineUnreachable(t *testing.T) {
	reg := testutil.NewMemRegistry(t)
	seed(t, reg, reg.Host+"/kt/app:1")
	engine, err := mclient.New(mclient.WithHost("unix://"+t.TempDir()+"/no-docker.sock"), mclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	c, err := New(Options{Engine: engine, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_, err = c.Pull(ctx, reg.Host+"/kt/app:1", nil)
	wantKind(t, err, ErrEngineUnreachable)
	_, err = c.Push(ctx, "app:1", reg.Host+"/kt/app:2", nil)
	wantKind(t, err, ErrEngineUnreachable)
	_, err = c.ListLocal(ctx, nil)
	wantKind(t, err, ErrEngineUnreachable)

	bare, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bare.Push(ctx, "app:1", reg.Host+"/kt/app:2", nil)
	wantKind(t, err, ErrNoEngine)
}

func TestNew_badOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"insecure host": {Insecure: []string{"a b"}},
		"platform":      {Platform: "amd64"},
		"backoff":       {Backoff: Backoff{Initial: time.Second}},
		"jobs":          {Jobs: -1},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
}

package registry

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	mclient "github.com/moby/moby/client"
)

// Credentials looks up what kaj holds for a registry host, spelled as
// NormalizeHost spells it ("index.docker.io" for Docker Hub). ok is false
// when it holds nothing for the host; the user's Docker config is tried
// next. An error stops the operation.
type Credentials func(ctx context.Context, host string) (username, password string, ok bool, err error)

// Engine is what this package uses of the Docker Engine client;
// *client.Client from github.com/moby/moby/client is one.
type Engine interface {
	ServerVersion(ctx context.Context, options mclient.ServerVersionOptions) (mclient.ServerVersionResult, error)
	Info(ctx context.Context, options mclient.InfoOptions) (mclient.SystemInfoResult, error)
	ImageInspect(ctx context.Context, image string, opts ...mclient.ImageInspectOption) (mclient.ImageInspectResult, error)
	ImageList(ctx context.Context, options mclient.ImageListOptions) (mclient.ImageListResult, error)
	ImageTag(ctx context.Context, options mclient.ImageTagOptions) (mclient.ImageTagResult, error)
	ImageSave(ctx context.Context, images []string, opts ...mclient.ImageSaveOption) (mclient.ImageSaveResult, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...mclient.ImageLoadOption) (mclient.ImageLoadResult, error)
	ImagePull(ctx context.Context, ref string, options mclient.ImagePullOptions) (mclient.ImagePullResponse, error)
}

var _ Engine = (*mclient.Client)(nil)

// Backoff is the retry schedule for requests that fail with a 5xx answer,
// a reset connection or a timeout.
type Backoff struct {
	// Initial is the wait before the first retry; each next wait is
	// Factor times longer.
	Initial time.Duration
	Factor  float64
	// Attempts is how many times a request is tried in all, the first
	// included.
	Attempts int
}

// DefaultBackoff tries four times, waiting 1s, 3s and 9s: long enough to
// ride out a registry restart, short enough for a deploy to fail visibly.
var DefaultBackoff = Backoff{Initial: time.Second, Factor: 3, Attempts: 4}

// Options configure a Client. The zero value works for registry-only use.
type Options struct {
	// Engine is the Docker Engine, needed by Pull, Push, TagLocal and
	// ListLocal; nil leaves them failing with ErrNoEngine.
	Engine Engine
	// Credentials is kaj's own credential lookup; nil means only the
	// user's Docker config (~/.docker/config.json and its credential
	// helpers) is used.
	Credentials Credentials
	// Insecure lists registries (host or host:port) that may be reached
	// over plain HTTP. Loopback hosts always may; nothing else may.
	Insecure []string
	// Backoff is the retry schedule; the zero value means DefaultBackoff.
	Backoff Backoff
	// Transport carries every registry request; nil means a transport
	// with the usual proxy settings and timeouts.
	Transport http.RoundTripper
	// Jobs is how many layers are transferred at once; zero means 4.
	Jobs int
	// Platform ("linux/arm64", "linux/arm/v7") is the image picked from a
	// multi-platform index; empty means the engine's platform, or
	// linux/amd64 without an engine.
	Platform string
	// TempDir holds a pushed image while it is uploaded: its export from
	// the engine and its compressed layers, about twice its size. Empty
	// means os.TempDir().
	TempDir string
	// GzipLevel is the compression level of pushed layers (compress/gzip's
	// 1 to 9); zero means 1, gzip.BestSpeed: layers are mostly compressed
	// binaries, where higher levels cost several times the CPU for a few
	// percent. The engine's own push uses gzip's default, 6. A layer
	// pushed at another level has another digest, so the registry stores
	// it again.
	GzipLevel int
}

// Client resolves, pulls, tags and pushes images. It is safe for
// concurrent use; make one with New and share it.
type Client struct {
	engine    Engine
	creds     Credentials
	insecure  map[string]bool
	backoff   remote.Backoff
	transport http.RoundTripper
	jobs      int
	tempDir   string
	gzipLevel int
	blobs     *blobCache

	platformMu sync.Mutex
	platform   *v1.Platform
}

// New makes a Client. It fails only on malformed options.
func New(opts Options) (*Client, error) {
	c := &Client{
		engine:   opts.Engine,
		creds:    opts.Credentials,
		insecure: map[string]bool{},
		jobs:     opts.Jobs,
		tempDir:  opts.TempDir,
		blobs:    newBlobCache(),
	}
	switch {
	case opts.GzipLevel == 0:
		c.gzipLevel = gzip.BestSpeed
	case opts.GzipLevel < gzip.BestSpeed || opts.GzipLevel > gzip.BestCompression:
		return nil, fmt.Errorf("registry options: gzip level %d is not 1 to 9", opts.GzipLevel)
	default:
		c.gzipLevel = opts.GzipLevel
	}
	for _, h := range opts.Insecure {
		n, err := NormalizeHost(h)
		if err != nil {
			return nil, fmt.Errorf("insecure registries: %w", err)
		}
		c.insecure[n] = true
	}
	b := opts.Backoff
	if b == (Backoff{}) {
		b = DefaultBackoff
	}
	if b.Attempts < 1 || b.Initial < 0 || b.Factor < 0 {
		return nil, fmt.Errorf("invalid backoff %+v: Attempts must be at least 1, Initial and Factor not negative", b)
	}
	c.backoff = remote.Backoff{Duration: b.Initial, Factor: b.Factor, Jitter: 0.1, Steps: b.Attempts}
	if c.jobs == 0 {
		c.jobs = 4
	}
	if c.jobs < 0 {
		return nil, fmt.Errorf("invalid Jobs %d: must not be negative", c.jobs)
	}
	if opts.Platform != "" {
		p, err := v1.ParsePlatform(opts.Platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("invalid platform %q: write it as os/arch or os/arch/variant, like linux/amd64", opts.Platform)
		}
		c.platform = p
	}
	base := opts.Transport
	if base == nil {
		base = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   50,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	c.transport = &guard{inner: base, plainOK: c.plainOK}
	return c, nil
}

// plainOK reports whether host (host or host:port) may be reached over
// plain HTTP.
func (c *Client) plainOK(host string) bool {
	if isLoopback(host) {
		return true
	}
	h := strings.ToLower(host)
	if c.insecure[h] {
		return true
	}
	if hostname, _, err := net.SplitHostPort(h); err == nil {
		return c.insecure[hostname]
	}
	return false
}

// guard is the bottom of every registry request: it refuses plain HTTP
// where it is not allowed (go-containerregistry would otherwise fall back
// to it for private addresses), and turns a 429 into an error that keeps
// Retry-After.
type guard struct {
	inner   http.RoundTripper
	plainOK func(host string) bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.plainOK(req.URL.Host) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w to %s", errPlainHTTPRefused, req.URL.Host)
	}
	resp, err := g.inner.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return nil, &rateLimitError{
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		body:       strings.TrimSpace(string(body)),
	}
}

// name turns ref into go-containerregistry's form, allowing plain HTTP
// where kaj allows it.
func (c *Client) name(ref Reference) (name.Reference, error) {
	var opts []name.Option
	if c.plainOK(ref.Registry) {
		opts = append(opts, name.Insecure)
	}
	if ref.Digest != "" {
		return name.NewDigest(ref.Repo()+"@"+ref.Digest, opts...)
	}
	return name.NewTag(ref.Repo()+":"+ref.Tag, opts...)
}

func (c *Client) registryName(host string) (name.Registry, error) {
	if c.plainOK(host) {
		return name.NewRegistry(host, name.Insecure)
	}
	return name.NewRegistry(host)
}

// auth finds the credentials for host: kaj's own first, then the Docker
// config. user is the user name, "" for anonymous access.
func (c *Client) auth(ctx context.Context, host string) (a authn.Authenticator, user string, err error) {
	if c.creds != nil {
		u, p, ok, err := c.creds(ctx, host)
		if err != nil {
			return nil, "", fmt.Errorf("looking up credentials for %s: %w", host, err)
		}
		if ok {
			return &authn.Basic{Username: u, Password: p}, u, nil
		}
	}
	reg, err := c.registryName(host)
	if err != nil {
		return nil, "", fmt.Errorf("%w: registry %q: %s", ErrInvalidReference, host, reason(err))
	}
	a, err = authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		return nil, "", fmt.Errorf("reading the Docker config for %s: %w", host, err)
	}
	if a == authn.Anonymous {
		return a, "", nil
	}
	cfg, err := a.Authorization()
	if err != nil {
		return nil, "", fmt.Errorf("reading the Docker config for %s: %w", host, err)
	}
	user = cfg.Username
	if user == "" {
		user = "(token from Docker config)"
	}
	return a, user, nil
}

// retryStatus are the answers worth another try. 429 is not among them:
// it comes back to the caller with its Retry-After.
var retryStatus = []int{
	http.StatusRequestTimeout,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// retryable says whether a failed request is worth another try:
// go-containerregistry's temporary errors, cut connections, and timeouts
// of the connection or the answer (which it would not retry), but not the
// end of the caller's context.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e == context.Canceled || e == context.DeadlineExceeded {
			return false
		}
	}
	var tmp interface{ Temporary() bool }
	if errors.As(err, &tmp) && tmp.Temporary() {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func (c *Client) remoteOptions(ctx context.Context, a authn.Authenticator, p *v1.Platform) []remote.Option {
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(a),
		remote.WithTransport(c.transport),
		remote.WithRetryBackoff(c.backoff),
		remote.WithRetryStatusCodes(retryStatus...),
		remote.WithRetryPredicate(retryable),
		remote.WithJobs(c.jobs),
		remote.WithUserAgent("kaj"),
	}
	if p != nil {
		opts = append(opts, remote.WithPlatform(*p))
	}
	return opts
}

// retrying is the Client's transport with its retries, for requests made
// outside go-containerregistry's remote package.
func (c *Client) retrying() http.RoundTripper {
	return transport.NewRetry(c.transport,
		transport.WithRetryBackoff(c.backoff),
		transport.WithRetryStatusCodes(retryStatus...),
		transport.WithRetryPredicate(retryable))
}

// targetPlatform is the platform to pick from an index: Options.Platform,
// else the engine's (asked once), else linux/amd64.
func (c *Client) targetPlatform(ctx context.Context) v1.Platform {
	c.platformMu.Lock()
	defer c.platformMu.Unlock()
	if c.platform != nil {
		return *c.platform
	}
	if c.engine != nil {
		if v, err := c.engine.ServerVersion(ctx, mclient.ServerVersionOptions{}); err == nil && v.Os != "" && v.Arch != "" {
			// No variant: an index entry matches on OS and architecture.
			c.platform = &v1.Platform{OS: v.Os, Architecture: v.Arch}
			return *c.platform
		}
	}
	return v1.Platform{OS: "linux", Architecture: "amd64"}
}

func (c *Client) needEngine() error {
	if c.engine == nil {
		return &Error{Kind: ErrNoEngine}
	}
	return nil
}

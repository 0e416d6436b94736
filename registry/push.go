package registry

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PushResult is what Push did.
type PushResult struct {
	// Ref is the target reference.
	Ref Reference
	// Digest is the digest of the manifest pushed: Ref.Repo()+"@"+Digest
	// names exactly what was pushed.
	Digest string
	// ID is the digest of the image's config: its ID in an engine using
	// the classic image store, and what Resolve reports as Image.ID.
	ID string
	// Layers are the image's layers, base first.
	Layers []PushedLayer
}

// PushedLayer is one layer of a pushed image.
type PushedLayer struct {
	Layer
	// Uploaded is false when the registry already had the blob, or
	// mounted it from another of its repositories.
	Uploaded bool
}

// Push uploads the engine's image local (a name or an ID) to target, a
// tagged reference in any registry, sending only the layers the registry
// lacks, and returns the pushed manifest's digest. progress, when not nil,
// receives per-layer events.
//
// Layers are read with the engine's image export and compressed by kaj
// (gzip, Options.GzipLevel, fastest by default); the compression is deterministic, so pushing the
// same layer again finds it in the repository without uploading it. A
// layer the Client has seen in another repository of the same registry is
// mounted from there instead.
func (c *Client) Push(ctx context.Context, local, target string, progress ProgressFunc) (*PushResult, error) {
	if err := c.needEngine(); err != nil {
		return nil, err
	}
	r, err := ParseReference(target)
	if err != nil {
		return nil, err
	}
	if r.Digest != "" {
		return nil, fmt.Errorf("%w %q: push needs a tag to push to, not a digest", ErrInvalidReference, target)
	}
	res, err := c.push(ctx, local, r, progress)
	if err != nil {
		return nil, fmt.Errorf("pushing %s to %s: %w", local, r, err)
	}
	return res, nil
}

func (c *Client) push(ctx context.Context, local string, r Reference, progress ProgressFunc) (*PushResult, error) {
	insp, err := c.engine.ImageInspect(ctx, local)
	if err != nil {
		return nil, engineError(err)
	}
	a, user, err := c.auth(ctx, r.Registry)
	if err != nil {
		return nil, err
	}
	n, err := c.name(r)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %s", ErrInvalidReference, r, reason(err))
	}
	if err := c.preflight(ctx, n, a); err != nil {
		return nil, classify(r.Registry, user, err)
	}
	tmp, err := os.MkdirTemp(c.tempDir, "kaj-push-")
	if err != nil {
		return nil, fmt.Errorf("making a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	saved, err := c.save(ctx, insp.ID, filepath.Join(tmp, "image.tar"))
	if err != nil {
		return nil, err
	}
	rawConfig, err := saved.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the exported image: %w", err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(rawConfig))
	if err != nil {
		return nil, fmt.Errorf("reading the exported image's config: %w", err)
	}
	if !sameDiffIDs(cf.RootFS.DiffIDs, insp.RootFS.Layers) {
		return nil, &Error{Kind: ErrEngine, Err: fmt.Errorf("the engine exported other layers than image %s has", insp.ID)}
	}

	pusher, err := remote.NewPusher(c.remoteOptions(ctx, a, nil)...)
	if err != nil {
		return nil, err
	}
	p := &pushJob{
		c: c, pusher: pusher, repo: n.Context(), registry: r.Registry,
		tmp: tmp, saved: saved, track: newTracker(progress),
	}
	diffIDs := cf.RootFS.DiffIDs
	layers := make([]pushLayer, len(diffIDs))
	// The first failure stops the other layers.
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, c.jobs)
	var wg sync.WaitGroup
	for i, d := range diffIDs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-lctx.Done():
				return
			}
			defer func() { <-sem }()
			var err error
			if layers[i], err = p.layer(lctx, i, d); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(lctx); err != nil {
		return nil, classify(r.Registry, user, err)
	}

	img, manifest, err := pushImage(rawConfig, layers)
	if err != nil {
		return nil, err
	}
	if err := pusher.Push(ctx, n, img); err != nil {
		return nil, classify(r.Registry, user, err)
	}
	res := &PushResult{Ref: r, Digest: "sha256:" + sha256Hex(manifest), ID: "sha256:" + sha256Hex(rawConfig)}
	for i, l := range layers {
		res.Layers = append(res.Layers, PushedLayer{Layer: l.desc, Uploaded: l.uploaded})
		c.blobs.add(r.Registry, r.Repository, l.desc)
		final := PhaseExists
		if l.uploaded {
			final = PhaseDone
		}
		p.track.update(i, l.desc.Digest, final, l.desc.Size, l.desc.Size)
	}
	return res, nil
}

// preflight checks that the registry answers and takes the credentials
// for pushing to n before the image is exported, which takes long for a
// big image: it authenticates for push and asks for the target manifest.
func (c *Client) preflight(ctx context.Context, n name.Reference, a authn.Authenticator) error {
	repo := n.Context()
	tr, err := transport.NewWithContext(ctx, repo.Registry, a, c.retrying(), []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return err
	}
	// The transport switches to http when the ping found a plain-HTTP
	// registry that may be used.
	u := "https://" + repo.RegistryStr() + "/v2/" + repo.RepositoryStr() + "/manifests/" + n.Identifier()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return transport.CheckError(resp, http.StatusOK, http.StatusNotFound)
}

// save exports image id from the engine into path and opens it.
func (c *Client) save(ctx context.Context, id, path string) (v1.Image, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("exporting the image: %w", err)
	}
	defer f.Close()
	rc, err := c.engine.ImageSave(ctx, []string{id})
	if err != nil {
		return nil, engineError(err)
	}
	defer rc.Close()
	if _, err := io.Copy(f, rc); err != nil {
		return nil, engineError(fmt.Errorf("exporting the image: %w", err))
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("exporting the image: %w", err)
	}
	img, err := tarball.Image(func() (io.ReadCloser, error) { return os.Open(path) }, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the exported image: %w", err)
	}
	return img, nil
}

// pushJob is the state one Push shares among its layer goroutines.
type pushJob struct {
	c        *Client
	pusher   *remote.Pusher
	repo     name.Repository
	registry string
	tmp      string
	saved    v1.Image
	track    *tracker
}

// pushLayer is a layer as pushed.
type pushLayer struct {
	desc     Layer
	uploaded bool
	layer    v1.Layer
}

// layer gets layer i (uncompressed digest diffID) into the repository:
// without any work when the blob cache knows a blob the registry still
// has, else by compressing it and uploading what the registry lacks.
func (p *pushJob) layer(ctx context.Context, i int, diffID v1.Hash) (pushLayer, error) {
	p.track.update(i, "", PhasePreparing, 0, 0)
	if known, repos, ok := p.c.blobs.lookup(p.registry, diffID.String()); ok {
		if l, err := p.reuse(ctx, known, repos); err == nil {
			return pushLayer{desc: known, layer: l}, nil
		}
	}
	fl, err := p.compress(ctx, i, diffID)
	if err != nil {
		return pushLayer{}, err
	}
	l, err := partial.CompressedToLayer(fl)
	if err != nil {
		return pushLayer{}, err
	}
	if err := p.pusher.Upload(ctx, p.repo, l); err != nil {
		return pushLayer{}, err
	}
	return pushLayer{desc: fl.desc, uploaded: fl.opened.Load(), layer: l}, nil
}

// reuse has the registry confirm it holds a known blob in the target
// repository, or mount it there from one of repos. It fails rather than
// upload anything.
func (p *pushJob) reuse(ctx context.Context, known Layer, repos []string) (v1.Layer, error) {
	h, err := v1.NewHash(known.Digest)
	if err != nil {
		return nil, err
	}
	l, err := partial.CompressedToLayer(&remoteOnlyLayer{desc: known, digest: h})
	if err != nil {
		return nil, err
	}
	var from v1.Layer = l
	for _, repo := range repos {
		if repo == p.repo.RepositoryStr() {
			continue
		}
		src, err := name.NewDigest(p.repo.Registry.Name()+"/"+repo+"@"+known.Digest, insecureOpt(p.repo.Registry)...)
		if err != nil {
			continue
		}
		from = &remote.MountableLayer{Layer: l, Reference: src}
		break
	}
	if err := p.pusher.Upload(ctx, p.repo, from); err != nil {
		return nil, err
	}
	return l, nil
}

func insecureOpt(r name.Registry) []name.Option {
	if r.Scheme() == "http" {
		return []name.Option{name.Insecure}
	}
	return nil
}

// errNotLocal stops go-containerregistry from uploading a blob kaj only
// knows by digest.
var errNotLocal = errors.New("blob content not at hand")

// remoteOnlyLayer is a blob known to be in the registry, with no content
// here.
type remoteOnlyLayer struct {
	desc   Layer
	digest v1.Hash
}

func (l *remoteOnlyLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *remoteOnlyLayer) Size() (int64, error)     { return l.desc.Size, nil }
func (l *remoteOnlyLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.desc.MediaType), nil
}
func (l *remoteOnlyLayer) Compressed() (io.ReadCloser, error) { return nil, errNotLocal }

// compress writes layer i, gzipped, to a temporary file, learning its
// blob digest and size.
func (p *pushJob) compress(ctx context.Context, i int, diffID v1.Hash) (*fileLayer, error) {
	src, err := p.saved.LayerByDiffID(diffID)
	if err != nil {
		return nil, fmt.Errorf("finding layer %s in the exported image: %w", diffID, err)
	}
	rc, err := src.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", diffID, err)
	}
	defer rc.Close()
	path := filepath.Join(p.tmp, fmt.Sprintf("layer-%d.tar.gz", i))
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	cw := &countWriter{w: bw}
	zw, err := gzip.NewWriterLevel(cw, p.c.gzipLevel)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, untilDone(ctx, rc)); err != nil {
		return nil, fmt.Errorf("compressing layer %s: %w", diffID, err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	digest := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	fl := &fileLayer{
		path:   path,
		digest: digest,
		desc: Layer{
			Digest:    digest.String(),
			DiffID:    diffID.String(),
			Size:      cw.n,
			MediaType: string(types.DockerLayer),
		},
	}
	fl.report = p.track.counter(i, fl.desc.Digest, PhaseUploading, cw.n)
	p.track.update(i, fl.desc.Digest, PhaseUploading, 0, cw.n)
	return fl, nil
}

// fileLayer is a compressed layer in a temporary file; reading it counts
// towards the layer's upload progress.
type fileLayer struct {
	path   string
	digest v1.Hash
	desc   Layer
	report func(int64)
	opened atomic.Bool
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return v1.NewHash(l.desc.DiffID) }
func (l *fileLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	l.opened.Store(true)
	return &countingReader{rc: f, report: l.report}, nil
}

// pushImage assembles the image to push: the engine's config as it is
// (its digest is the image ID) and a Docker v2 manifest of layers.
func pushImage(rawConfig []byte, layers []pushLayer) (v1.Image, []byte, error) {
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config: v1.Descriptor{
			MediaType: types.DockerConfigJSON,
			Size:      int64(len(rawConfig)),
			Digest:    v1.Hash{Algorithm: "sha256", Hex: sha256Hex(rawConfig)},
		},
	}
	byDigest := map[v1.Hash]v1.Layer{}
	for _, l := range layers {
		d, err := v1.NewHash(l.desc.Digest)
		if err != nil {
			return nil, nil, err
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.MediaType(l.desc.MediaType), Size: l.desc.Size, Digest: d})
		byDigest[d] = l.layer
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	img, err := partial.CompressedToImage(&builtImage{config: rawConfig, manifest: raw, layers: byDigest})
	return img, raw, err
}

// builtImage is the minimal image go-containerregistry needs to push a
// manifest whose blobs are already uploaded.
type builtImage struct {
	config, manifest []byte
	layers           map[v1.Hash]v1.Layer
}

func (b *builtImage) RawConfigFile() ([]byte, error)      { return b.config, nil }
func (b *builtImage) RawManifest() ([]byte, error)        { return b.manifest, nil }
func (b *builtImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }
func (b *builtImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := b.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("no layer %s in the pushed image", h)
}

func sameDiffIDs(have []v1.Hash, want []string) bool {
	if len(have) != len(want) {
		return false
	}
	for i := range have {
		if have[i].String() != want[i] {
			return false
		}
	}
	return true
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// untilDone is r, failing with the context's error once ctx ends: a
// long local copy has no other place to notice.
func untilDone(ctx context.Context, r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return r.Read(p)
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

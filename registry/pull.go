package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/api/types/jsonstream"
	mregistry "github.com/moby/moby/api/types/registry"
	mclient "github.com/moby/moby/client"
)

// PullResult is what Pull did.
type PullResult struct {
	// Image is what was pulled, as Resolve describes it. Its ID is the
	// engine's image ID.
	*Image
	// Skipped is true when the engine already had the image: nothing was
	// downloaded.
	Skipped bool
}

// Pull makes the engine hold the image ref names, for the Client's
// platform, and tags it with ref's tag (the docker CLI's short form, as
// Reference.Familiar spells it). A reference with only a digest leaves
// the image untagged, so refer to it by the returned ID. It does nothing
// but the tag when the engine already has that image. progress, when not
// nil, receives per-layer events.
//
// The engine pulls by digest itself when it can reach the registry the
// way kaj does (HTTPS, or plain HTTP that the engine's own configuration
// allows): it downloads layers in parallel, unpacks while downloading and
// skips layers it already holds. Otherwise, or when the engine's pull
// fails, kaj downloads the image and loads it into the engine.
func (c *Client) Pull(ctx context.Context, ref string, progress ProgressFunc) (*PullResult, error) {
	if err := c.needEngine(); err != nil {
		return nil, err
	}
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	res, err := c.pull(ctx, r, progress, c.engineCanPull)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", r, err)
	}
	return res, nil
}

func (c *Client) pull(ctx context.Context, r Reference, progress ProgressFunc, viaEngine func(context.Context, string) bool) (*PullResult, error) {
	a, user, err := c.auth(ctx, r.Registry)
	if err != nil {
		return nil, err
	}
	info, img, err := c.resolve(ctx, r, a, user)
	if err != nil {
		return nil, err
	}
	res := &PullResult{Image: info}
	done := func() (*PullResult, error) {
		if err := c.tagPulled(ctx, info); err != nil {
			return nil, err
		}
		return res, nil
	}
	track := newTracker(progress)
	has, err := c.engineHas(ctx, info)
	if err != nil {
		return nil, err
	}
	if has {
		res.Skipped = true
		for i, l := range info.Layers {
			track.update(i, l.Digest, PhaseExists, l.Size, l.Size)
		}
		return done()
	}
	var engineErr error
	if viaEngine(ctx, r.Registry) {
		engineErr = c.pullByEngine(ctx, info, a, track)
		if engineErr == nil {
			return done()
		}
		if ctx.Err() != nil {
			return nil, engineErr
		}
	}
	if err := c.pullByLoad(ctx, info, img, track); err != nil {
		err = classify(r.Registry, user, err)
		if engineErr != nil {
			return nil, fmt.Errorf("%w (the engine's own pull failed first: %v)", err, engineErr)
		}
		return nil, err
	}
	return done()
}

// engineHas reports whether the engine holds the image: by its ID (the
// config digest), or by a repo digest equal to the manifest's.
func (c *Client) engineHas(ctx context.Context, info *Image) (bool, error) {
	if _, err := c.engine.ImageInspect(ctx, info.ID); err == nil {
		return true, nil
	} else if err := engineError(err); !errors.Is(err, ErrLocalImageNotFound) {
		return false, err
	}
	insp, err := c.engine.ImageInspect(ctx, info.byDigest())
	if err != nil {
		if err := engineError(err); !errors.Is(err, ErrLocalImageNotFound) {
			return false, err
		}
		return false, nil
	}
	repo := Reference{Registry: info.Ref.Registry, Repository: info.Ref.Repository}.Familiar()
	return slices.Contains(insp.RepoDigests, repo+"@"+info.Digest) ||
		(info.IndexDigest != "" && slices.Contains(insp.RepoDigests, repo+"@"+info.IndexDigest)), nil
}

// tagPulled gives the pulled image ref's tag in the engine, and checks on
// the way that the engine really has it.
func (c *Client) tagPulled(ctx context.Context, info *Image) error {
	id := info.ID
	if _, err := c.engine.ImageInspect(ctx, id); err != nil {
		// An engine using containerd's image store names images by
		// manifest digest rather than config digest.
		insp, err2 := c.engine.ImageInspect(ctx, info.byDigest())
		if err2 != nil {
			return fmt.Errorf("the engine lacks the image after pulling it: %w", engineError(err))
		}
		id = insp.ID
	}
	if info.Ref.Tag == "" {
		return nil
	}
	target := Reference{Registry: info.Ref.Registry, Repository: info.Ref.Repository, Tag: info.Ref.Tag}.Familiar()
	if _, err := c.engine.ImageTag(ctx, mclient.ImageTagOptions{Source: id, Target: target}); err != nil {
		return fmt.Errorf("tagging %s: %w", target, engineError(err))
	}
	return nil
}

// engineCanPull reports whether the engine reaches host as kaj does: kaj
// uses plain HTTP only where allowed, and the engine must then allow it
// too (its insecure-registries, 127.0.0.0/8 by default).
func (c *Client) engineCanPull(ctx context.Context, host string) bool {
	if !c.plainOK(host) {
		return true
	}
	info, err := c.engine.Info(ctx, mclient.InfoOptions{})
	if err != nil || info.Info.RegistryConfig == nil {
		return false
	}
	rc := info.Info.RegistryConfig
	if ic, ok := rc.IndexConfigs[host]; ok {
		return !ic.Secure
	}
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", hostname)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		for _, p := range rc.InsecureRegistryCIDRs {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
	}
	return false
}

// pullByEngine has the engine pull the image by digest with kaj's
// credentials, turning its JSON stream into progress and errors.
func (c *Client) pullByEngine(ctx context.Context, info *Image, a authn.Authenticator, track *tracker) error {
	auth, err := registryAuth(a, info.Ref.Registry)
	if err != nil {
		return err
	}
	ref := Reference{Registry: info.Ref.Registry, Repository: info.Ref.Repository, Digest: info.Digest}.Familiar()
	resp, err := c.engine.ImagePull(ctx, ref, mclient.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return engineError(err)
	}
	defer resp.Close()
	// The engine names layers by the first 12 hex digits of their digest.
	byShort := map[string][]int{}
	for i, l := range info.Layers {
		s := strings.TrimPrefix(l.Digest, "sha256:")
		if len(s) > 12 {
			s = s[:12]
		}
		byShort[s] = append(byShort[s], i)
	}
	for m, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return engineError(err)
		}
		if m.Error != nil {
			return &Error{Kind: ErrEngine, Err: errors.New(m.Error.Message)}
		}
		for _, i := range byShort[m.ID] {
			l := info.Layers[i]
			switch m.Status {
			case "Pulling fs layer", "Waiting":
				track.update(i, l.Digest, PhaseDownloading, 0, l.Size)
			case "Downloading":
				if m.Progress != nil {
					track.update(i, l.Digest, PhaseDownloading, m.Progress.Current, l.Size)
				}
			case "Verifying Checksum", "Download complete":
				track.update(i, l.Digest, PhaseDownloading, l.Size, l.Size)
			case "Extracting":
				track.update(i, l.Digest, PhaseExtracting, l.Size, l.Size)
			case "Pull complete":
				track.update(i, l.Digest, PhaseDone, l.Size, l.Size)
			case "Already exists":
				track.update(i, l.Digest, PhaseExists, l.Size, l.Size)
			}
		}
	}
	finish(track, info)
	return nil
}

// finish closes every layer's progress that has not reached an end.
func finish(track *tracker, info *Image) {
	if track == nil || track.fn == nil {
		return
	}
	for i, l := range info.Layers {
		track.mu.Lock()
		last := track.last[i]
		track.mu.Unlock()
		if last.Phase != PhaseDone && last.Phase != PhaseExists {
			track.update(i, l.Digest, PhaseDone, l.Size, l.Size)
		}
	}
}

// registryAuth encodes a's credentials for the engine's X-Registry-Auth
// header; "" for anonymous access.
func registryAuth(a authn.Authenticator, host string) (string, error) {
	if a == nil || a == authn.Anonymous {
		return "", nil
	}
	cfg, err := a.Authorization()
	if err != nil {
		return "", err
	}
	ac := mregistry.AuthConfig{
		Username:      cfg.Username,
		Password:      cfg.Password,
		IdentityToken: cfg.IdentityToken,
		RegistryToken: cfg.RegistryToken,
		ServerAddress: host,
	}
	if ac.Username == "" && cfg.Auth != "" {
		if raw, err := base64.StdEncoding.DecodeString(cfg.Auth); err == nil {
			ac.Username, ac.Password, _ = strings.Cut(string(raw), ":")
		}
	}
	b, err := json.Marshal(ac)
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// pullByLoad downloads img and streams it into the engine's image load,
// counting each layer's bytes as they go through.
func (c *Client) pullByLoad(ctx context.Context, info *Image, img v1.Image, track *tracker) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	wrapped := &countedImage{Image: img}
	for i, l := range layers {
		d := info.Layers[i]
		wrapped.layers = append(wrapped.layers, &countedLayer{Layer: l, report: track.counter(i, d.Digest, PhaseDownloading, d.Size)})
		track.update(i, d.Digest, PhaseDownloading, 0, d.Size)
	}
	// A digest reference makes the archive carry no tag; tagPulled tags
	// the image with the engine's spelling of the name.
	pinned, err := name.NewDigest(info.Ref.Repo() + "@" + info.Digest)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	writeErr := make(chan error, 1)
	go func() {
		err := tarball.Write(pinned, wrapped, pw)
		pw.CloseWithError(err)
		writeErr <- err
	}()
	resp, err := c.engine.ImageLoad(ctx, pr, mclient.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(errLoadEnded)
		if werr := <-writeErr; werr != nil && !errors.Is(werr, errLoadEnded) && !errors.Is(werr, io.ErrClosedPipe) {
			return werr
		}
		return engineError(err)
	}
	loadErr := readLoadStream(resp)
	resp.Close()
	pr.CloseWithError(errLoadEnded)
	werr := <-writeErr
	switch {
	case werr != nil && !errors.Is(werr, errLoadEnded):
		// The download failing is the cause; the engine only saw a
		// truncated archive.
		return werr
	case loadErr != nil:
		return loadErr
	case werr != nil:
		return &Error{Kind: ErrEngine, Err: errors.New("the engine ended the image load before reading all of it")}
	}
	for i, l := range info.Layers {
		track.update(i, l.Digest, PhaseDone, l.Size, l.Size)
	}
	return nil
}

// errLoadEnded cuts off the archive writer once the engine has answered.
var errLoadEnded = errors.New("image load ended")

// readLoadStream reads the engine's answer to an image load to its end:
// the engine reports a failed load inside a 200 answer.
func readLoadStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return engineError(fmt.Errorf("reading the engine's load answer: %w", err))
		}
		if m.Error != nil {
			return &Error{Kind: ErrEngine, Err: fmt.Errorf("loading the image: %s", m.Error.Message)}
		}
	}
}

// countedImage is img with layers whose reads are counted.
type countedImage struct {
	v1.Image
	layers []v1.Layer
}

func (c *countedImage) Layers() ([]v1.Layer, error) { return c.layers, nil }

type countedLayer struct {
	v1.Layer
	report func(int64)
}

func (l *countedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return &countingReader{rc: rc, report: l.report}, nil
}

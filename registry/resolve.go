package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Image is an image in a registry as Resolve finds it, without its layers'
// content.
type Image struct {
	// Ref is the reference that was resolved.
	Ref Reference
	// Digest is the image manifest's digest for the chosen platform:
	// Ref.Repo()+"@"+Digest names exactly this image.
	Digest string
	// IndexDigest is the digest of the multi-platform index Ref names;
	// empty when Ref names a single image.
	IndexDigest string
	// ID is the digest of the image's config: the engine's image ID for
	// it once pulled.
	ID string
	// Platform is "os/arch" or "os/arch/variant".
	Platform string
	// Layers are the image's layers, base first.
	Layers []Layer
}

// Layer is one layer of an image.
type Layer struct {
	// Digest is the compressed blob's digest.
	Digest string
	// DiffID is the digest of the uncompressed layer.
	DiffID string
	// Size is the compressed blob's size in bytes.
	Size      int64
	MediaType string
}

// Size is the sum of the compressed layer sizes: what a pull downloads at
// most.
func (i *Image) Size() int64 {
	var n int64
	for _, l := range i.Layers {
		n += l.Size
	}
	return n
}

// Pinned is the reference to exactly this image, keeping Ref's tag:
// "host/team/app:1.0@sha256:...". Pulling it fetches this digest even if
// the tag has moved since, and tags the image 1.0 in the engine.
func (i *Image) Pinned() string {
	return Reference{Registry: i.Ref.Registry, Repository: i.Ref.Repository, Tag: i.Ref.Tag, Digest: i.Digest}.String()
}

// byDigest is the engine's name for the image by digest: "app@sha256:...".
func (i *Image) byDigest() string {
	return Reference{Registry: i.Ref.Registry, Repository: i.Ref.Repository, Digest: i.Digest}.Familiar()
}

// Resolve finds the digest and the platform's image manifest that ref
// names, reading manifests and the config but no layer. From a
// multi-platform index it picks Options.Platform, or the engine's.
func (c *Client) Resolve(ctx context.Context, ref string) (*Image, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	a, user, err := c.auth(ctx, r.Registry)
	if err != nil {
		return nil, err
	}
	info, _, err := c.resolve(ctx, r, a, user)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", r, err)
	}
	return info, nil
}

// resolve does Resolve's work and also returns the remote image, for a
// pull to read the layers from.
func (c *Client) resolve(ctx context.Context, r Reference, a authn.Authenticator, user string) (*Image, v1.Image, error) {
	n, err := c.name(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %q: %s", ErrInvalidReference, r, reason(err))
	}
	want := c.targetPlatform(ctx)
	opts := c.remoteOptions(ctx, a, &want)
	desc, err := remote.Get(n, opts...)
	if err != nil {
		err = classify(r.Registry, user, err)
		if errors.Is(err, ErrUnknownTag) {
			err = c.whichUnknown(ctx, n.Context(), opts, user, err)
		}
		return nil, nil, err
	}
	info := &Image{Ref: r}
	var img v1.Image
	if desc.MediaType.IsIndex() {
		info.IndexDigest = desc.Digest.String()
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, nil, classify(r.Registry, user, err)
		}
		var child *v1.Descriptor
		var have []string
		for i := range im.Manifests {
			m := &im.Manifests[i]
			if m.Platform == nil || !m.MediaType.IsImage() {
				continue
			}
			have = append(have, m.Platform.String())
			if child == nil && m.Platform.Satisfies(want) {
				child = m
			}
		}
		if child == nil {
			return nil, nil, &Error{Kind: ErrNoMatchingPlatform, Registry: r.Registry,
				Err: fmt.Errorf("want %s, the index has %v", want.String(), have)}
		}
		if img, err = idx.Image(child.Digest); err != nil {
			return nil, nil, classify(r.Registry, user, err)
		}
	} else {
		if img, err = desc.Image(); err != nil {
			return nil, nil, classify(r.Registry, user, err)
		}
	}
	if err := describe(info, img); err != nil {
		return nil, nil, classify(r.Registry, user, err)
	}
	for _, l := range info.Layers {
		c.blobs.add(r.Registry, r.Repository, l)
	}
	return info, img, nil
}

// whichUnknown tells an unknown repository from an unknown tag, which
// registries such as distribution answer alike, by listing the
// repository's tags; it names a few of them when the tag is the problem.
func (c *Client) whichUnknown(ctx context.Context, repo name.Repository, opts []remote.Option, user string, tagErr error) error {
	puller, err := remote.NewPuller(append(opts, remote.WithPageSize(maxTagsShown))...)
	if err != nil {
		return tagErr
	}
	l, err := puller.Lister(ctx, repo)
	if err != nil {
		if err := classify(repo.RegistryStr(), user, err); errors.Is(err, ErrUnknownRepository) {
			return err
		}
		return tagErr
	}
	page, err := l.Next(ctx)
	if err != nil || page == nil {
		return tagErr
	}
	switch tags := page.Tags; {
	case len(tags) == 0:
		return &Error{Kind: ErrUnknownRepository, Registry: repo.RegistryStr(), Err: fmt.Errorf("%s has no tags", repo.RepositoryStr())}
	case len(tags) > maxTagsShown:
		tags = tags[:maxTagsShown]
		fallthrough
	default:
		return fmt.Errorf("%w (%s has tags %s)", tagErr, repo.RepositoryStr(), strings.Join(tags, ", "))
	}
}

// maxTagsShown is how many of a repository's tags an unknown-tag error
// lists: enough to spot a typo, short enough for one line.
const maxTagsShown = 10

// describe fills info's digests, platform and layers from img.
func describe(info *Image, img v1.Image) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("image %s is inconsistent: %d layers, %d diff IDs in its config", d, len(m.Layers), len(cf.RootFS.DiffIDs))
	}
	info.Digest = d.String()
	info.ID = m.Config.Digest.String()
	info.Platform = (&v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}).String()
	info.Layers = make([]Layer, len(m.Layers))
	for i, l := range m.Layers {
		info.Layers[i] = Layer{
			Digest:    l.Digest.String(),
			DiffID:    cf.RootFS.DiffIDs[i].String(),
			Size:      l.Size,
			MediaType: string(l.MediaType),
		}
	}
	return nil
}

// Host names the registry an image reference points at ("index.docker.io"
// for a bare "nginx:1"), or "" when ref does not parse.
func Host(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	return r.Context().RegistryStr()
}

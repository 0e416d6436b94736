package registry

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	mclient "github.com/moby/moby/client"
)

// TagLocal gives the engine's image source (a name or an ID) the name
// target, which must carry a tag, not a digest. The engine stores target
// in the docker CLI's short form ("app:1.0" for Docker Hub's
// library/app).
func (c *Client) TagLocal(ctx context.Context, source, target string) error {
	if err := c.needEngine(); err != nil {
		return err
	}
	r, err := ParseReference(target)
	if err != nil {
		return err
	}
	if r.Digest != "" {
		return fmt.Errorf("%w %q: a tag cannot carry a digest", ErrInvalidReference, target)
	}
	if _, err := c.engine.ImageTag(ctx, mclient.ImageTagOptions{Source: source, Target: r.Familiar()}); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", source, r.Familiar(), engineError(err))
	}
	return nil
}

// TagRemote gives the manifest ref names, in its own repository of the
// registry, the further tag tag: only the manifest is written, no layer
// moves. It returns the manifest's digest.
func (c *Client) TagRemote(ctx context.Context, ref, tag string) (string, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	a, user, err := c.auth(ctx, r.Registry)
	if err != nil {
		return "", err
	}
	src, err := c.name(r)
	if err != nil {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidReference, ref, reason(err))
	}
	if !tagPattern.MatchString(tag) {
		return "", fmt.Errorf("%w: tag %q: a tag starts with a letter, digit or '_' and has at most 128 letters, digits, '_', '.' and '-'", ErrInvalidReference, tag)
	}
	dstRef := r
	dstRef.Tag, dstRef.Digest = tag, ""
	dst, err := c.name(dstRef)
	if err != nil {
		return "", fmt.Errorf("%w: tag %q: %s", ErrInvalidReference, tag, reason(err))
	}
	dstTag, ok := dst.(name.Tag)
	if !ok {
		return "", fmt.Errorf("%w: tag %q", ErrInvalidReference, tag)
	}
	opts := c.remoteOptions(ctx, a, nil)
	desc, err := remote.Get(src, opts...)
	if err != nil {
		return "", fmt.Errorf("tagging %s as %s: %w", r, tag, classify(r.Registry, user, err))
	}
	if err := remote.Tag(dstTag, desc, opts...); err != nil {
		return "", fmt.Errorf("tagging %s as %s: %w", r, tag, classify(r.Registry, user, err))
	}
	return desc.Digest.String(), nil
}

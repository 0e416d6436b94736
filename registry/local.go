package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	mclient "github.com/moby/moby/client"
)

// LocalImage is an image the engine holds.
type LocalImage struct {
	// ID is the engine's image ID ("sha256:...").
	ID string `json:"id"`
	// Tags are its names, in the docker CLI's short form; none for a
	// dangling image.
	Tags []string `json:"tags"`
	// Digests are repo@digest names of the registry manifests it was
	// pulled as or pushed to by the engine.
	Digests []string  `json:"digests"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

// ListLocal lists the engine's tagged images, newest first. labels, when
// not empty, keeps only images whose config carries all of them.
func (c *Client) ListLocal(ctx context.Context, labels map[string]string) ([]LocalImage, error) {
	if err := c.needEngine(); err != nil {
		return nil, err
	}
	f := mclient.Filters{}
	for k, v := range labels {
		f = f.Add("label", k+"="+v)
	}
	res, err := c.engine.ImageList(ctx, mclient.ImageListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("listing the engine's images: %w", engineError(err))
	}
	out := make([]LocalImage, 0, len(res.Items))
	for _, s := range res.Items {
		tags := slices.DeleteFunc(slices.Clone(s.RepoTags), func(t string) bool { return t == "<none>:<none>" })
		digests := slices.DeleteFunc(slices.Clone(s.RepoDigests), func(d string) bool { return strings.HasPrefix(d, "<none>@") })
		out = append(out, LocalImage{
			ID:      s.ID,
			Tags:    tags,
			Digests: digests,
			Size:    s.Size,
			Created: time.Unix(s.Created, 0).UTC(),
		})
	}
	slices.SortStableFunc(out, func(a, b LocalImage) int { return b.Created.Compare(a.Created) })
	return out, nil
}

package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Local describes the engine's image named by ref (a name, name:tag,
// name@digest or image ID), without contacting any registry. An image the
// engine does not hold is an error matching ErrLocalImageNotFound.
func (c *Client) Local(ctx context.Context, ref string) (*LocalImage, error) {
	if err := c.needEngine(); err != nil {
		return nil, err
	}
	res, err := c.engine.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("looking up %s in the engine: %w", ref, engineError(err))
	}
	img := LocalImage{
		ID:      res.ID,
		Tags:    slices.Clone(res.RepoTags),
		Digests: slices.DeleteFunc(slices.Clone(res.RepoDigests), func(d string) bool { return strings.HasPrefix(d, "<none>@") }),
		Size:    res.Size,
	}
	if t, err := time.Parse(time.RFC3339Nano, res.Created); err == nil {
		img.Created = t.UTC()
	}
	return &img, nil
}

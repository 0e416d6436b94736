package build

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/moby/moby/api/types/image"
	mclient "github.com/moby/moby/client"
)

// prune removes app's built images (the kaj/<app> repository) beyond the newest KeepImages. An
// image a container still uses is left: the engine refuses, and the
// next build tries again. Failures are logged, never a build's failure.
func (b *Builder) prune(app string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := mclient.Filters{}.Add("reference", Repository(app))
	for k, v := range b.opts.Labels {
		f = f.Add("label", k+"="+v)
	}
	res, err := b.opts.Engine.ImageList(ctx, mclient.ImageListOptions{Filters: f})
	if err != nil {
		b.log.Warn("listing built images to prune", "app", app, "err", err)
		return
	}
	items := res.Items
	slices.SortFunc(items, func(x, y image.Summary) int { return cmp.Compare(y.Created, x.Created) })
	if len(items) <= b.opts.KeepImages {
		return
	}
	for _, img := range items[b.opts.KeepImages:] {
		for _, tag := range img.RepoTags {
			if _, err := b.opts.Engine.ImageRemove(ctx, tag, mclient.ImageRemoveOptions{PruneChildren: true}); err != nil {
				b.log.Info("keeping an old build image", "app", app, "image", tag, "reason", err)
			}
		}
	}
}

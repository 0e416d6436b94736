package registry

import "sync"

// blobCache remembers, per registry, the compressed blob kaj last saw for
// an uncompressed layer and the repositories holding it, as the engine's
// own distribution metadata does. A push uses it to skip compressing a
// layer the target repository already has, or to have the registry mount
// it from a sibling repository instead of uploading it again. It lives as
// long as the Client; losing it costs only speed.
type blobCache struct {
	mu sync.Mutex
	// registry host → diffID → blob
	m map[string]map[string]*cachedBlob
}

type cachedBlob struct {
	layer Layer
	// repos holding the blob, most recent last.
	repos []string
}

// Bounds that keep the cache small in a long-running server: a few
// thousand layers per registry, a handful of repositories per layer.
const (
	maxCachedLayers = 4096
	maxCachedRepos  = 8
)

func newBlobCache() *blobCache { return &blobCache{m: map[string]map[string]*cachedBlob{}} }

func (b *blobCache) add(registry, repo string, l Layer) {
	if l.DiffID == "" || l.Digest == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	byDiff := b.m[registry]
	if byDiff == nil {
		byDiff = map[string]*cachedBlob{}
		b.m[registry] = byDiff
	}
	e := byDiff[l.DiffID]
	if e == nil || e.layer.Digest != l.Digest {
		if e == nil && len(byDiff) >= maxCachedLayers {
			for k := range byDiff {
				delete(byDiff, k)
				break
			}
		}
		e = &cachedBlob{layer: l}
		byDiff[l.DiffID] = e
	}
	for i, r := range e.repos {
		if r == repo {
			e.repos = append(e.repos[:i], e.repos[i+1:]...)
			break
		}
	}
	e.repos = append(e.repos, repo)
	if len(e.repos) > maxCachedRepos {
		e.repos = e.repos[len(e.repos)-maxCachedRepos:]
	}
}

// lookup returns the blob known for diffID on registry and the
// repositories holding it, most recent first.
func (b *blobCache) lookup(registry, diffID string) (Layer, []string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.m[registry][diffID]
	if e == nil {
		return Layer{}, nil, false
	}
	repos := make([]string, len(e.repos))
	for i, r := range e.repos {
		repos[len(repos)-1-i] = r
	}
	return e.layer, repos, true
}

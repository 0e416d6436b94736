package registry

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DockerHub is the registry host references without one point to, as the
// docker CLI resolves them.
const DockerHub = "index.docker.io"

// Reference is an image reference normalised the way the docker CLI does
// it: "microblog:1.0.0-prod" is Registry "index.docker.io", Repository
// "library/microblog", Tag "1.0.0-prod". The zero value is not a valid
// reference; make one with ParseReference.
type Reference struct {
	// Registry is host[:port]; Docker Hub is "index.docker.io".
	Registry string
	// Repository is the path inside the registry.
	Repository string
	// Tag is the tag; "latest" when the reference names neither a tag nor
	// a digest, empty when it names only a digest.
	Tag string
	// Digest is "sha256:<hex>" when the reference pins one.
	Digest string
}

// ParseReference parses and normalises an image reference. Errors wrap
// ErrInvalidReference and say what is wrong.
func ParseReference(s string) (Reference, error) {
	bad := func(why string) (Reference, error) {
		return Reference{}, fmt.Errorf("%w %q: %s", ErrInvalidReference, s, why)
	}
	switch {
	case s == "":
		return bad("it is empty; write it like app:1.0 or host:5000/team/app:1.0")
	case strings.TrimSpace(s) != s || strings.ContainsAny(s, " \t\r\n"):
		return bad("it contains spaces")
	case strings.Contains(s, "://"):
		return bad("an image reference has no scheme; drop the \"" + s[:strings.Index(s, "://")+3] + "\"")
	}
	base, digest, hasDigest := strings.Cut(s, "@")
	explicitTag := strings.LastIndex(base, ":") > strings.LastIndex(base, "/")
	tag, err := name.NewTag(base)
	if err != nil {
		return bad(reason(err))
	}
	if explicitTag && !tagPattern.MatchString(tag.TagStr()) {
		return bad("a tag starts with a letter, digit or '_' and has at most 128 letters, digits, '_', '.' and '-'")
	}
	ref := Reference{
		// Host names are case-insensitive; credentials are keyed by the
		// lowercase form (NormalizeHost).
		Registry:   strings.ToLower(tag.RegistryStr()),
		Repository: tag.RepositoryStr(),
	}
	if explicitTag || !hasDigest {
		ref.Tag = tag.TagStr()
	}
	if hasDigest {
		d, err := name.NewDigest(tag.Repository.Name() + "@" + digest)
		if err != nil {
			return bad(reason(err))
		}
		ref.Digest = d.DigestStr()
	}
	return ref, nil
}

// tagPattern is the docker CLI's tag grammar.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// reason is go-containerregistry's explanation without its prefix.
func reason(err error) string {
	var bn *name.ErrBadName
	if errors.As(err, &bn) {
		return bn.Error()
	}
	return err.Error()
}

// String is the full normalised form, e.g.
// "index.docker.io/library/microblog:1.0.0-prod" or
// "127.0.0.1:5000/app@sha256:...".
func (r Reference) String() string {
	s := r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Familiar is the short form the docker CLI shows and the engine tags
// with: Docker Hub's registry and "library/" are left out.
func (r Reference) Familiar() string {
	s := r.Repository
	if r.Registry == DockerHub {
		s = strings.TrimPrefix(s, "library/")
	} else {
		s = r.Registry + "/" + s
	}
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Repo is registry/repository, without tag or digest.
func (r Reference) Repo() string { return r.Registry + "/" + r.Repository }

// NormalizeHost turns a registry host as a user may type it into the key
// kaj passes to Credentials: "docker.io" (and Docker Hub's other spellings)
// become "index.docker.io", a scheme or trailing slash is dropped, and the
// host is lowercased.
func NormalizeHost(host string) (string, error) {
	h := strings.TrimSpace(host)
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	h = strings.TrimSuffix(h, "/")
	if strings.HasSuffix(h, "/v1") || strings.HasSuffix(h, "/v2") {
		h = strings.TrimSuffix(h[:len(h)-3], "/")
	}
	h = strings.ToLower(h)
	switch h {
	case "docker.io", "registry-1.docker.io", "registry.hub.docker.com", "hub.docker.com":
		h = DockerHub
	}
	if h == "" || strings.ContainsAny(h, "/ @") {
		return "", fmt.Errorf("invalid registry host %q: write it as host or host:port, like ghcr.io or 10.0.0.5:5000", host)
	}
	if _, err := name.NewRegistry(h, name.StrictValidation); err != nil {
		return "", fmt.Errorf("invalid registry host %q: %s", host, reason(err))
	}
	return h, nil
}

// isLoopback reports whether host (host or host:port) names this machine:
// "localhost", a name under ".localhost", or a loopback address.
func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

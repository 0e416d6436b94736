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
	// go-containerregistry is lenient where the engine is not: it takes
	// "..", "localhost:99999" and "../../x". Refuse here what the engine
	// would refuse at pull or push time.
	if err := checkHost(tag.RegistryStr()); err != nil {
		return bad(err.Error())
	}
	if err := checkRepository(tag.RepositoryStr()); err != nil {
		return bad(err.Error())
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

// The distribution reference grammar the engine applies: a host is
// dot-separated labels (letters, digits, inner hyphens) or a bracketed
// IPv6 address, with an optional port; a repository is slash-separated
// components of lowercase letters and digits joined by '.', '_', '__'
// or runs of '-'.
var (
	hostLabel     = regexp.MustCompile(`^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$`)
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
)

// checkHost checks a registry host[:port] against the engine's grammar.
func checkHost(h string) error {
	host, port := h, ""
	if i := strings.LastIndex(h, ":"); i >= 0 && !strings.HasSuffix(h, "]") {
		host, port = h[:i], h[i+1:]
		if port == "" {
			return fmt.Errorf("registry %q has an empty port", h)
		}
		n := 0
		for _, c := range port {
			if c < '0' || c > '9' || n > 65535 {
				n = -1
				break
			}
			n = n*10 + int(c-'0')
		}
		if n < 1 || n > 65535 {
			return fmt.Errorf("registry %q: port %s is not between 1 and 65535", h, port)
		}
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		if a, err := netip.ParseAddr(host[1 : len(host)-1]); err != nil || !a.Is6() {
			return fmt.Errorf("registry %q: %s is not an IPv6 address", h, host)
		}
		return nil
	}
	if host == "" {
		return fmt.Errorf("registry %q has no host name", h)
	}
	for _, l := range strings.Split(host, ".") {
		if !hostLabel.MatchString(l) {
			return fmt.Errorf("registry %q is not a host name: each dot-separated part is letters, digits and inner hyphens", h)
		}
	}
	return nil
}

// checkRepository checks a repository path against the engine's grammar.
func checkRepository(repo string) error {
	if len(repo) > 255 {
		return fmt.Errorf("the repository name is %d characters; the limit is 255", len(repo))
	}
	for _, c := range strings.Split(repo, "/") {
		if !pathComponent.MatchString(c) {
			return fmt.Errorf("%q is not a repository path component: use lowercase letters and digits, joined by '.', '_' or '-' (no '..', no leading or trailing separator)", c)
		}
	}
	return nil
}

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
	if err := checkHost(h); err != nil {
		return "", fmt.Errorf("invalid registry host %q: %w", host, err)
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

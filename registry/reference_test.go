package registry

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestParseReference(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, in      string
		want          Reference
		str, familiar string
	}{
		{"official image", "microblog:1.0.0-prod",
			Reference{"index.docker.io", "library/microblog", "1.0.0-prod", ""},
			"index.docker.io/library/microblog:1.0.0-prod", "microblog:1.0.0-prod"},
		{"default tag", "microblog",
			Reference{"index.docker.io", "library/microblog", "latest", ""},
			"index.docker.io/library/microblog:latest", "microblog:latest"},
		{"user repository", "user/microblog:prod",
			Reference{"index.docker.io", "user/microblog", "prod", ""},
			"index.docker.io/user/microblog:prod", "user/microblog:prod"},
		{"docker.io spelled out", "docker.io/library/microblog:1",
			Reference{"index.docker.io", "library/microblog", "1", ""},
			"index.docker.io/library/microblog:1", "microblog:1"},
		{"own registry by digest", "host:5000/team/app@" + dg,
			Reference{"host:5000", "team/app", "", dg},
			"host:5000/team/app@" + dg, "host:5000/team/app@" + dg},
		{"tag and digest", "ghcr.io/team/app:1.2@" + dg,
			Reference{"ghcr.io", "team/app", "1.2", dg},
			"ghcr.io/team/app:1.2@" + dg, "ghcr.io/team/app:1.2@" + dg},
		{"host case", "Registry.Example.COM/team/app:1",
			Reference{"registry.example.com", "team/app", "1", ""},
			"registry.example.com/team/app:1", "registry.example.com/team/app:1"},
		{"localhost", "localhost:5000/app",
			Reference{"localhost:5000", "app", "latest", ""},
			"localhost:5000/app:latest", "localhost:5000/app:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReference(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseReference(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
			if got.Familiar() != tt.familiar {
				t.Errorf("Familiar() = %q, want %q", got.Familiar(), tt.familiar)
			}
		})
	}
}

func TestParseReference_invalid(t *testing.T) {
	tests := []struct{ name, in, says string }{
		{"empty", "", "empty"},
		{"uppercase", "MicroBlog:1", "abcdefghijklmnopqrstuvwxyz"},
		{"url", "https://ghcr.io/team/app:1", `drop the "https://"`},
		{"space", "app: 1", "spaces"},
		{"bad tag", "app:-x", "tag"},
		{"short digest", "app@sha256:abc", "digest"},
		{"empty tag", "app:", "tag"},
		{"option", "--privileged", "repository path component"},
		{"leading hyphen", "-x:1", "repository path component"},
		{"climbing path", "../../x", "registry"},
		{"climbing repository", "ghcr.io/team/../../x", "repository path component"},
		{"dot dot host", "../app:1", "registry"},
		{"port out of range", "localhost:99999/app:1", "65535"},
		{"port zero", "localhost:0/app", "65535"},
		{"doubled separator", "ghcr.io/team//app", "repository path component"},
		{"trailing dot", "ghcr.io/team/app.:1", "repository path component"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseReference(tt.in)
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("ParseReference(%q) = %v, want ErrInvalidReference", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestDockerHub(t *testing.T) {
	if DockerHub != name.DefaultRegistry {
		t.Errorf("DockerHub = %q, go-containerregistry says %q", DockerHub, name.DefaultRegistry)
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io":                   "index.docker.io",
		"https://index.docker.io/v1/": "index.docker.io",
		"GHCR.io":                     "ghcr.io",
		"10.0.0.5:5000":               "10.0.0.5:5000",
		"http://127.0.0.1:5000/":      "127.0.0.1:5000",
		"[::1]:5000":                  "[::1]:5000",
		"localhost:65535":             "localhost:65535",
	} {
		got, err := NormalizeHost(in)
		if err != nil || got != want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ghcr.io/team", "a b", "..", ".", "localhost:99999", "localhost:0", "-reg.example.com", "reg..example.com", "reg.example.com:", "[zz]:5000", "::1"} {
		if got, err := NormalizeHost(in); err == nil {
			t.Errorf("NormalizeHost(%q) = %q, want an error", in, got)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.3.2.1": true, "[::1]:5000": true, "localhost:5000": true,
		"reg.localhost": true, "10.0.0.1:5000": false, "ghcr.io": false, "localhost.example.com": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

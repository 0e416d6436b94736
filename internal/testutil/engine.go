// Package testutil gives kaj's tests a real Docker Engine and images made
// on the spot: no image can be pulled where the tests run, so they build
// their own with go-containerregistry.
//
// Every engine object a test creates must carry Env.Labels (the kaj.test
// label with the test's own value) and a name from Env.Name; the cleanup
// registered by NewEnv removes exactly those objects, even when the test
// fails, and nothing else.
package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	mclient "github.com/moby/moby/client"
)

// Label marks every engine object a test creates.
const Label = "kaj.test"

// RequireDocker reports whether a missing engine fails tests instead of
// skipping them (KAJ_REQUIRE_DOCKER=1, set by the test script and CI).
func RequireDocker() bool { return os.Getenv("KAJ_REQUIRE_DOCKER") == "1" }

// Env is one test's handle on the engine.
type Env struct {
	Client *mclient.Client
	// ID is this test's value of the kaj.test label.
	ID string
	t  testing.TB
}

// NewEnv connects to the engine, skipping the test when there is none
// (failing it under KAJ_REQUIRE_DOCKER=1), and registers the cleanup of
// everything labelled with the test's ID.
func NewEnv(t testing.TB) *Env {
	t.Helper()
	cli, err := mclient.New(mclient.FromEnv, mclient.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = cli.Ping(ctx, mclient.PingOptions{NegotiateAPIVersion: true})
		cancel()
	}
	if err != nil {
		msg := fmt.Sprintf("no Docker Engine answers (%v); start one, or run ./scripts/test which does", err)
		if RequireDocker() {
			t.Fatal(msg + " [KAJ_REQUIRE_DOCKER=1]")
		}
		t.Skip(msg)
	}
	e := &Env{Client: cli, ID: randomHex(6), t: t}
	t.Cleanup(func() {
		e.removeAll()
		cli.Close()
	})
	return e
}

// Labels are the labels every object of this test must carry.
func (e *Env) Labels() map[string]string { return map[string]string{Label: e.ID} }

// WithLabels returns extra plus the test label.
func (e *Env) WithLabels(extra map[string]string) map[string]string {
	out := e.Labels()
	for k, v := range extra {
		out[k] = v
	}
	return out
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// Name is a unique engine object name for this test: a DNS label, so it
// also serves as an app name.
func (e *Env) Name(prefix string) string {
	base := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(prefix), "-"), "-")
	if len(base) > 40 {
		base = base[:40]
	}
	return fmt.Sprintf("kt-%s-%s", base, randomHex(3))
}

// Context is a context for engine calls that ends with the test.
func (e *Env) Context() context.Context {
	if tt, ok := e.t.(interface{ Context() context.Context }); ok {
		return tt.Context()
	}
	return context.Background()
}

// removeAll deletes this test's containers, then networks, volumes and
// images, each selected by the test's label value.
func (e *Env) removeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := mclient.Filters{}.Add("label", Label+"="+e.ID)
	if cs, err := e.Client.ContainerList(ctx, mclient.ContainerListOptions{All: true, Filters: f}); err == nil {
		for _, c := range cs.Items {
			if _, err := e.Client.ContainerRemove(ctx, c.ID, mclient.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
				e.t.Logf("cleanup: removing container %s: %v", c.ID[:12], err)
			}
		}
	}
	if ns, err := e.Client.NetworkList(ctx, mclient.NetworkListOptions{Filters: f}); err == nil {
		for _, n := range ns.Items {
			if _, err := e.Client.NetworkRemove(ctx, n.ID, mclient.NetworkRemoveOptions{}); err != nil {
				e.t.Logf("cleanup: removing network %s: %v", n.Name, err)
			}
		}
	}
	if vs, err := e.Client.VolumeList(ctx, mclient.VolumeListOptions{Filters: f}); err == nil {
		for _, v := range vs.Items {
			if _, err := e.Client.VolumeRemove(ctx, v.Name, mclient.VolumeRemoveOptions{Force: true}); err != nil {
				e.t.Logf("cleanup: removing volume %s: %v", v.Name, err)
			}
		}
	}
	if is, err := e.Client.ImageList(ctx, mclient.ImageListOptions{All: true, Filters: f}); err == nil {
		for _, img := range is.Items {
			// Remove by tag: other tests may hold the same content under
			// their own tag, and keep it.
			for _, tag := range img.RepoTags {
				if _, err := e.Client.ImageRemove(ctx, tag, mclient.ImageRemoveOptions{PruneChildren: true}); err != nil {
					e.t.Logf("cleanup: removing image %s: %v", tag, err)
				}
			}
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

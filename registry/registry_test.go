package registry

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/kajhq/kaj/internal/testutil"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// TestClient_pushPullRun pushes an engine image to a registry, deletes it
// from the engine, pulls it back (by the engine's pull and by kaj's own
// download and load) and runs it.
func TestClient_pushPullRun(t *testing.T) {
	for _, kind := range registryKinds {
		t.Run(kind.name, func(t *testing.T) {
			env := testutil.NewEnv(t)
			var log blobLog
			reg := kind.start(t, &log)
			c := newTestClient(t, env, reg)
			ctx := t.Context()

			mark := env.ID + "-" + kind.name
			local := "kaj-registry-src:" + env.ID
			loadImage(t, env, local, mark, randomLayer(t, 1<<20))
			target := reg.Host + "/kt/app-" + env.ID + ":v1"

			var pushed progressLog
			res, err := c.Push(ctx, local, target, pushed.add)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Layers) != 2 {
				t.Fatalf("pushed %d layers, want 2", len(res.Layers))
			}
			for i, l := range res.Layers {
				if !l.Uploaded {
					t.Errorf("layer %d not uploaded to an empty registry", i)
				}
			}
			checkProgress(t, pushed.take(), layerTotals(layersOf(res.Layers)))
			uploaded, _ := log.take()
			if len(uploaded) != 3 {
				t.Errorf("registry took %d blobs, want 2 layers and the config", len(uploaded))
			}

			img, err := c.Resolve(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			if img.Digest != res.Digest || img.ID != res.ID {
				t.Errorf("resolved %s (id %s), pushed %s (id %s)", img.Digest, img.ID, res.Digest, res.ID)
			}
			for i, l := range img.Layers {
				if l.Digest != res.Layers[i].Digest || l.Size != res.Layers[i].Size {
					t.Errorf("layer %d: registry has %s (%d bytes), push said %s (%d)", i, l.Digest, l.Size, res.Layers[i].Digest, res.Layers[i].Size)
				}
			}

			pulls := []struct {
				name      string
				viaEngine func(context.Context, string) bool
			}{
				{"engine", c.engineCanPull},
				{"load", func(context.Context, string) bool { return false }},
			}
			for _, p := range pulls {
				removeImage(t, env, res.ID)
				r, _ := ParseReference(target)
				var pulled progressLog
				got, err := c.pull(ctx, r, pulled.add, p.viaEngine)
				if err != nil {
					t.Fatalf("pull via %s: %v", p.name, err)
				}
				if got.Skipped {
					t.Errorf("pull via %s skipped an image the engine lacked", p.name)
				}
				checkProgress(t, pulled.take(), layerTotals(img.Layers))
				body := runAndGet(t, env, r.Familiar())
				if !strings.Contains(body, `"MARK":"`+mark+`"`) {
					t.Errorf("pulled via %s, the container's /env says %s; want MARK=%s", p.name, body, mark)
				}
			}

			var again progressLog
			got, err := c.Pull(ctx, img.Pinned(), again.add)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Skipped || got.ID != res.ID {
				t.Errorf("pulling %s again: skipped %v, id %s; want skipped, id %s", img.Pinned(), got.Skipped, got.ID, res.ID)
			}
			checkProgress(t, again.take(), layerTotals(img.Layers))
			r, _ := ParseReference(target)
			if insp, err := env.Client.ImageInspect(ctx, r.Familiar()); err != nil || insp.ID != res.ID {
				t.Errorf("tag %s in the engine: %v, %v", r.Familiar(), insp.ID, err)
			}
		})
	}
}

func layersOf(ls []PushedLayer) []Layer {
	out := make([]Layer, len(ls))
	for i, l := range ls {
		out[i] = l.Layer
	}
	return out
}

// TestClient_Push_onlyNewLayers pushes an image whose base layers the
// registry already holds: only the new layer and the config travel, both
// within one Client (which mounts from the base's repository) and from a
// new Client pushing into the base's repository (which finds the blobs by
// their digests).
func TestClient_Push_onlyNewLayers(t *testing.T) {
	for _, kind := range registryKinds {
		t.Run(kind.name, func(t *testing.T) {
			env := testutil.NewEnv(t)
			var log blobLog
			reg := kind.start(t, &log)
			c := newTestClient(t, env, reg)
			ctx := t.Context()

			base1 := randomLayer(t, 512<<10)
			top := randomLayer(t, 256<<10)
			loadImage(t, env, "kaj-registry-base:"+env.ID, "base", base1)
			loadImage(t, env, "kaj-registry-app:"+env.ID, "app", base1, top)

			baseRes, err := c.Push(ctx, "kaj-registry-base:"+env.ID, reg.Host+"/kt/base-"+env.ID+":1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if up, _ := log.take(); len(up) != 3 {
				t.Fatalf("base push: %d blobs uploaded, want 3", len(up))
			}

			var events progressLog
			appRes, err := c.Push(ctx, "kaj-registry-app:"+env.ID, reg.Host+"/kt/app-"+env.ID+":1", events.add)
			if err != nil {
				t.Fatal(err)
			}
			checkProgress(t, events.take(), layerTotals(layersOf(appRes.Layers)))
			for i := range 2 {
				if appRes.Layers[i].Digest != baseRes.Layers[i].Digest {
					t.Errorf("layer %d: digest %s differs from the base's %s", i, appRes.Layers[i].Digest, baseRes.Layers[i].Digest)
				}
			}
			up, mounted := log.take()
			wantUp := sorted(appRes.Layers[2].Digest, appRes.ID)
			if !slices.Equal(up, wantUp) {
				t.Errorf("app push uploaded %v, want only the new layer and the config %v", up, wantUp)
			}
			var wantMounted []string
			if kind.repoBlobs {
				wantMounted = sorted(baseRes.Layers[0].Digest, baseRes.Layers[1].Digest)
			}
			if !slices.Equal(mounted, wantMounted) {
				t.Errorf("app push mounted %v, want %v", mounted, wantMounted)
			}
			for i, l := range appRes.Layers {
				if l.Uploaded != (i == 2) {
					t.Errorf("layer %d: Uploaded = %v", i, l.Uploaded)
				}
			}

			// A new Client knows no blobs; it finds the base layers in the
			// base's repository by the digests its compression yields.
			fresh := newTestClient(t, env, reg)
			again, err := fresh.Push(ctx, "kaj-registry-app:"+env.ID, reg.Host+"/kt/base-"+env.ID+":app", nil)
			if err != nil {
				t.Fatal(err)
			}
			if again.Digest != appRes.Digest {
				t.Errorf("the same image pushed twice got digests %s and %s", appRes.Digest, again.Digest)
			}
			up, mounted = log.take()
			var wantFresh []string
			if kind.repoBlobs {
				wantFresh = wantUp
			}
			if !slices.Equal(up, wantFresh) || len(mounted) != 0 {
				t.Errorf("fresh client uploaded %v and mounted %v, want uploads %v only", up, mounted, wantFresh)
			}

			if _, err := fresh.Push(ctx, "kaj-registry-app:"+env.ID, reg.Host+"/kt/base-"+env.ID+":app", nil); err != nil {
				t.Fatal(err)
			}
			if up, mounted := log.take(); len(up)+len(mounted) != 0 {
				t.Errorf("pushing an image the repository has uploaded %v and mounted %v", up, mounted)
			}
		})
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestClient_TagRemote adds a tag to a pushed manifest without moving a
// blob.
func TestClient_TagRemote(t *testing.T) {
	for _, kind := range registryKinds {
		t.Run(kind.name, func(t *testing.T) {
			env := testutil.NewEnv(t)
			var log blobLog
			reg := kind.start(t, &log)
			c := newTestClient(t, env, reg)
			ctx := t.Context()
			local := env.TestAppImage()
			target := reg.Host + "/kt/tag-" + env.ID + ":v1"
			res, err := c.Push(ctx, local, target, nil)
			if err != nil {
				t.Fatal(err)
			}
			log.take()
			d, err := c.TagRemote(ctx, target, "stable")
			if err != nil {
				t.Fatal(err)
			}
			if d != res.Digest {
				t.Errorf("TagRemote returned %s, pushed %s", d, res.Digest)
			}
			if up, mounted := log.take(); len(up)+len(mounted) != 0 {
				t.Errorf("tagging moved blobs: uploaded %v, mounted %v", up, mounted)
			}
			img, err := c.Resolve(ctx, reg.Host+"/kt/tag-"+env.ID+":stable")
			if err != nil {
				t.Fatal(err)
			}
			if img.Digest != res.Digest {
				t.Errorf("new tag names %s, want %s", img.Digest, res.Digest)
			}
			if _, err := c.TagRemote(ctx, target, "-bad"); !errors.Is(err, ErrInvalidReference) {
				t.Errorf("TagRemote with tag -bad: %v, want ErrInvalidReference", err)
			}
		})
	}
}

// TestClient_badCredentials runs against the real registry with htpasswd.
func TestClient_badCredentials(t *testing.T) {
	env := testutil.NewEnv(t)
	reg := testutil.NewDistributionRegistry(t)
	ctx := t.Context()
	good := newTestClient(t, env, reg)
	local := env.TestAppImage()
	target := reg.Host + "/kt/creds-" + env.ID + ":v1"
	if _, err := good.Push(ctx, local, target, nil); err != nil {
		t.Fatal(err)
	}
	if err := good.TestCredentials(ctx, reg.Host, reg.Username, reg.Password); err != nil {
		t.Errorf("TestCredentials with the right password: %v", err)
	}

	wrong := *reg
	wrong.Password = "not-" + reg.Password
	bad := newTestClient(t, env, &wrong)
	checkBad := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s: %v, want ErrBadCredentials", what, err)
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Registry != reg.Host {
			t.Errorf("%s: error does not carry the registry %s: %#v", what, reg.Host, e)
		}
		if !strings.Contains(err.Error(), reg.Host) || !strings.Contains(err.Error(), reg.Username) {
			t.Errorf("%s: message %q names neither the registry nor the user", what, err)
		}
	}
	checkBad("TestCredentials", bad.TestCredentials(ctx, reg.Host, reg.Username, wrong.Password))
	_, err := bad.Resolve(ctx, target)
	checkBad("Resolve", err)
	_, err = bad.Pull(ctx, target, nil)
	checkBad("Pull", err)
	_, err = bad.Push(ctx, local, reg.Host+"/kt/creds-"+env.ID+":v2", nil)
	checkBad("Push", err)
	_, err = bad.TagRemote(ctx, target, "v3")
	checkBad("TagRemote", err)

	anon := newTestClient(t, env, &testutil.Registry{Host: reg.Host})
	if _, err := anon.Resolve(ctx, target); !errors.Is(err, ErrAuthRequired) {
		t.Errorf("Resolve without credentials: %v, want ErrAuthRequired", err)
	}
}

// TestClient_TagLocal_ListLocal tags an engine image and finds it listed.
func TestClient_TagLocal_ListLocal(t *testing.T) {
	env := testutil.NewEnv(t)
	c := newTestClient(t, env, &testutil.Registry{})
	ctx := t.Context()
	local := env.TestAppImage()
	target := "kaj-registry-tagged:" + env.ID
	if err := c.TagLocal(ctx, local, target); err != nil {
		t.Fatal(err)
	}
	if err := c.TagLocal(ctx, "kaj-registry-missing:"+env.ID, target); !errors.Is(err, ErrLocalImageNotFound) {
		t.Errorf("tagging a missing image: %v, want ErrLocalImageNotFound", err)
	}
	imgs, err := c.ListLocal(ctx, env.Labels())
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 {
		t.Fatalf("ListLocal found %d images with this test's label, want 1: %+v", len(imgs), imgs)
	}
	got := imgs[0]
	slices.Sort(got.Tags)
	if want := sorted(local, target); !slices.Equal(got.Tags, want) {
		t.Errorf("tags %v, want %v", got.Tags, want)
	}
	if got.Size <= 0 || !strings.HasPrefix(got.ID, "sha256:") {
		t.Errorf("listed %+v", got)
	}

	one, err := c.Local(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if one.ID != got.ID || one.Size != got.Size || !one.Created.Equal(got.Created) {
		t.Errorf("Local(%s) = %+v, ListLocal has %+v", target, one, got)
	}
	if _, err := c.Local(ctx, "kaj-registry-missing:"+env.ID); !errors.Is(err, ErrLocalImageNotFound) {
		t.Errorf("Local of a missing image: %v, want ErrLocalImageNotFound", err)
	}
}

// TestPull_engineReportsFailure pulls an image whose layer is not a tar
// archive: the registry serves it happily, and the engine reports the
// failure inside its answer streams, which must come back as errors.
func TestPull_engineReportsFailure(t *testing.T) {
	env := testutil.NewEnv(t)
	reg := testutil.NewMemRegistry(t)
	c := newTestClient(t, env, reg)
	junk := make([]byte, 4096)
	rand.Read(junk)
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(junk, types.DockerLayer))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config.Labels = env.Labels()
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/kt/junk-" + env.ID + ":1"
	n, _ := name.ParseReference(ref)
	if err := remote.Write(n, img); err != nil {
		t.Fatal(err)
	}
	r, _ := ParseReference(ref)

	_, err = c.pull(t.Context(), r, nil, func(context.Context, string) bool { return false })
	wantKind(t, err, ErrEngine)

	_, err = c.Pull(t.Context(), ref, nil)
	wantKind(t, err, ErrEngine)
	if !strings.Contains(err.Error(), "engine's own pull failed") {
		t.Errorf("error %q does not report the engine's pull failing before the load", err)
	}
}

// TestClient_dockerConfigFallback: with nothing from kaj's own
// credentials, the user's Docker config is used, for kaj's requests and
// for the engine's pull alike.
func TestClient_dockerConfigFallback(t *testing.T) {
	env := testutil.NewEnv(t)
	reg := testutil.NewDistributionRegistry(t)
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(reg.Username + ":" + reg.Password))
	cfg := `{"auths":{"` + reg.Host + `":{"auth":"` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)

	ref := reg.Host + "/kt/fallback-" + env.ID + ":1"
	seedLabelled(t, env, reg, ref)
	none := func(context.Context, string) (string, string, bool, error) { return "", "", false, nil }
	c, err := New(Options{Engine: env.Client, Credentials: none, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Pull(t.Context(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.ImageInspect(t.Context(), res.ID); err != nil {
		t.Errorf("pulled image %s not in the engine: %v", res.ID, err)
	}

	failing := func(context.Context, string) (string, string, bool, error) {
		return "", "", false, errors.New("store is locked")
	}
	c, err = New(Options{Credentials: failing, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(t.Context(), ref); err == nil || !strings.Contains(err.Error(), "store is locked") {
		t.Errorf("Resolve with a failing credential store: %v", err)
	}
}

// seedLabelled writes a small random image for this machine's platform,
// labelled for the test's cleanup, to ref on reg.
func seedLabelled(t *testing.T, env *testutil.Env, reg *testutil.Registry, ref string) {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config.Labels = env.Labels()
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	n, _ := name.ParseReference(ref)
	if err := remote.Write(n, img, remote.WithAuth(&authn.Basic{Username: reg.Username, Password: reg.Password})); err != nil {
		t.Fatal(err)
	}
}

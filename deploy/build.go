package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// StepSource is the step of a release built from source: fetch, lint and
// the engine build, before the image step.
const StepSource = "source"

// BuildFunc makes the image a release runs: it builds for release
// number release, reports to emit, and returns the image to deploy and
// what the release records of the build (also on failure, when it got
// that far: lint findings, the commit).
type BuildFunc func(ctx context.Context, release uint64, emit jobs.Emit) (image string, b store.Build, err error)

// DeployBuild builds app's image with build and deploys it as one new
// release, under the app's lock: one build per app at a time, and no
// other operation on the app meanwhile (ErrBusy). A failed build is a
// failed release that records why; the previous release keeps serving.
func (d *Deployer) DeployBuild(ctx context.Context, app, actor string, build BuildFunc, emit jobs.Emit) (store.Release, error) {
	return d.deploy(ctx, app, 0, actor, emit, build)
}

// buildStep runs build as the release's first step and makes the release
// (and a, the definition it runs) use the image it made.
func (d *Deployer) buildStep(ctx context.Context, r *run, a *store.App, build BuildFunc) error {
	return r.step(StepSource, func() (string, error) {
		image, b, err := build(ctx, r.rel.Number, r.emit)
		if b.ImageID != "" || b.Commit != "" || len(b.Findings) > 0 {
			r.rel.Build = &b
		}
		if err != nil {
			return "", err
		}
		r.rel.Image, a.Image = image, image
		if r.rel.Definition != nil {
			def := *r.rel.Definition
			def.Image = image
			r.rel.Definition = &def
		}
		// The image and build are on the release from now on, whatever
		// the later steps do.
		if err := d.st.Update(func(tx *store.Tx) error {
			cur, err := tx.Release(r.rel.App, r.rel.Number)
			if err != nil {
				return err
			}
			r.rel.Version = cur.Version
			r.rel, err = tx.UpdateRelease(r.rel)
			return err
		}); err != nil {
			return "", fmt.Errorf("recording the build on release %d: %w", r.rel.Number, err)
		}
		what := "the uploaded context"
		if b.Commit != "" {
			what = "commit " + shortHex(b.Commit)
		}
		return fmt.Sprintf("%s from %s (image %s, built in %s)", image, what, shortHex(strings.TrimPrefix(b.ImageID, "sha256:")), b.Duration.D().Round(100*time.Millisecond)), nil
	})
}

func shortHex(s string) string { return s[:min(12, len(s))] }

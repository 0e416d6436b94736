package apps

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/kajhq/kaj/build"
	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/store"
)

// Builder is what apps uses of the build pipeline.
type Builder interface {
	Build(ctx context.Context, req build.Request, emit jobs.Emit) (store.Build, error)
	// WorkDir is where uploads are unpacked.
	WorkDir() string
}

var _ Builder = (*build.Builder)(nil)

// BuildDeployer is a Deployer that can build an image as the first step
// of a release; found by type assertion, so a Deployer without builds
// (a test's fake) need not have it.
type BuildDeployer interface {
	DeployBuild(ctx context.Context, app, actor string, build deploy.BuildFunc, emit jobs.Emit) (store.Release, error)
}

var _ BuildDeployer = (*deploy.Deployer)(nil)

// JobBuild is the kind of a build-and-deploy job.
const JobBuild = "build"

// ErrNoBuilder means this kaj was started without a builder.
var ErrNoBuilder = errors.New("building from source is not available on this kaj")

// hasRepo reports whether a deploy of a builds from its git repository.
func hasRepo(a store.App) bool { return a.Source != nil && a.Source.Repo != "" }

// StartBuild builds app from its git repository and deploys the result,
// as a job that lives as long as life. It fails up front with
// deploy.ErrBusy while another operation on the app runs.
func (s *Service) StartBuild(life context.Context, actor, app string) (*jobs.Job, error) {
	a, err := s.opts.Store.App(app)
	if err != nil {
		return nil, err
	}
	if !hasRepo(a) {
		return nil, &store.ValidationError{Field: "source.repo", Msg: fmt.Sprintf("%s has no git repository to build from: set one, or upload a context with kaj deploy %s --context DIR", app, app)}
	}
	return s.startBuild(life, actor, app, nil)
}

// StartUpload unpacks an uploaded tar build context, then builds and
// deploys it as a job. dockerfile, when not empty, overrides the app's
// Dockerfile path (inside the context) for this build. The upload is
// read before StartUpload returns: a malformed one is an error here,
// not a failed job.
func (s *Service) StartUpload(life context.Context, actor, app string, upload io.Reader, dockerfile string) (*jobs.Job, error) {
	if s.opts.Builder == nil {
		return nil, ErrNoBuilder
	}
	if _, err := s.opts.Store.App(app); err != nil {
		return nil, err
	}
	if dockerfile != "" {
		if err := (&store.Source{Dockerfile: dockerfile}).Validate(); err != nil {
			return nil, err
		}
	}
	if s.opts.Deployer.Busy(app) {
		return nil, fmt.Errorf("%w: a deploy or operation of %s is already running; wait for it, or cancel its job", deploy.ErrBusy, app)
	}
	ctx, err := build.Receive(upload, s.opts.Builder.WorkDir())
	if err != nil {
		return nil, &store.ValidationError{Field: "context", Msg: err.Error()}
	}
	j, err := s.startBuild(life, actor, app, &uploaded{ctx: ctx, dockerfile: dockerfile})
	if err != nil {
		ctx.Close()
	}
	return j, err
}

type uploaded struct {
	ctx        *build.Context
	dockerfile string
}

func (s *Service) startBuild(life context.Context, actor, app string, up *uploaded) (*jobs.Job, error) {
	bd, ok := s.opts.Deployer.(BuildDeployer)
	if s.opts.Builder == nil || !ok {
		return nil, ErrNoBuilder
	}
	fn, err := s.claim(app, func(ctx context.Context, emit jobs.Emit) error {
		if up != nil {
			defer up.ctx.Close()
		}
		buildFn := func(ctx context.Context, release uint64, emit jobs.Emit) (string, store.Build, error) {
			// Read the source at build time, under the app's lock: the
			// build uses the definition the release records.
			a, err := s.opts.Store.App(app)
			if err != nil {
				return "", store.Build{}, err
			}
			sec, err := s.opts.Store.RevealApp(app)
			if err != nil {
				return "", store.Build{}, err
			}
			req := build.Request{App: app, Release: release, Secrets: sec.Source}
			if a.Source != nil {
				req.Source = *a.Source
			}
			if up != nil {
				req.Upload = up.ctx
				if up.dockerfile != "" {
					req.Source.Dockerfile = up.dockerfile
				}
			}
			b, err := s.opts.Builder.Build(ctx, req, emit)
			image := ""
			if err == nil {
				image = b.Tags[0]
			}
			return image, b, err
		}
		_, err := bd.DeployBuild(ctx, app, actor, buildFn, emit)
		if err == nil {
			if a, gerr := s.opts.Store.App(app); gerr == nil {
				s.syncRoute(a)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.opts.Jobs.Start(life, JobBuild, app, actor, fn), nil
}

// redeployBuilt deploys an uploaded app's current definition (its env,
// say) with the image of its newest build that served: the upload is
// gone, the image is not. Without one it asks for an upload.
func (s *Service) redeployBuilt(life context.Context, actor, app string) (*jobs.Job, error) {
	rels, err := s.opts.Store.Releases(app, 0)
	if err != nil {
		return nil, err
	}
	var from *store.Release
	for i, r := range rels {
		if r.Build != nil && r.Build.ImageID != "" && (r.Status == store.ReleaseLive || r.Status == store.ReleaseSuperseded) {
			from = &rels[i]
			break
		}
	}
	if from == nil {
		return nil, &store.ValidationError{Field: "image", Msg: fmt.Sprintf("%s has no image yet: upload its source with kaj deploy %s --context DIR, or set a git repository or an image", app, app)}
	}
	bd, ok := s.opts.Deployer.(BuildDeployer)
	if !ok {
		return nil, ErrNoBuilder
	}
	reuse := func(ctx context.Context, release uint64, emit jobs.Emit) (string, store.Build, error) {
		b := *from.Build
		emit(jobs.Event{Type: jobs.TypeLog, Step: deploy.StepSource, Message: fmt.Sprintf("no new source: reusing the image release %d built (%s)", from.Number, from.Image)})
		// By ID: the tag may have been pruned, the image not.
		return b.ImageID, b, nil
	}
	fn, err := s.claim(app, func(ctx context.Context, emit jobs.Emit) error {
		_, err := bd.DeployBuild(ctx, app, actor, reuse, emit)
		if err == nil {
			if a, gerr := s.opts.Store.App(app); gerr == nil {
				s.syncRoute(a)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.opts.Jobs.Start(life, JobDeploy, app, actor, fn), nil
}

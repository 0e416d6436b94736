package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	mclient "github.com/moby/moby/client"

	"github.com/kajhq/kaj/dockerfile"
	"github.com/kajhq/kaj/jobs"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/store"
)

// Step names a build reports to its job, in order.
const (
	StepFetch = "fetch"
	StepLint  = "lint"
	StepBuild = "build"
	StepPush  = "push"
)

// Repository is where app's built images are tagged: kaj/<app>. The
// namespace is how kaj knows its builds (pruning lists it and nothing
// else). Builds carry no label of their own, only Options.Labels: the
// classic builder spends a step and a container on each label, which
// would make a build through kaj slower than `docker build` of the same
// context, and a per-release label would give two builds of one commit
// two images. Release and commit are in the tags and on the release.
func Repository(app string) string { return "kaj/" + app }

// Pusher pushes an engine image to a registry.
type Pusher interface {
	Push(ctx context.Context, local, target string, progress registry.ProgressFunc) (*registry.PushResult, error)
}

var _ Pusher = (*registry.Client)(nil)

// Options are a Builder's dependencies and settings.
type Options struct {
	Engine Engine
	// Pusher pushes images for sources with a Push repository; nil
	// makes such builds fail at the push step.
	Pusher Pusher
	// Lint is the linter's base options (the [lint] ignore list); the
	// threshold that stops a build is the app's.
	Lint dockerfile.Options
	// Labels are added to every image built (tests mark theirs).
	Labels map[string]string
	// KeepImages is how many of an app's built images are kept; older
	// ones are removed after a build. Zero means 5.
	KeepImages int
	// WorkDir holds checkouts and uploads while they build; "" is the
	// system's temporary folder.
	WorkDir string
	Logger  *slog.Logger
}

// Builder builds apps' images. It is safe for concurrent use.
type Builder struct {
	opts Options
	log  *slog.Logger
}

// New returns a Builder.
func New(opts Options) (*Builder, error) {
	if opts.Engine == nil {
		return nil, errors.New("build: an engine is required")
	}
	if opts.KeepImages == 0 {
		opts.KeepImages = 5
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := opts.Lint.Validate(); err != nil {
		return nil, err
	}
	return &Builder{opts: opts, log: opts.Logger}, nil
}

// WorkDir is where uploads should be received (see Receive).
func (b *Builder) WorkDir() string { return b.opts.WorkDir }

// Request is one build.
type Request struct {
	App     string
	Release uint64
	// Source says where the code is and how to build it; its secrets
	// come in Secrets.
	Source  store.Source
	Secrets store.SourceSecrets
	// Upload, when not nil, is the context the client uploaded; the
	// source's repository is then not fetched. Build does not close it.
	Upload *Context
}

// Tag is the image name a build of app's release gets.
func Tag(app string, release uint64) string {
	return Repository(app) + ":" + strconv.FormatUint(release, 10)
}

// Build fetches, lints and builds req, reporting steps and every build
// line to emit, and returns what the release records. The image is
// tagged Tag(app, release) (its Tags[0]). Errors match ErrFetch,
// ErrContext, ErrLint (a *LintError) or ErrEngine; a canceled ctx stops
// the clone or the engine build.
func (b *Builder) Build(ctx context.Context, req Request, emit jobs.Emit) (store.Build, error) {
	if emit == nil {
		emit = func(jobs.Event) {}
	}
	started := time.Now()
	src := req.Source
	out := store.Build{Dockerfile: src.DockerfilePath(), Uploaded: req.Upload != nil}

	var bctx *Context
	err := step(emit, StepFetch, func() (string, error) {
		if req.Upload != nil {
			bctx = req.Upload
			return "using the uploaded context", nil
		}
		if src.Repo == "" {
			return "", fmt.Errorf("%w: the app has no repository; upload a context with kaj deploy --context DIR", ErrContext)
		}
		f, err := fetch(ctx, b.opts.WorkDir, src, req.Secrets, lineWriter(emit, StepFetch))
		if err != nil {
			return "", err
		}
		bctx, out.Commit, out.Ref = f.ctx, f.commit, f.ref
		return fmt.Sprintf("%s at %s: commit %s", src.Repo, f.ref, short(f.commit)), nil
	})
	if err != nil {
		return out, err
	}
	if req.Upload == nil {
		defer bctx.Close()
	}

	contextDir, dfPath, err := locate(bctx.Dir, src)
	if err != nil {
		return out, err
	}
	src.Dockerfile = dfPath
	text, err := os.ReadFile(filepath.Join(contextDir, filepath.FromSlash(dfPath)))
	if err != nil {
		return out, fmt.Errorf("%w: reading %s: %v", ErrContext, dfPath, err)
	}
	if len(text) > MaxDockerfile {
		return out, fmt.Errorf("%w: %s is %d KiB; kaj builds Dockerfiles of up to %d KiB", ErrContext, dfPath, len(text)>>10, MaxDockerfile>>10)
	}
	out.DockerfileText = string(text)

	if err := step(emit, StepLint, func() (string, error) {
		findings, err := b.lint(text, src, &out)
		for _, f := range findings {
			emit(jobs.Event{Type: jobs.TypeLog, Step: StepLint, Message: FormatFinding(f)})
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d finding(s), none at the threshold", len(findings)), nil
	}); err != nil {
		return out, err
	}

	if err := step(emit, StepBuild, func() (string, error) {
		return b.engineBuild(ctx, req, src, bctx, contextDir, &out, emit)
	}); err != nil {
		return out, err
	}
	if src.Push != "" {
		if err := step(emit, StepPush, func() (string, error) { return b.push(ctx, req, src, &out, emit) }); err != nil {
			return out, err
		}
	}
	out.Duration = store.Duration(time.Since(started))
	out.Finished = time.Now().UTC()
	b.prune(req.App)
	return out, nil
}

// locate finds the context folder and the Dockerfile inside a checkout.
func locate(root string, src store.Source) (string, string, error) {
	sub := path.Clean("/" + src.Context)[1:]
	dir := filepath.Join(root, filepath.FromSlash(sub))
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return "", "", fmt.Errorf("%w: the context folder %q is not in the source", ErrContext, src.Context)
	}
	df := src.DockerfilePath()
	if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(df))); err != nil || st.IsDir() {
		return "", "", fmt.Errorf("%w: there is no Dockerfile %q in the context folder %q; set source.dockerfile to its path inside the context (e.g. Dockerfile_prod)", ErrContext, df, "/"+sub)
	}
	return dir, df, nil
}

func (b *Builder) lint(text []byte, src store.Source, out *store.Build) ([]dockerfile.Finding, error) {
	threshold := dockerfile.SeverityError
	if src.LintThreshold != "" {
		var err error
		if threshold, err = dockerfile.ParseSeverity(src.LintThreshold); err != nil {
			return nil, fmt.Errorf("source.lint_threshold: %w", err)
		}
	}
	opts := b.opts.Lint
	opts.Threshold = dockerfile.SeverityStyle // show everything; stop at the app's threshold
	findings, err := dockerfile.Lint(text, opts)
	var pe *dockerfile.ParseError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("%w: %s does not parse: %v", ErrLint, src.DockerfilePath(), pe)
	}
	if err != nil {
		return nil, err
	}
	var stop []dockerfile.Finding
	for i, f := range findings {
		// The build record keeps the first findings; the rest are
		// counted, so a pathological file cannot swell the store.
		switch {
		case i < MaxFindings:
			out.Findings = append(out.Findings, FormatFinding(f))
		case i == MaxFindings:
			out.Findings = append(out.Findings, fmt.Sprintf("… and %d more findings", len(findings)-MaxFindings))
		}
		if f.Severity >= threshold {
			stop = append(stop, f)
		}
	}
	if len(stop) > 0 {
		return findings, &LintError{Dockerfile: src.DockerfilePath(), Threshold: threshold, Findings: stop}
	}
	return findings, nil
}

// MaxDockerfile is the largest Dockerfile kaj builds, as the lint API
// takes; MaxFindings bounds the findings a build records.
const (
	MaxDockerfile = 256 << 10
	MaxFindings   = 500
)

func (b *Builder) engineBuild(ctx context.Context, req Request, src store.Source, bctx *Context, contextDir string, out *store.Build, emit jobs.Emit) (string, error) {
	patterns, ignoreName, err := ignoreFile(contextDir, src.Dockerfile)
	if err != nil {
		return "", err
	}
	args := map[string]*string{}
	for _, a := range src.BuildArgs {
		v := a.Value
		if a.Secret {
			v = req.Secrets.BuildArgs[a.Name]
			emit(jobs.Event{Type: jobs.TypeLog, Step: StepBuild, Message: fmt.Sprintf("warning: secret build arg %s is passed as a plain build arg: the classic builder has no build secrets, and the value can be read from the image's history", a.Name)})
		}
		args[a.Name] = &v
	}
	tags := []string{Tag(req.App, req.Release)}
	if out.Commit != "" {
		tags = append(tags, Repository(req.App)+":"+short(out.Commit))
	}
	var labels map[string]string
	if len(b.opts.Labels) > 0 {
		labels = b.opts.Labels
	}
	pr, pw := io.Pipe()
	var sent, ignored int
	go func() {
		var err error
		sent, ignored, err = writeTar(pw, contextDir, src.Dockerfile, patterns, bctx.ModTime, bctx.skipGit)
		pw.CloseWithError(err)
	}()
	res, err := b.opts.Engine.ImageBuild(ctx, pr, mclient.ImageBuildOptions{
		Tags: tags, Dockerfile: src.Dockerfile, BuildArgs: args, Target: src.Target, Labels: labels,
		Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		pr.CloseWithError(err)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", &EngineError{Msg: err.Error()}
	}
	defer res.Body.Close()
	id, cached, err := readStream(res.Body, func(l string) {
		emit(jobs.Event{Type: jobs.TypeLog, Step: StepBuild, Message: l})
	})
	pr.Close()
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", err
	}
	out.ImageID, out.Tags, out.Cached = id, tags, cached
	detail := fmt.Sprintf("%s (%s): %d file(s) sent", tags[0], short(strings.TrimPrefix(id, "sha256:")), sent)
	if ignoreName != "" {
		detail += fmt.Sprintf(", %d kept out by %s", ignored, ignoreName)
	}
	if cached > 0 {
		detail += fmt.Sprintf(", %d step(s) from cache", cached)
	}
	return detail, nil
}

func (b *Builder) push(ctx context.Context, req Request, src store.Source, out *store.Build, emit jobs.Emit) (string, error) {
	if b.opts.Pusher == nil {
		return "", errors.New("this kaj cannot push images")
	}
	target := src.Push + ":" + strconv.FormatUint(req.Release, 10)
	res, err := b.opts.Pusher.Push(ctx, out.Tags[0], target, func(p registry.Progress) {
		emit(jobs.Event{Type: jobs.TypeProgress, Step: StepPush, Layer: strconv.Itoa(p.Index) + " " + p.Layer, Message: string(p.Phase), Current: p.Done, Total: p.Total})
	})
	if err != nil {
		return "", fmt.Errorf("pushing %s to %s: %w", out.Tags[0], target, err)
	}
	out.Pushed = res.Ref.Repo() + "@" + res.Digest
	return "pushed " + out.Pushed, nil
}

// step runs fn as one named step of the job.
func step(emit jobs.Emit, name string, fn func() (string, error)) error {
	emit(jobs.Event{Type: jobs.TypeStep, Step: name, Status: jobs.StatusRunning})
	detail, err := fn()
	if err != nil {
		emit(jobs.Event{Type: jobs.TypeStep, Step: name, Status: jobs.StatusFailed, Message: err.Error()})
		return err
	}
	emit(jobs.Event{Type: jobs.TypeStep, Step: name, Status: jobs.StatusSucceeded, Message: detail})
	return nil
}

// lineWriter reports what a writer receives as log lines of step.
func lineWriter(emit jobs.Emit, step string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		for _, l := range strings.FieldsFunc(string(p), func(r rune) bool { return r == '\n' || r == '\r' }) {
			if l = strings.TrimSpace(l); l != "" {
				emit(jobs.Event{Type: jobs.TypeLog, Step: step, Message: l})
			}
		}
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

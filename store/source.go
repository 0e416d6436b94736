package store

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

// Source is where kaj builds an app's image from: a git repository, or,
// when Repo is empty, a build context uploaded by the client (kaj deploy
// --context). Credentials, secret build args and the webhook secret are
// write-only: they are sealed at rest and empty when read back (the Has*
// flags say whether one is stored); see Tx.RevealApp.
type Source struct {
	// Repo is the git URL: https://, http://, git://, ssh:// or the scp
	// form git@host:owner/repo.git. Empty: an uploaded context.
	Repo string `json:"repo,omitempty"`
	// Ref is the branch or tag to build ("main", "v1.2.0", or a full
	// "refs/heads/..." name). Empty means main.
	Ref string `json:"ref,omitempty"`
	// Context is the build context folder inside the repository (or the
	// uploaded folder), slash-separated and relative; empty is the root.
	Context string `json:"context,omitempty"`
	// Dockerfile is the Dockerfile's path inside the context, any name
	// ("Dockerfile_prod", "docker/Dockerfile.web"); empty is Dockerfile.
	Dockerfile string `json:"dockerfile,omitempty"`
	// Target is the stage of a multi-stage Dockerfile to build; empty is
	// the last one.
	Target    string     `json:"target,omitempty"`
	BuildArgs []BuildArg `json:"build_args,omitempty"`
	// LintThreshold is the lowest severity of a lint finding that stops
	// the build: error, warning, info, style, or none to never stop.
	// Empty means error.
	LintThreshold string `json:"lint_threshold,omitempty"`
	// Push, when set, is a repository ("registry.example.com/team/app")
	// the built image is pushed to, tagged with the release number.
	Push string `json:"push,omitempty"`

	// Token is an HTTPS access token for Repo; write-only.
	Token string `json:"token,omitempty"`
	// DeployKey is a PEM-encoded SSH private key for Repo; write-only.
	DeployKey string `json:"deploy_key,omitempty"`
	// WebhookSecret signs (or, for GitLab, is) the push webhook's
	// requests; write-only. kaj generates one when none is given.
	WebhookSecret string `json:"webhook_secret,omitempty"`

	HasToken         bool `json:"has_token,omitempty"`
	HasDeployKey     bool `json:"has_deploy_key,omitempty"`
	HasWebhookSecret bool `json:"has_webhook_secret,omitempty"`
}

// BuildArg is one --build-arg. A secret one is sealed at rest and never
// shown back.
type BuildArg struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Secret bool   `json:"secret,omitempty"`
}

// SourceSecrets are a source's write-only values in plain text.
type SourceSecrets struct {
	Token         string
	DeployKey     string
	WebhookSecret string
	// BuildArgs holds the secret build args by name.
	BuildArgs map[string]string
}

// Build is what a release built from source records.
type Build struct {
	// Commit is the git commit built; empty for an uploaded context.
	Commit string `json:"commit,omitempty"`
	// Ref is the branch or tag it was fetched as.
	Ref string `json:"ref,omitempty"`
	// Dockerfile is the Dockerfile's path inside the context, and
	// DockerfileText its content as built.
	Dockerfile     string `json:"dockerfile,omitempty"`
	DockerfileText string `json:"dockerfile_text,omitempty"`
	// ImageID is the engine's ID of the built image; Tags its names.
	ImageID string   `json:"image_id,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	// Duration is how long fetch, lint and the engine build took.
	Duration Duration `json:"duration,omitempty"`
	// Findings are the linter's findings, as "DL3000 error line 3: ...".
	Findings []string `json:"findings,omitempty"`
	// Uploaded is true when the context came from the client.
	Uploaded bool `json:"uploaded,omitempty"`
	// Cached counts build steps the engine's layer cache answered.
	Cached int `json:"cached,omitempty"`
	// Pushed is the registry reference the image was pushed to, if any.
	Pushed   string    `json:"pushed,omitempty"`
	Finished time.Time `json:"finished,omitzero"`
}

var (
	gitSCP     = regexp.MustCompile(`^[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:[^\s]+$`)
	gitRef     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$`)
	stageName  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,127}$`)
	severities = map[string]bool{"": true, "error": true, "warning": true, "info": true, "style": true, "none": true}
)

// Validate checks a source as it will be stored; field names are
// "source.<field>".
func (s *Source) Validate() error {
	if s.Repo != "" {
		if err := validateRepo(s.Repo); err != nil {
			return err
		}
	}
	if s.Ref != "" && (!gitRef.MatchString(s.Ref) || strings.Contains(s.Ref, "..") || strings.HasSuffix(s.Ref, "/") || strings.HasSuffix(s.Ref, ".lock")) {
		return invalid("source.ref", "%q is not a branch or tag name", s.Ref)
	}
	if err := validateRelPath("source.context", s.Context); err != nil {
		return err
	}
	if err := validateRelPath("source.dockerfile", s.Dockerfile); err != nil {
		return err
	}
	if s.Target != "" && !stageName.MatchString(s.Target) {
		return invalid("source.target", "%q is not a stage name: letters, digits, '_', '.' and '-', starting with a letter", s.Target)
	}
	if !severities[s.LintThreshold] {
		return invalid("source.lint_threshold", "%q: use error, warning, info, style or none", s.LintThreshold)
	}
	if s.Push != "" {
		if err := ValidateImage("source.push", s.Push); err != nil {
			return err
		}
		if strings.ContainsAny(s.Push, "@") || strings.Contains(s.Push[strings.LastIndex(s.Push, "/")+1:], ":") {
			return invalid("source.push", "%q: give a repository without tag or digest; kaj tags each build with its release", s.Push)
		}
	}
	if s.Token != "" && s.DeployKey != "" {
		return invalid("source.token", "give a token (HTTPS) or a deploy key (SSH), not both")
	}
	if s.DeployKey != "" && !strings.Contains(s.DeployKey, "PRIVATE KEY-----") {
		return invalid("source.deploy_key", "a deploy key is a PEM private key beginning with -----BEGIN ... PRIVATE KEY-----")
	}
	seen := map[string]bool{}
	for i, a := range s.BuildArgs {
		field := fmt.Sprintf("source.build_args[%d].name", i)
		if err := ValidateEnvName(field, a.Name); err != nil {
			return err
		}
		if seen[a.Name] {
			return invalid(field, "%q is set twice", a.Name)
		}
		seen[a.Name] = true
	}
	return nil
}

func validateRepo(u string) error {
	switch {
	case gitSCP.MatchString(u):
		return nil
	case strings.HasPrefix(u, "https://"), strings.HasPrefix(u, "http://"), strings.HasPrefix(u, "git://"), strings.HasPrefix(u, "ssh://"):
		if strings.ContainsAny(u, " \t\n") || len(u) > 2048 {
			return invalid("source.repo", "%q is not a git URL", u)
		}
		if strings.Contains(strings.SplitN(strings.SplitN(u, "://", 2)[1], "/", 2)[0], "@") && strings.HasPrefix(u, "http") {
			return invalid("source.repo", "put the access token in source.token, not in the URL: a URL is shown back, a token never is")
		}
		return nil
	}
	return invalid("source.repo", "%q is not a git URL: use https://host/owner/repo.git, ssh://git@host/owner/repo.git or git@host:owner/repo.git", u)
}

// validateRelPath checks a slash-separated path that must stay inside the
// repository.
func validateRelPath(field, p string) error {
	if p == "" {
		return nil
	}
	clean := path.Clean(p)
	if strings.HasPrefix(p, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.ContainsRune(p, 0) || strings.Contains(p, "\\") {
		return invalid(field, "%q must be a relative path inside the repository, like app or docker/Dockerfile_prod", p)
	}
	return nil
}

// ResolvedRef is the ref a source builds: Ref, or main.
func (s Source) ResolvedRef() string {
	if s.Ref == "" {
		return "main"
	}
	return s.Ref
}

// DockerfilePath is the Dockerfile's path inside the context.
func (s Source) DockerfilePath() string {
	if s.Dockerfile == "" {
		return "Dockerfile"
	}
	return path.Clean(s.Dockerfile)
}

// public is s without its secrets, as a definition records it.
func (s Source) public() Source {
	s.Token, s.DeployKey, s.WebhookSecret = "", "", ""
	s.BuildArgs = append([]BuildArg(nil), s.BuildArgs...)
	for i := range s.BuildArgs {
		if s.BuildArgs[i].Secret {
			s.BuildArgs[i].Value = ""
		}
	}
	return s
}

func appSourceContext(app, what string) string { return "app/" + app + "/source/" + what }

// sealedSource is a source's sealed values in the app record.
type sealedSource struct {
	Token         []byte            `json:"token,omitempty"`
	DeployKey     []byte            `json:"deploy_key,omitempty"`
	WebhookSecret []byte            `json:"webhook_secret,omitempty"`
	BuildArgs     map[string][]byte `json:"build_args,omitempty"`
}

// sealSource moves a's source secrets into rec, keeping old's where a
// leaves one empty.
func (t *Tx) sealSource(a App, rec *appRecord, old appRecord) error {
	if a.Source == nil {
		return nil
	}
	src := a.Source.public()
	var prev sealedSource
	if old.SealedSource != nil {
		prev = *old.SealedSource
	}
	out := &sealedSource{BuildArgs: map[string][]byte{}}
	one := func(plain string, kept []byte, what string) ([]byte, error) {
		if plain == "" {
			return kept, nil
		}
		return t.s.seal.seal(plain, appSourceContext(a.Name, what))
	}
	var err error
	if out.Token, err = one(a.Source.Token, prev.Token, "token"); err != nil {
		return err
	}
	if out.DeployKey, err = one(a.Source.DeployKey, prev.DeployKey, "deploy_key"); err != nil {
		return err
	}
	if out.WebhookSecret, err = one(a.Source.WebhookSecret, prev.WebhookSecret, "webhook_secret"); err != nil {
		return err
	}
	// A new token replaces a deploy key and the other way round: one
	// way to authenticate at a time.
	if a.Source.Token != "" {
		out.DeployKey = nil
	}
	if a.Source.DeployKey != "" {
		out.Token = nil
	}
	for i, arg := range a.Source.BuildArgs {
		if !arg.Secret {
			continue
		}
		switch {
		case arg.Value != "":
			if out.BuildArgs[arg.Name], err = t.s.seal.seal(arg.Value, appSourceContext(a.Name, "arg/"+arg.Name)); err != nil {
				return err
			}
		case prev.BuildArgs[arg.Name] != nil:
			out.BuildArgs[arg.Name] = prev.BuildArgs[arg.Name]
		default:
			return invalid(fmt.Sprintf("source.build_args[%d].value", i), "secret build arg %q needs a value", arg.Name)
		}
	}
	src.HasToken, src.HasDeployKey, src.HasWebhookSecret = out.Token != nil, out.DeployKey != nil, out.WebhookSecret != nil
	rec.App.Source = &src
	rec.SealedSource = out
	return nil
}

// revealSource opens a record's sealed source values.
func (t *Tx) revealSource(rec appRecord) (SourceSecrets, error) {
	out := SourceSecrets{BuildArgs: map[string]string{}}
	s := rec.SealedSource
	if s == nil {
		return out, nil
	}
	open := func(sealed []byte, what string) (string, error) {
		if sealed == nil {
			return "", nil
		}
		v, err := t.s.seal.open(sealed, appSourceContext(rec.Name, what))
		if err != nil {
			return "", fmt.Errorf("app %q source %s: %w", rec.Name, what, err)
		}
		return v, nil
	}
	var err error
	if out.Token, err = open(s.Token, "token"); err != nil {
		return out, err
	}
	if out.DeployKey, err = open(s.DeployKey, "deploy_key"); err != nil {
		return out, err
	}
	if out.WebhookSecret, err = open(s.WebhookSecret, "webhook_secret"); err != nil {
		return out, err
	}
	for k, v := range s.BuildArgs {
		if out.BuildArgs[k], err = open(v, "arg/"+k); err != nil {
			return out, err
		}
	}
	return out, nil
}

package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/kajhq/kaj/store"
)

// fetched is a checkout and the commit it holds.
type fetched struct {
	ctx    *Context
	commit string
	ref    string
}

// fetch clones src's ref into a new folder under dir: shallow (depth 1),
// that branch or tag only, no other tags. A ref is tried as a branch,
// then as a tag, unless it is a full refs/... name.
func fetch(ctx context.Context, dir string, src store.Source, sec store.SourceSecrets, progress io.Writer) (*fetched, error) {
	auth, err := gitAuth(src.Repo, sec)
	if err != nil {
		return nil, err
	}
	ref := src.ResolvedRef()
	candidates := []plumbing.ReferenceName{plumbing.NewBranchReferenceName(ref), plumbing.NewTagReferenceName(ref)}
	if strings.HasPrefix(ref, "refs/") {
		candidates = []plumbing.ReferenceName{plumbing.ReferenceName(ref)}
	}
	var lastErr error
	for _, name := range candidates {
		tmp, err := os.MkdirTemp(dir, "kaj-git-")
		if err != nil {
			return nil, fmt.Errorf("creating a folder for the checkout: %w", err)
		}
		repo, err := git.PlainCloneContext(ctx, tmp, false, &git.CloneOptions{
			URL: src.Repo, Auth: auth, ReferenceName: name, SingleBranch: true, Depth: 1,
			Tags: git.NoTags, Progress: progress,
		})
		if err != nil {
			os.RemoveAll(tmp)
			lastErr = err
			if errors.Is(err, plumbing.ErrReferenceNotFound) || strings.Contains(err.Error(), "couldn't find remote ref") {
				continue
			}
			return nil, fetchError(src, ref, err)
		}
		head, err := repo.Head()
		if err != nil {
			os.RemoveAll(tmp)
			return nil, fetchError(src, ref, err)
		}
		c, err := repo.CommitObject(head.Hash())
		if err != nil {
			os.RemoveAll(tmp)
			return nil, fetchError(src, ref, err)
		}
		return &fetched{ctx: &Context{Dir: tmp, ModTime: c.Committer.When.UTC(), skipGit: true}, commit: head.Hash().String(), ref: ref}, nil
	}
	return nil, fmt.Errorf("%w: %s has no branch or tag %q: %v", ErrFetch, src.Repo, ref, lastErr)
}

func fetchError(src store.Source, ref string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%w: %s refused kaj's credentials: %v; set source.token (HTTPS) or source.deploy_key (SSH) with read access", ErrFetch, src.Repo, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("%w: %s: %v; check the URL, and give kaj credentials if the repository is private", ErrFetch, src.Repo, err)
	}
	return fmt.Errorf("%w: cloning %s at %s: %v", ErrFetch, src.Repo, ref, err)
}

// gitAuth turns the sealed credentials into go-git's: a token as HTTP
// basic auth (forges take any user name with a token as password), a
// deploy key as SSH public-key auth checked against the known_hosts of
// the user kaj runs as.
func gitAuth(repo string, sec store.SourceSecrets) (transport.AuthMethod, error) {
	switch {
	case sec.DeployKey != "":
		user := "git"
		if ep, err := transport.NewEndpoint(repo); err == nil && ep.User != "" {
			user = ep.User
		}
		keys, err := gitssh.NewPublicKeys(user, []byte(sec.DeployKey), "")
		if err != nil {
			return nil, fmt.Errorf("%w: reading the deploy key: %v", ErrFetch, err)
		}
		return keys, nil
	case sec.Token != "":
		return &githttp.BasicAuth{Username: "kaj", Password: sec.Token}, nil
	}
	return nil, nil
}

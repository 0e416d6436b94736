package build

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is a build context on disk: a fetched checkout or an unpacked
// upload. Close removes it.
type Context struct {
	// Dir is the folder holding the source (the repository root, or the
	// uploaded folder).
	Dir string
	// ModTime, when not zero, is given to every file in the tar sent to
	// the engine: a git checkout's files get their commit's time, so the
	// same commit always makes the same context and hits the cache.
	ModTime time.Time
	// skipGit leaves the .git folder out: it differs between two clones
	// of one commit and would defeat the cache.
	skipGit bool
}

// Close removes the context's files.
func (c *Context) Close() error { return os.RemoveAll(c.Dir) }

// MaxUpload bounds an uploaded context's unpacked size. A context bigger
// than this is almost always a forgotten node_modules or a data folder
// that belongs in .dockerignore.
const MaxUpload = 2 << 30

// Receive unpacks an uploaded tar stream (optionally gzip-compressed is
// not supported: the client sends plain tar) into a new folder under dir
// ("" is the system's temporary folder). Entries must stay inside the
// folder: absolute paths, ".." and links pointing out are refused, and
// files are written through an os.Root so a symlink in the upload cannot
// redirect a later entry. Only regular files, folders and symlinks are
// kept.
func Receive(r io.Reader, dir string) (*Context, error) {
	tmp, err := os.MkdirTemp(dir, "kaj-upload-")
	if err != nil {
		return nil, fmt.Errorf("creating a folder for the upload: %w", err)
	}
	ctx := &Context{Dir: tmp}
	if err := unpack(r, tmp); err != nil {
		ctx.Close()
		return nil, err
	}
	return ctx, nil
}

func unpack(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: reading the uploaded tar: %v", ErrContext, err)
		}
		name := path.Clean(strings.TrimPrefix(filepath.ToSlash(h.Name), "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("%w: the upload holds %q, outside its folder", ErrContext, h.Name)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("%w: unpacking %s: %v", ErrContext, name, err)
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("%w: unpacking %s: %v", ErrContext, name, err)
			}
		case tar.TypeReg:
			total += h.Size
			if total > MaxUpload {
				return fmt.Errorf("%w: the upload unpacks to more than %d GiB; leave what the image does not need out with .dockerignore", ErrContext, MaxUpload>>30)
			}
			f, err := root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fs.FileMode(h.Mode)&0o777|0o600)
			if err != nil {
				return fmt.Errorf("%w: unpacking %s: %v", ErrContext, name, err)
			}
			_, err = io.Copy(f, io.LimitReader(tr, h.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("%w: unpacking %s: %v", ErrContext, name, err)
			}
			if !h.ModTime.IsZero() {
				_ = root.Chtimes(name, h.ModTime, h.ModTime)
			}
		case tar.TypeSymlink:
			target := h.Linkname
			resolved := path.Clean(path.Join(path.Dir(name), target))
			if path.IsAbs(target) || resolved == ".." || strings.HasPrefix(resolved, "../") {
				return fmt.Errorf("%w: the upload's link %s points outside its folder (%s)", ErrContext, name, target)
			}
			if err := root.Symlink(target, name); err != nil {
				return fmt.Errorf("%w: unpacking %s: %v", ErrContext, name, err)
			}
		default:
			// Devices, fifos and hard links have no place in a build
			// context; leave them out.
		}
	}
}

// ignoreFile reads the patterns that keep files out of the context: the
// Dockerfile's own <Dockerfile>.dockerignore when there is one (as
// BuildKit reads it), else .dockerignore at the context's root.
func ignoreFile(contextDir, dockerfile string) ([]string, string, error) {
	for _, name := range []string{dockerfile + ".dockerignore", ".dockerignore"} {
		f, err := os.Open(filepath.Join(contextDir, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		patterns, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, "", fmt.Errorf("%w: reading %s: %v", ErrContext, name, err)
		}
		return patterns, name, nil
	}
	return nil, "", nil
}

// writeTar writes the context folder dir as a tar to w, leaving out what
// the patterns exclude (the Dockerfile and the ignore file always go,
// as docker build sends them). It returns how many files it sent and
// how many the patterns kept out.
func writeTar(w io.Writer, dir, dockerfile string, patterns []string, modTime time.Time, skipGit bool) (sent, ignored int, err error) {
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: .dockerignore: %v", ErrContext, err)
	}
	always := map[string]bool{dockerfile: true, ".dockerignore": true, dockerfile + ".dockerignore": true}
	tw := tar.NewWriter(w)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skipGit && rel == ".git" {
			return filepath.SkipDir
		}
		if !always[rel] && len(patterns) > 0 {
			skip, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if skip {
				if d.IsDir() && !pm.Exclusions() {
					ignored++
					return filepath.SkipDir
				}
				if !d.IsDir() {
					ignored++
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		} else if !info.Mode().IsRegular() && !info.IsDir() {
			return nil
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if info.IsDir() {
			h.Name += "/"
		}
		// Ownership and times the engine would otherwise take from this
		// host: the image must not depend on who ran kaj, and the cache
		// must not on when the checkout was made.
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		h.Format = tar.FormatPAX
		if !modTime.IsZero() {
			h.ModTime = modTime
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
			sent++
		}
		return nil
	})
	if err != nil {
		return sent, ignored, err
	}
	return sent, ignored, tw.Close()
}

// WriteContext writes the folder dir as a tar build context to w,
// honouring dir's .dockerignore (or dockerfile's own ignore file) like
// docker build: it is what `kaj deploy --context DIR` uploads, so files
// kept out never leave the client's machine. dockerfile is the
// Dockerfile's slash-separated path inside dir.
func WriteContext(w io.Writer, dir, dockerfile string) (sent, ignored int, err error) {
	patterns, _, err := ignoreFile(dir, dockerfile)
	if err != nil {
		return 0, 0, err
	}
	return writeTar(w, dir, dockerfile, patterns, time.Time{}, false)
}

package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// StaticPrefix is where the assets are served, before their version.
const StaticPrefix = "/static/"

// Asset is one static file, ready to serve.
type Asset struct {
	Body []byte
	// Gzip is Body compressed, or nil when compressing does not pay.
	Gzip        []byte
	ContentType string
	// ETag is a strong validator of Body.
	ETag string
}

// Renderer renders the dashboard's pages and holds its assets. It is
// read-only after New and safe for concurrent use.
type Renderer struct {
	pages   map[string]*template.Template
	assets  map[string]*Asset
	version string
	now     func() time.Time
}

// New parses the embedded templates and loads the assets. An error means
// the binary was built from a broken tree.
func New() (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}, assets: map[string]*Asset{}, now: time.Now}
	if err := r.loadAssets(); err != nil {
		return nil, err
	}
	if err := r.parse(); err != nil {
		return nil, err
	}
	return r, nil
}

// Version identifies this build's assets; it is part of every asset URL.
func (r *Renderer) Version() string { return r.version }

// AssetURL is the versioned URL of a static file, e.g. "css/app.css".
func (r *Renderer) AssetURL(name string) string {
	return StaticPrefix + r.version + "/" + name
}

// Asset finds a static file by its name below the version, e.g.
// "js/logs.js".
func (r *Renderer) Asset(name string) (*Asset, bool) {
	a, ok := r.assets[name]
	return a, ok
}

func (r *Renderer) loadAssets() error {
	h := sha256.New()
	var names []string
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing assets: %w", err)
	}
	sort.Strings(names)
	for _, p := range names {
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading asset %s: %w", p, err)
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(body)
		a := &Asset{Body: body, ContentType: contentType(name), ETag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		if a.Gzip, err = compress(body); err != nil {
			return fmt.Errorf("compressing asset %s: %w", p, err)
		}
		r.assets[name] = a
		io.WriteString(h, name)
		h.Write(sum[:])
	}
	r.version = hex.EncodeToString(h.Sum(nil)[:6])
	return nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// compress gzips text assets; tiny files and images gain too little.
func compress(body []byte) ([]byte, error) {
	if len(body) < 1024 {
		return nil, nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > len(body)*9/10 {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// parse builds one template set per page: the shared layout and partials,
// plus the page's own file.
func (r *Renderer) parse() error {
	base, err := template.New("base").Funcs(r.funcs()).ParseFS(templateFS, "templates/_*.html")
	if err != nil {
		return fmt.Errorf("parsing dashboard layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if strings.HasPrefix(name, "_") {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return err
		}
		if _, err := t.ParseFS(templateFS, f); err != nil {
			return fmt.Errorf("parsing page %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return nil
}

// Render writes page (a file name under templates/ without .html) with
// data, which is one of the page types of this package. The page is
// rendered to memory first, so a template error never leaves half a page
// on the wire.
func (r *Renderer) Render(w io.Writer, page string, data any) error {
	return r.execute(w, page, "layout", data)
}

// RenderFragment writes one part of a page, its "fragment-<part>" block,
// with the same data as the whole page.
func (r *Renderer) RenderFragment(w io.Writer, page, part string, data any) error {
	return r.execute(w, page, "fragment-"+part, data)
}

// HasFragment reports whether page defines the fragment part.
func (r *Renderer) HasFragment(page, part string) bool {
	t, ok := r.pages[page]
	return ok && t.Lookup("fragment-"+part) != nil
}

func (r *Renderer) execute(w io.Writer, page, name string, data any) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("rendering page %q: no such page", page)
	}
	var buf bytes.Buffer
	buf.Grow(32 << 10)
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("rendering page %q: %w", page, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

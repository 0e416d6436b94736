package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kajhq/kaj/microblog/avatar"
	"github.com/kajhq/kaj/microblog/store"
)

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates under templates/ that render whole pages;
// each is parsed with the layout and the partials.
var pageNames = []string{"index", "login", "register", "user", "edit_profile", "error"}

// layout is what every page template receives.
type layout struct {
	Title   string
	Me      *store.User
	CSRF    string
	Flashes []string
	// Page is the page's own data.
	Page any
}

// form is a form being shown again, with what the visitor typed and what
// is wrong with it.
type form struct {
	Values url.Values
	Errors map[string]string
}

func newForm(values url.Values) *form {
	return &form{Values: values, Errors: map[string]string{}}
}

func (f *form) Get(field string) string {
	if f == nil {
		return ""
	}
	return f.Values.Get(field)
}

func (f *form) Error(field string) string {
	if f == nil {
		return ""
	}
	return f.Errors[field]
}

func (f *form) invalid() bool { return len(f.Errors) > 0 }

func (s *Server) parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"avatar": func(u store.User, size int) template.HTML {
			// avatar.SVG escapes the only visitor-supplied text, the label.
			return template.HTML(avatar.SVG(u.Email, "avatar of "+u.Username, size))
		},
		"ago": func(t time.Time) string { return ago(s.now(), t) },
		"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"date": func(t time.Time) string {
			return t.UTC().Format("2 Jan 2006 15:04 UTC")
		},
		"add": func(a, b int) int { return a + b },
		"pageURL": func(base string, n int) string {
			return base + "?page=" + strconv.Itoa(n)
		},
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS,
			"templates/base.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page name with data. It renders into a buffer first so a
// template error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, v *visit, status int, name, title string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	l := layout{Title: title, Me: v.me, CSRF: v.sess.CSRF, Flashes: v.sess.Flashes, Page: data}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base", l); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	if len(v.sess.Flashes) > 0 {
		v.sess.Flashes = nil
		v.dirty = true
	}
	s.saveSession(w, r, v)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = buf.WriteTo(w)
	}
	return nil
}

// errorPage renders the error page for status, with msg or a default text.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, v *visit, status int, msg string) {
	if msg == "" {
		switch status {
		case http.StatusNotFound:
			msg = "There is nothing here. The page may have moved, or the address may be mistyped."
		case http.StatusInternalServerError:
			msg = "Something went wrong on our side. It has been logged; please try again in a moment."
		default:
			msg = http.StatusText(status)
		}
	}
	data := struct {
		Status  int
		Heading string
		Message string
	}{status, http.StatusText(status), msg}
	if err := s.render(w, r, v, status, "error", http.StatusText(status), data); err != nil {
		s.log.Error("rendering error page", "err", err)
		http.Error(w, msg, status)
	}
}

func staticFiles() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// ago says how long before now t was, the way the lesson's Flask-Moment
// does in the browser.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return strconv.Itoa(n) + " " + unit + "s ago"
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d < 30*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	default:
		return t.UTC().Format("2 Jan 2006")
	}
}

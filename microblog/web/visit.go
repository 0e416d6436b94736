package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kajhq/kaj/microblog/session"
	"github.com/kajhq/kaj/microblog/store"
)

const (
	cookieName = "microblog_session"
	// maxFormBytes bounds a form body; the largest form holds 140 characters.
	maxFormBytes = 64 << 10
	// lastSeenEvery spares the database a write on every page view.
	lastSeenEvery = time.Minute
)

// Errors a handler returns to get the matching error page.
var (
	errNotFound  = errors.New("page not found")
	errForbidden = errors.New("forbidden")
)

// visit is one request's view of its visitor.
type visit struct {
	sess session.Session
	// dirty says the session changed and its cookie must be sent again.
	dirty bool
	// me is the logged-in user, nil for an anonymous visitor.
	me *store.User
}

func (v *visit) flash(msg string) {
	v.sess.Flashes = append(v.sess.Flashes, msg)
	v.dirty = true
}

// login starts a session for u with a fresh CSRF token, so a token seen
// before login is worthless after it.
func (v *visit) login(u store.User) {
	v.sess = session.New()
	v.sess.UserID = u.ID
	v.me = &u
	v.dirty = true
}

func (v *visit) logout() {
	v.sess = session.New()
	v.me = nil
	v.dirty = true
}

// handlerFunc is a page handler. An error it returns becomes the error
// page: 404 for errNotFound or store.ErrNotFound, 403 for errForbidden,
// 500 with the detail logged for anything else.
type handlerFunc func(w http.ResponseWriter, r *http.Request, v *visit) error

// public serves a page to any visitor.
func (s *Server) public(h handlerFunc) http.Handler {
	return s.serve(h, false)
}

// private serves a page to logged-in users and sends others to log in.
func (s *Server) private(h handlerFunc) http.Handler {
	return s.serve(h, true)
}

func (s *Server) serve(h handlerFunc, loginRequired bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := s.load(r)
		if err != nil {
			s.fail(w, r, &visit{sess: session.New()}, err)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.errorPage(w, r, v, http.StatusBadRequest, "The form could not be read.")
				return
			}
			// A fresh session has a token nobody has seen: any POST
			// without a session cookie fails here.
			if !v.sess.CheckCSRF(r.PostFormValue("csrf_token")) {
				s.errorPage(w, r, v, http.StatusForbidden,
					"The form has expired or did not come from this site. Go back, reload the page and try again.")
				return
			}
		}
		if loginRequired && v.me == nil {
			s.redirect(w, r, v, "/login?next="+url.QueryEscape(r.URL.RequestURI()))
			return
		}
		if err := h(w, r, v); err != nil {
			s.fail(w, r, v, err)
		}
	})
}

// load reads the session cookie and the logged-in user. A missing, forged
// or expired cookie gives an anonymous visit; a deleted user logs out.
func (s *Server) load(r *http.Request) (*visit, error) {
	v := &visit{}
	if c, err := r.Cookie(cookieName); err == nil {
		v.sess, err = s.codec.Decode(c.Value)
		if err != nil {
			v.sess = session.New()
			v.dirty = true
		}
	} else {
		v.sess = session.New()
		v.dirty = true
	}
	if v.sess.UserID == 0 {
		return v, nil
	}
	u, err := s.st.UserByID(r.Context(), v.sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		v.logout()
		return v, nil
	}
	if err != nil {
		return nil, err
	}
	if now := s.now(); now.Sub(u.LastSeen) >= lastSeenEvery {
		if err := s.st.SetLastSeen(r.Context(), u.ID, now); err != nil {
			return nil, err
		}
		u.LastSeen = now.UTC()
	}
	v.me = &u
	return v, nil
}

// saveSession sends the session cookie if it changed. It must run before
// the response header is written.
func (s *Server) saveSession(w http.ResponseWriter, r *http.Request, v *visit) {
	if !v.dirty {
		return
	}
	value, err := s.codec.Encode(v.sess)
	if err != nil {
		s.log.Error("encoding session", "err", err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   int(s.codec.MaxAge() / time.Second),
		HttpOnly: true,
		Secure:   isHTTPS(r),
		SameSite: http.SameSiteLaxMode,
	})
	v.dirty = false
}

// isHTTPS reports whether the visitor came over TLS, directly or through a
// proxy that says so.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// redirect answers a form with 303 See Other, so reloading the next page
// does not post again.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, v *visit, to string) {
	s.saveSession(w, r, v)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// fail turns a handler's error into an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	switch {
	case errors.Is(err, errNotFound), errors.Is(err, store.ErrNotFound):
		s.errorPage(w, r, v, http.StatusNotFound, "")
	case errors.Is(err, errForbidden):
		s.errorPage(w, r, v, http.StatusForbidden, "")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		s.errorPage(w, r, v, http.StatusInternalServerError, "")
	}
}

// safeNext returns next if it is a path on this site, else "/": the login
// form must not become an open redirect.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, `/\`) ||
		strings.ContainsAny(next, "\r\n\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

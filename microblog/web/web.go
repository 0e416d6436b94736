// Package web serves Microblog's pages: registration and login, profiles,
// posts, timelines and the health check. Pages are rendered on the server
// from embedded html/template files; the only asset is a style sheet.
//
// Every form carries a CSRF token that must match the one in the visitor's
// signed session cookie; a POST without it is refused with 403.
package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/kajhq/kaj/microblog/session"
	"github.com/kajhq/kaj/microblog/store"
	"golang.org/x/crypto/bcrypt"
)

// Defaults for Options fields left zero.
const (
	// DefaultPostsPerPage matches the Flask lesson's POSTS_PER_PAGE.
	DefaultPostsPerPage = 25
	// DefaultSessionMaxAge keeps a login for a month, as "remember me" did.
	DefaultSessionMaxAge = 30 * 24 * time.Hour
)

// Options configure a Server.
type Options struct {
	// SecretKey signs session cookies. Required, at least 8 bytes.
	SecretKey []byte
	// PostsPerPage is the length of one page of posts; DefaultPostsPerPage if zero.
	PostsPerPage int
	// SessionMaxAge is how long a login lasts; DefaultSessionMaxAge if zero.
	SessionMaxAge time.Duration
	// BcryptCost is the cost of new password hashes; bcrypt.DefaultCost if zero.
	BcryptCost int
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Log receives errors and panics; discarded if nil.
	Log *slog.Logger
	// AccessLog receives one line per request; none if nil.
	AccessLog io.Writer
}

// Server holds the handlers' dependencies. Build it with New.
type Server struct {
	st         *store.Store
	codec      *session.Codec
	perPage    int
	bcryptCost int
	now        func() time.Time
	log        *slog.Logger
	accessLog  io.Writer
	pages      map[string]*template.Template
	// dummyHash is compared against when a login names no user, so that
	// both failures take the time of one bcrypt comparison. It is made on
	// first use: hashing at the default cost would add ~60 ms to start-up.
	dummyHash func() []byte
}

// New returns a Server over st.
func New(st *store.Store, opt Options) (*Server, error) {
	if st == nil {
		return nil, errors.New("web: no store")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.PostsPerPage == 0 {
		opt.PostsPerPage = DefaultPostsPerPage
	}
	if opt.PostsPerPage < 1 {
		return nil, fmt.Errorf("web: posts per page must be positive, got %d", opt.PostsPerPage)
	}
	if opt.SessionMaxAge == 0 {
		opt.SessionMaxAge = DefaultSessionMaxAge
	}
	if opt.BcryptCost == 0 {
		opt.BcryptCost = bcrypt.DefaultCost
	}
	if opt.BcryptCost < bcrypt.MinCost || opt.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("web: bcrypt cost %d outside %d..%d", opt.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	codec, err := session.NewCodec(opt.SecretKey, opt.SessionMaxAge, opt.Now)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s := &Server{
		st:         st,
		codec:      codec,
		perPage:    opt.PostsPerPage,
		bcryptCost: opt.BcryptCost,
		now:        opt.Now,
		log:        opt.Log,
		accessLog:  opt.AccessLog,
	}
	if s.pages, err = s.parseTemplates(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s.dummyHash = sync.OnceValue(func() []byte {
		// An error here would need a cost out of range, refused above.
		h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), s.bcryptCost)
		return h
	})
	return s, nil
}

// Handler returns the application with all its routes, access log and
// panic recovery.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return s.logRequests(s.recoverPanics(securityHeaders(mux)))
}

// routes registers every route of the application.
func (s *Server) routes(mux *http.ServeMux) {
	mux.Handle("GET /{$}", s.private(s.index))
	mux.Handle("POST /{$}", s.private(s.createPost))
	mux.Handle("GET /index", s.private(s.index))
	mux.Handle("POST /index", s.private(s.createPost))
	mux.Handle("GET /explore", s.private(s.explore))
	mux.Handle("GET /login", s.public(s.loginForm))
	mux.Handle("POST /login", s.public(s.login))
	mux.Handle("POST /logout", s.public(s.logout))
	mux.Handle("GET /register", s.public(s.registerForm))
	mux.Handle("POST /register", s.public(s.register))
	mux.Handle("GET /user/{username}", s.private(s.profile))
	mux.Handle("GET /edit_profile", s.private(s.editProfileForm))
	mux.Handle("POST /edit_profile", s.private(s.editProfile))
	mux.Handle("POST /follow/{username}", s.private(s.follow))
	mux.Handle("POST /unfollow/{username}", s.private(s.unfollow))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /static/", staticFiles())
	mux.Handle("/", s.public(func(http.ResponseWriter, *http.Request, *visit) error { return errNotFound }))
}

// securityHeaders keeps the pages from being framed, sniffed or made to
// load foreign scripts; the avatars are inline SVG, so "self" suffices.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		next.ServeHTTP(w, r)
	})
}

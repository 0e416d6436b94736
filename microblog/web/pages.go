package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kajhq/kaj/microblog/store"
	"golang.org/x/crypto/bcrypt"
)

// Limits of what users may type; the schema's column sizes match them.
const (
	maxUsername = 64
	maxEmail    = 120
	maxAbout    = 140
	maxPost     = 140
	minPassword = 8
	// maxPassword is bcrypt's limit: it ignores bytes past 72.
	maxPassword = 72
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// postList is the data of a page that lists posts.
type postList struct {
	store.PostPage
	// BaseURL is the page's path, for the newer/older links.
	BaseURL string
	// Empty is what to say when there are no posts.
	Empty string
}

type indexPage struct {
	Form  *form // nil on explore, which has no form
	Posts postList
}

// pageNumber reads ?page=N; anything but a positive integer is a 404, as
// for a page that does not exist.
func pageNumber(r *http.Request) (int, error) {
	p := r.URL.Query().Get("page")
	if p == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 {
		return 0, errNotFound
	}
	return n, nil
}

func (s *Server) window(r *http.Request) (store.Window, error) {
	n, err := pageNumber(r)
	return store.Window{Number: n, Size: s.perPage}, err
}

func (s *Server) index(w http.ResponseWriter, r *http.Request, v *visit) error {
	return s.renderIndex(w, r, v, http.StatusOK, newForm(nil))
}

func (s *Server) renderIndex(w http.ResponseWriter, r *http.Request, v *visit, status int, f *form) error {
	win, err := s.window(r)
	if err != nil {
		return err
	}
	page, err := s.st.Timeline(r.Context(), v.me.ID, win)
	if err != nil {
		return err
	}
	return s.render(w, r, v, status, "index", "Home", indexPage{
		Form:  f,
		Posts: postList{PostPage: page, BaseURL: "/", Empty: "No posts yet. Write one, or find people to follow on Explore."},
	})
}

func (s *Server) createPost(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r.PostForm)
	body := strings.TrimSpace(r.PostFormValue("post"))
	switch n := utf8.RuneCountInString(body); {
	case n == 0:
		f.Errors["post"] = "Write something first."
	case n > maxPost:
		f.Errors["post"] = "A post has at most " + strconv.Itoa(maxPost) + " characters; this one has " + strconv.Itoa(n) + "."
	}
	if f.invalid() {
		return s.renderIndex(w, r, v, http.StatusUnprocessableEntity, f)
	}
	if err := s.st.CreatePost(r.Context(), v.me.ID, body, s.now()); err != nil {
		return err
	}
	v.flash("Your post is now live!")
	s.redirect(w, r, v, "/")
	return nil
}

func (s *Server) explore(w http.ResponseWriter, r *http.Request, v *visit) error {
	win, err := s.window(r)
	if err != nil {
		return err
	}
	page, err := s.st.Explore(r.Context(), win)
	if err != nil {
		return err
	}
	return s.render(w, r, v, http.StatusOK, "index", "Explore", indexPage{
		Posts: postList{PostPage: page, BaseURL: "/explore", Empty: "Nobody has posted yet."},
	})
}

type loginPage struct {
	Form *form
	Next string
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request, v *visit) error {
	next := safeNext(r.URL.Query().Get("next"))
	if v.me != nil {
		s.redirect(w, r, v, next)
		return nil
	}
	return s.render(w, r, v, http.StatusOK, "login", "Sign in", loginPage{Form: newForm(nil), Next: next})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, v *visit) error {
	next := safeNext(r.PostFormValue("next"))
	username := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	u, err := s.st.UserByUsername(r.Context(), username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
	case err != nil:
		return err
	case bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil:
		v.login(u)
		s.redirect(w, r, v, next)
		return nil
	}
	f := newForm(r.PostForm)
	f.Errors["form"] = "Invalid username or password."
	return s.render(w, r, v, http.StatusUnauthorized, "login", "Sign in", loginPage{Form: f, Next: next})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *visit) error {
	v.logout()
	s.redirect(w, r, v, "/")
	return nil
}

func (s *Server) registerForm(w http.ResponseWriter, r *http.Request, v *visit) error {
	if v.me != nil {
		s.redirect(w, r, v, "/")
		return nil
	}
	return s.render(w, r, v, http.StatusOK, "register", "Register", newForm(nil))
}

func (s *Server) register(w http.ResponseWriter, r *http.Request, v *visit) error {
	if v.me != nil {
		s.redirect(w, r, v, "/")
		return nil
	}
	f := newForm(r.PostForm)
	username := strings.TrimSpace(r.PostFormValue("username"))
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	password := r.PostFormValue("password")
	checkUsername(f, username)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > maxEmail {
		f.Errors["email"] = "Enter an email address like name@example.com."
	}
	switch {
	case len(password) < minPassword:
		f.Errors["password"] = "Use at least " + strconv.Itoa(minPassword) + " characters."
	case len(password) > maxPassword:
		f.Errors["password"] = "Use at most " + strconv.Itoa(maxPassword) + " bytes."
	case password != r.PostFormValue("password2"):
		f.Errors["password2"] = "The passwords do not match."
	}
	if !f.invalid() {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost)
		if err != nil {
			return err
		}
		_, err = s.st.CreateUser(r.Context(), username, email, string(hash), s.now())
		switch {
		case errors.Is(err, store.ErrUsernameTaken):
			f.Errors["username"] = "Please use a different username."
		case errors.Is(err, store.ErrEmailTaken):
			f.Errors["email"] = "Please use a different email address."
		case err != nil:
			return err
		default:
			v.flash("Congratulations, you are now a registered user!")
			s.redirect(w, r, v, "/login")
			return nil
		}
	}
	return s.render(w, r, v, http.StatusUnprocessableEntity, "register", "Register", f)
}

func checkUsername(f *form, username string) {
	switch {
	case username == "":
		f.Errors["username"] = "Choose a username."
	case len(username) > maxUsername:
		f.Errors["username"] = "Use at most " + strconv.Itoa(maxUsername) + " characters."
	case !usernamePattern.MatchString(username):
		f.Errors["username"] = "Use only letters, digits, '.', '_' and '-'."
	}
}

type profilePage struct {
	User                 store.User
	Self, Following      bool
	Followers, Followees int
	Posts                postList
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request, v *visit) error {
	ctx := r.Context()
	u, err := s.st.UserByUsername(ctx, r.PathValue("username"))
	if err != nil {
		return err
	}
	win, err := s.window(r)
	if err != nil {
		return err
	}
	page, err := s.st.PostsBy(ctx, u.ID, win)
	if err != nil {
		return err
	}
	p := profilePage{User: u, Self: u.ID == v.me.ID, Posts: postList{
		PostPage: page, BaseURL: "/user/" + u.Username, Empty: u.Username + " has not posted yet.",
	}}
	if p.Followers, p.Followees, err = s.st.FollowCounts(ctx, u.ID); err != nil {
		return err
	}
	if !p.Self {
		if p.Following, err = s.st.IsFollowing(ctx, v.me.ID, u.ID); err != nil {
			return err
		}
	}
	return s.render(w, r, v, http.StatusOK, "user", u.Username, p)
}

func (s *Server) editProfileForm(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(map[string][]string{"username": {v.me.Username}, "about_me": {v.me.AboutMe}})
	return s.render(w, r, v, http.StatusOK, "edit_profile", "Edit profile", f)
}

func (s *Server) editProfile(w http.ResponseWriter, r *http.Request, v *visit) error {
	f := newForm(r.PostForm)
	username := strings.TrimSpace(r.PostFormValue("username"))
	about := strings.TrimSpace(r.PostFormValue("about_me"))
	checkUsername(f, username)
	if n := utf8.RuneCountInString(about); n > maxAbout {
		f.Errors["about_me"] = "Use at most " + strconv.Itoa(maxAbout) + " characters; this has " + strconv.Itoa(n) + "."
	}
	if !f.invalid() {
		err := s.st.UpdateProfile(r.Context(), v.me.ID, username, about)
		switch {
		case errors.Is(err, store.ErrUsernameTaken):
			f.Errors["username"] = "Please use a different username."
		case err != nil:
			return err
		default:
			v.flash("Your changes have been saved.")
			s.redirect(w, r, v, "/edit_profile")
			return nil
		}
	}
	return s.render(w, r, v, http.StatusUnprocessableEntity, "edit_profile", "Edit profile", f)
}

func (s *Server) follow(w http.ResponseWriter, r *http.Request, v *visit) error {
	return s.changeFollow(w, r, v, true)
}

func (s *Server) unfollow(w http.ResponseWriter, r *http.Request, v *visit) error {
	return s.changeFollow(w, r, v, false)
}

func (s *Server) changeFollow(w http.ResponseWriter, r *http.Request, v *visit, follow bool) error {
	name := r.PathValue("username")
	u, err := s.st.UserByUsername(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		v.flash("User " + name + " not found.")
		s.redirect(w, r, v, "/")
		return nil
	}
	if err != nil {
		return err
	}
	profile := "/user/" + u.Username
	if u.ID == v.me.ID {
		if follow {
			v.flash("You cannot follow yourself!")
		} else {
			v.flash("You cannot unfollow yourself!")
		}
		s.redirect(w, r, v, profile)
		return nil
	}
	if follow {
		err = s.st.Follow(r.Context(), v.me.ID, u.ID)
		v.flash("You are following " + u.Username + "!")
	} else {
		err = s.st.Unfollow(r.Context(), v.me.ID, u.ID)
		v.flash("You are not following " + u.Username + ".")
	}
	if err != nil {
		return err
	}
	s.redirect(w, r, v, profile)
	return nil
}

// healthTimeout bounds the database check so a hung database makes the
// check fail rather than hang the orchestrator's probe.
const healthTimeout = 2 * time.Second

type health struct {
	Status string `json:"status"`
	DB     string `json:"db"`
}

// healthz reports 200 when the database answers and 503 when it does not.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	status, body := http.StatusOK, health{Status: "ok", DB: "ok"}
	if err := s.st.Ping(ctx); err != nil {
		s.log.Error("health check", "err", err)
		status, body = http.StatusServiceUnavailable, health{Status: "unavailable", DB: "unreachable"}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kajhq/kaj/microblog/internal/testdb"
	"github.com/kajhq/kaj/microblog/session"
	"github.com/kajhq/kaj/microblog/store"
	"github.com/kajhq/kaj/microblog/web"
	"github.com/kajhq/kaj/microblog/webclient"
	"golang.org/x/crypto/bcrypt"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	url       string
	st        *store.Store
	clock     *clock
	accessLog *syncBuffer
	errorLog  *syncBuffer
}

func setup(t *testing.T, perPage int) *env {
	t.Helper()
	e := &env{
		st:        testdb.Open(t),
		clock:     &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		accessLog: &syncBuffer{},
		errorLog:  &syncBuffer{},
	}
	s, err := web.New(e.st, web.Options{
		SecretKey:    []byte("test secret key"),
		PostsPerPage: perPage,
		BcryptCost:   bcrypt.MinCost,
		Now:          e.clock.Now,
		Log:          slog.New(slog.NewTextHandler(e.errorLog, nil)),
		AccessLog:    e.accessLog,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *env) client(t *testing.T) *webclient.Client {
	t.Helper()
	c, err := webclient.New(e.url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// user registers and logs in a new user.
func (e *env) user(t *testing.T, name string) *webclient.Client {
	t.Helper()
	c := e.client(t)
	ctx := context.Background()
	if err := c.Register(ctx, name, name+"@example.com", "password-"+name); err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, name, "password-"+name); err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, c *webclient.Client, path string) webclient.Page {
	t.Helper()
	p, err := c.Get(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func submit(t *testing.T, c *webclient.Client, formPath, action string, fields url.Values) webclient.Page {
	t.Helper()
	p, err := c.Submit(context.Background(), formPath, action, fields)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantMessage(t *testing.T, p webclient.Page, msg string) {
	t.Helper()
	if got := webclient.Messages(p.Body); !slices.Contains(got, msg) {
		t.Errorf("messages on %s = %q, want %q", p.URL.Path, got, msg)
	}
}

func TestWeb_registerLoginLogout(t *testing.T) {
	e := setup(t, 0)
	ctx := context.Background()
	c := e.client(t)

	p := submit(t, c, "/register", "/register", url.Values{
		"username": {"alice"}, "email": {"Alice@Example.com"}, "password": {"s3cret-pass"}, "password2": {"s3cret-pass"},
	})
	if p.Status != http.StatusOK || p.URL.Path != "/login" {
		t.Fatalf("register ended at %d %s", p.Status, p.URL)
	}
	wantMessage(t, p, "Congratulations, you are now a registered user!")
	u, err := e.st.UserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "alice@example.com" {
		t.Errorf("email stored as %q, want lower case", u.Email)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("s3cret-pass")) != nil {
		t.Errorf("stored hash %q does not match the password", u.PasswordHash)
	}

	if err := c.Login(ctx, "alice", "s3cret-pass"); err != nil {
		t.Fatal(err)
	}
	home := get(t, c, "/")
	if home.URL.Path != "/" || !strings.Contains(home.Body, "Hi, alice!") {
		t.Fatalf("home after login: %s\n%s", home.URL, home.Body)
	}

	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if p := get(t, c, "/"); p.URL.Path != "/login" || p.URL.Query().Get("next") != "/" {
		t.Errorf("home after logout ended at %s, want the login page with next=/", p.URL)
	}
}

func TestWeb_login_refused(t *testing.T) {
	e := setup(t, 0)
	e.user(t, "alice")
	for _, tc := range []struct{ name, user, pass string }{
		{"bad password", "alice", "password-bob"},
		{"unknown user", "mallory", "password-alice"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client(t)
			p := submit(t, c, "/login", "/login", url.Values{"username": {tc.user}, "password": {tc.pass}})
			if p.Status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", p.Status)
			}
			wantMessage(t, p, "Invalid username or password.")
			if home := get(t, c, "/"); home.URL.Path != "/login" {
				t.Errorf("logged in anyway: home is %s", home.URL)
			}
		})
	}
}

func TestWeb_register_refused(t *testing.T) {
	e := setup(t, 0)
	e.user(t, "alice")
	ok := url.Values{"username": {"bob"}, "email": {"bob@example.com"}, "password": {"password1"}, "password2": {"password1"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range ok {
			f[key] = vals
		}
		f.Set(k, v)
		return f
	}
	for _, tc := range []struct {
		name   string
		fields url.Values
		says   string
	}{
		{"username taken", with("username", "alice"), "Please use a different username."},
		{"email taken", with("email", "ALICE@example.com"), "Please use a different email address."},
		{"bad email", with("email", "bob at example"), "Enter an email address like name@example.com."},
		{"bad username", with("username", "bob smith"), "Use only letters, digits, '.', '_' and '-'."},
		{"short password", func() url.Values { f := with("password", "short"); f.Set("password2", "short"); return f }(), "Use at least 8 characters."},
		{"passwords differ", with("password2", "password2"), "The passwords do not match."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := submit(t, e.client(t), "/register", "/register", tc.fields)
			if p.Status != http.StatusUnprocessableEntity {
				t.Errorf("status %d, want 422", p.Status)
			}
			wantMessage(t, p, tc.says)
			if _, err := e.st.UserByUsername(context.Background(), tc.fields.Get("username")); err == nil && tc.fields.Get("username") != "alice" {
				t.Error("user created despite the error")
			}
		})
	}
}

func TestWeb_CSRF(t *testing.T) {
	e := setup(t, 0)
	alice := e.user(t, "alice")
	other := e.client(t)
	foreign, err := webclient.CSRFToken(get(t, other, "/login").Body)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("no token", func(t *testing.T) {
		p, err := alice.Post(context.Background(), "/", url.Values{"post": {"forged"}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "did not come from this site") {
			t.Errorf("status %d, want 403 with an explanation", p.Status)
		}
	})
	t.Run("another session's token", func(t *testing.T) {
		p, err := alice.Post(context.Background(), "/", url.Values{"post": {"forged"}, "csrf_token": {foreign}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != http.StatusForbidden {
			t.Errorf("status %d, want 403", p.Status)
		}
	})
	t.Run("no session cookie", func(t *testing.T) {
		resp, err := http.PostForm(e.url+"/login", url.Values{
			"username": {"alice"}, "password": {"password-alice"}, "csrf_token": {foreign},
		})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403", resp.StatusCode)
		}
	})
	page, err := e.st.Explore(context.Background(), store.Window{Number: 1, Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Posts) != 0 {
		t.Errorf("a refused form created posts: %+v", page.Posts)
	}
	// The same client with the right token succeeds: the refusals were
	// about the token, nothing else.
	if err := alice.WritePost(context.Background(), "genuine"); err != nil {
		t.Fatal(err)
	}
}

func TestWeb_session_forged(t *testing.T) {
	e := setup(t, 0)
	e.user(t, "alice")
	alice, err := e.st.UserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	// visit fetches the home page with a hand-made session cookie.
	visit := func(key string) *http.Response {
		t.Helper()
		codec, err := session.NewCodec([]byte(key), time.Hour, e.clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		s := session.New()
		s.UserID = alice.ID
		value, err := codec.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		jar, _ := cookiejar.New(nil)
		u, _ := url.Parse(e.url)
		jar.SetCookies(u, []*http.Cookie{{Name: "microblog_session", Value: value}})
		resp, err := (&http.Client{Jar: jar}).Get(e.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// Signed with the server's key, the cookie logs in as alice...
	if resp := visit("test secret key"); resp.Request.URL.Path != "/" {
		t.Fatalf("genuine cookie refused: ended at %s", resp.Request.URL)
	}
	// ...signed with any other, it does not.
	if resp := visit("guessed secret key"); resp.Request.URL.Path != "/login" {
		t.Errorf("forged cookie let the visitor in: ended at %s", resp.Request.URL)
	}
}

func TestWeb_posts(t *testing.T) {
	e := setup(t, 0)
	alice := e.user(t, "alice")
	ctx := context.Background()
	if err := alice.WritePost(ctx, "Hello, world!"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if err := alice.WritePost(ctx, `<script>alert("x")</script>`); err != nil {
		t.Fatal(err)
	}
	home := get(t, alice, "/")
	if got, want := webclient.Posts(home.Body), []string{`<script>alert("x")</script>`, "Hello, world!"}; !slices.Equal(got, want) {
		t.Errorf("home posts = %q, want %q", got, want)
	}
	if strings.Contains(home.Body, "<script>") {
		t.Error("a post's markup reached the page unescaped")
	}
	if got := webclient.Posts(get(t, alice, "/explore").Body); len(got) != 2 {
		t.Errorf("explore shows %d posts, want 2", len(got))
	}
	if got := webclient.Posts(get(t, alice, "/user/alice").Body); len(got) != 2 {
		t.Errorf("profile shows %d posts, want 2", len(got))
	}

	for name, body := range map[string]string{"empty": "   ", "too long": strings.Repeat("é", 141)} {
		t.Run(name, func(t *testing.T) {
			p := submit(t, alice, "/", "/", url.Values{"post": {body}})
			if p.Status != http.StatusUnprocessableEntity || len(webclient.Messages(p.Body)) == 0 {
				t.Errorf("status %d messages %q, want 422 with a message", p.Status, webclient.Messages(p.Body))
			}
		})
	}
	if err := alice.WritePost(ctx, strings.Repeat("é", 140)); err != nil {
		t.Errorf("140 characters refused: %v", err)
	}
}

func TestWeb_editProfile(t *testing.T) {
	e := setup(t, 0)
	alice := e.user(t, "alice")
	e.user(t, "bob")

	form := get(t, alice, "/edit_profile")
	if !strings.Contains(form.Body, `value="alice"`) {
		t.Error("edit form not filled with the current username")
	}
	p := submit(t, alice, "/edit_profile", "/edit_profile", url.Values{"username": {"alice"}, "about_me": {"I write <b>Go</b>."}})
	if p.Status != http.StatusOK || p.URL.Path != "/edit_profile" {
		t.Fatalf("save ended at %d %s", p.Status, p.URL)
	}
	wantMessage(t, p, "Your changes have been saved.")
	profile := get(t, alice, "/user/alice")
	if !strings.Contains(profile.Body, "I write &lt;b&gt;Go&lt;/b&gt;.") {
		t.Error("about me not shown (escaped) on the profile")
	}

	p = submit(t, alice, "/edit_profile", "/edit_profile", url.Values{"username": {"bob"}, "about_me": {"x"}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Errorf("taking bob's name: status %d, want 422", p.Status)
	}
	wantMessage(t, p, "Please use a different username.")
	p = submit(t, alice, "/edit_profile", "/edit_profile", url.Values{"username": {"alice"}, "about_me": {strings.Repeat("a", 141)}})
	if p.Status != http.StatusUnprocessableEntity {
		t.Errorf("141-character about me: status %d, want 422", p.Status)
	}

	p = submit(t, alice, "/edit_profile", "/edit_profile", url.Values{"username": {"alicia"}, "about_me": {""}})
	wantMessage(t, p, "Your changes have been saved.")
	if p := get(t, alice, "/user/alicia"); p.Status != http.StatusOK || !strings.Contains(p.Body, "User: alicia") {
		t.Errorf("renamed profile: %d", p.Status)
	}
	if p := get(t, alice, "/user/alice"); p.Status != http.StatusNotFound {
		t.Errorf("old name still has a profile: %d", p.Status)
	}
}

func TestWeb_profile(t *testing.T) {
	e := setup(t, 0)
	alice := e.user(t, "alice")
	e.user(t, "bob")
	p := get(t, alice, "/user/alice")
	for _, want := range []string{`<svg xmlns="http://www.w3.org/2000/svg" class="avatar" width="128"`, "Last seen", "just now", "Edit your profile", "0 followers, 0 following."} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("own profile lacks %q", want)
		}
	}
	if p := get(t, alice, "/user/bob"); !strings.Contains(p.Body, `action="/follow/bob"`) || strings.Contains(p.Body, "Edit your profile") {
		t.Error("another's profile should offer Follow and no edit link")
	}
	// Two hours on, the profile says when alice was last seen until her
	// next request updates it.
	e.clock.Advance(2 * time.Hour)
	bobSees := e.user(t, "carol")
	if p := get(t, bobSees, "/user/alice"); !strings.Contains(p.Body, "2 hours ago") {
		t.Error("last seen not shown as 2 hours ago")
	}
	get(t, alice, "/explore")
	if p := get(t, bobSees, "/user/alice"); !strings.Contains(p.Body, "just now") {
		t.Error("last seen not updated by a request")
	}
}

func TestWeb_follow(t *testing.T) {
	e := setup(t, 0)
	ctx := context.Background()
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	if err := bob.WritePost(ctx, "bob was here"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if err := alice.WritePost(ctx, "alice was here"); err != nil {
		t.Fatal(err)
	}
	timeline := func() []string { return webclient.Posts(get(t, alice, "/").Body) }
	if got := timeline(); !slices.Equal(got, []string{"alice was here"}) {
		t.Errorf("before following: %q", got)
	}

	if err := alice.Follow(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	p := get(t, alice, "/user/bob")
	if !strings.Contains(p.Body, "1 follower, 0 following.") || !strings.Contains(p.Body, `action="/unfollow/bob"`) {
		t.Error("bob's profile does not show alice following")
	}
	if got := timeline(); !slices.Equal(got, []string{"alice was here", "bob was here"}) {
		t.Errorf("after following bob: %q", got)
	}

	p = submit(t, alice, "/user/alice", "/follow/alice", nil)
	wantMessage(t, p, "You cannot follow yourself!")
	p = submit(t, alice, "/", "/follow/nobody", nil)
	wantMessage(t, p, "User nobody not found.")

	if err := alice.Unfollow(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if got := timeline(); !slices.Equal(got, []string{"alice was here"}) {
		t.Errorf("after unfollowing bob: %q", got)
	}
}

func TestWeb_pagination(t *testing.T) {
	e := setup(t, 2)
	alice := e.user(t, "alice")
	for _, body := range []string{"one", "two", "three", "four", "five"} {
		e.clock.Advance(time.Minute)
		if err := alice.WritePost(context.Background(), body); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		path         string
		want         []string
		newer, older string
	}{
		{"/", []string{"five", "four"}, "", "/?page=2"},
		{"/?page=2", []string{"three", "two"}, "/?page=1", "/?page=3"},
		{"/?page=3", []string{"one"}, "/?page=2", ""},
		{"/explore?page=2", []string{"three", "two"}, "/explore?page=1", "/explore?page=3"},
		{"/user/alice?page=3", []string{"one"}, "/user/alice?page=2", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			p := get(t, alice, tc.path)
			if got := webclient.Posts(p.Body); !slices.Equal(got, tc.want) {
				t.Errorf("posts %q, want %q", got, tc.want)
			}
			for rel, href := range map[string]string{"prev": tc.newer, "next": tc.older} {
				link := `rel="` + rel + `" href="` + href + `"`
				if has := strings.Contains(p.Body, `rel="`+rel+`"`); has != (href != "") || (href != "" && !strings.Contains(p.Body, link)) {
					t.Errorf("%s link: want %q", rel, href)
				}
			}
		})
	}
	for _, bad := range []string{"/?page=0", "/?page=-1", "/?page=two"} {
		if p := get(t, alice, bad); p.Status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", bad, p.Status)
		}
	}
}

func TestWeb_loginRequired(t *testing.T) {
	e := setup(t, 0)
	e.user(t, "alice")
	c := e.client(t)
	for _, path := range []string{"/", "/explore", "/user/alice", "/edit_profile"} {
		p := get(t, c, path)
		if p.URL.Path != "/login" || p.URL.Query().Get("next") != path {
			t.Errorf("%s: ended at %s, want /login?next=%s", path, p.URL, path)
		}
	}
	// Logging in from there returns to the page asked for, but only to a
	// page of this site.
	p := submit(t, c, "/login?next=/explore", "/login", url.Values{"username": {"alice"}, "password": {"password-alice"}, "next": {"/explore"}})
	if p.URL.Path != "/explore" {
		t.Errorf("after login: %s, want /explore", p.URL)
	}
	c = e.client(t)
	p = submit(t, c, "/login", "/login", url.Values{"username": {"alice"}, "password": {"password-alice"}, "next": {"//evil.example/"}})
	if p.URL.Host != strings.TrimPrefix(e.url, "http://") || p.URL.Path != "/" {
		t.Errorf("open redirect: login sent the browser to %s", p.URL)
	}
}

func TestWeb_notFound(t *testing.T) {
	e := setup(t, 0)
	alice := e.user(t, "alice")
	for _, path := range []string{"/no/such/page", "/user/ghost", "/static/nothing.css"} {
		p := get(t, alice, path)
		if p.Status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, p.Status)
		}
	}
	if p := get(t, alice, "/no/such/page"); !strings.Contains(p.Body, "404 Not Found") || !strings.Contains(p.Body, "Microblog") {
		t.Error("404 is not the site's error page")
	}
}

func TestWeb_serverError(t *testing.T) {
	e := setup(t, 0)
	alice := e.user(t, "alice")
	e.st.Close() // the database goes away under a logged-in user
	p := get(t, alice, "/explore")
	if p.Status != http.StatusInternalServerError || !strings.Contains(p.Body, "Something went wrong") {
		t.Errorf("status %d, want the 500 page", p.Status)
	}
	if !strings.Contains(e.errorLog.String(), "database is closed") {
		t.Errorf("error log lacks the cause:\n%s", e.errorLog)
	}
}

func TestWeb_healthz(t *testing.T) {
	e := setup(t, 0)
	check := func() (int, map[string]string) {
		resp, err := http.Get(e.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
		return resp.StatusCode, body
	}
	if code, body := check(); code != http.StatusOK || body["db"] != "ok" {
		t.Errorf("healthy: %d %v", code, body)
	}
	e.st.Close()
	if code, body := check(); code != http.StatusServiceUnavailable || body["db"] == "ok" {
		t.Errorf("database down: %d %v, want 503", code, body)
	}
}

func TestWeb_accessLogAndHeaders(t *testing.T) {
	e := setup(t, 0)
	resp, err := http.Get(e.url + "/static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	css, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(css), ".post") {
		t.Errorf("style sheet: %d", resp.StatusCode)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if _, err := http.Get(e.url + "/nope?x=1"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(e.accessLog.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("access log has %d lines, want 2:\n%s", len(lines), e.accessLog)
	}
	if !strings.Contains(lines[0], `GET "/static/style.css" HTTP/1.1 200`) || !strings.Contains(lines[1], `GET "/nope?x=1" HTTP/1.1 404`) {
		t.Errorf("access log:\n%s", e.accessLog)
	}
}

// Package webclient drives a running Microblog over HTTP the way a browser
// does: it keeps the session cookie, reads each form's CSRF token and
// follows redirects. Tests use it to register, log in and post against a
// server in-process, in a container, or deployed by anything else.
package webclient

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// ErrRefused is wrapped when the app answered but did not do what was
// asked, e.g. a bad password or a taken username.
var ErrRefused = errors.New("refused by microblog")

// Page is a response after redirects.
type Page struct {
	Status int
	// URL is where the redirects ended.
	URL  *url.URL
	Body string
}

// Client is one browser session. It is not safe for concurrent use.
type Client struct {
	base *url.URL
	http *http.Client
}

// New returns a client of the Microblog at baseURL, e.g. http://127.0.0.1:8000.
func New(baseURL string) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webclient: base URL %q is not an http(s) URL", baseURL)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("webclient: %w", err)
	}
	return &Client{base: u, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}, nil
}

// Get fetches path (e.g. "/explore?page=2").
func (c *Client) Get(ctx context.Context, path string) (Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+path, nil)
	if err != nil {
		return Page{}, fmt.Errorf("webclient: %w", err)
	}
	return c.do(req)
}

// Submit loads the page at formPath, then posts fields with that page's
// CSRF token to action.
func (c *Client) Submit(ctx context.Context, formPath, action string, fields url.Values) (Page, error) {
	p, err := c.Get(ctx, formPath)
	if err != nil {
		return Page{}, err
	}
	token, err := CSRFToken(p.Body)
	if err != nil {
		return Page{}, fmt.Errorf("webclient: %s: %w", formPath, err)
	}
	form := url.Values{"csrf_token": {token}}
	for k, v := range fields {
		form[k] = v
	}
	return c.Post(ctx, action, form)
}

// Post posts form as-is to path.
func (c *Client) Post(ctx context.Context, path string, form url.Values) (Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+path, strings.NewReader(form.Encode()))
	if err != nil {
		return Page{}, fmt.Errorf("webclient: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

func (c *Client) do(req *http.Request) (Page, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return Page{}, fmt.Errorf("webclient: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Page{}, fmt.Errorf("webclient: reading %s: %w", req.URL.Path, err)
	}
	return Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(b)}, nil
}

// Register creates an account. The app answers a success by sending the
// browser to the login page.
func (c *Client) Register(ctx context.Context, username, email, password string) error {
	p, err := c.Submit(ctx, "/register", "/register", url.Values{
		"username": {username}, "email": {email}, "password": {password}, "password2": {password},
	})
	if err != nil {
		return err
	}
	return p.expect("registering "+username, "/login")
}

// Login signs in; later requests are made as that user.
func (c *Client) Login(ctx context.Context, username, password string) error {
	p, err := c.Submit(ctx, "/login", "/login", url.Values{"username": {username}, "password": {password}})
	if err != nil {
		return err
	}
	return p.expect("logging in as "+username, "/")
}

// Logout signs out.
func (c *Client) Logout(ctx context.Context) error {
	p, err := c.Submit(ctx, "/", "/logout", nil)
	if err != nil {
		return err
	}
	return p.expect("logging out", "/login")
}

// WritePost publishes body as the logged-in user.
func (c *Client) WritePost(ctx context.Context, body string) error {
	p, err := c.Submit(ctx, "/", "/", url.Values{"post": {body}})
	if err != nil {
		return err
	}
	return p.expect("posting", "/")
}

// Follow makes the logged-in user follow username.
func (c *Client) Follow(ctx context.Context, username string) error {
	p, err := c.Submit(ctx, "/user/"+url.PathEscape(username), "/follow/"+url.PathEscape(username), nil)
	if err != nil {
		return err
	}
	return p.expect("following "+username, "/user/"+username)
}

// Unfollow makes the logged-in user stop following username.
func (c *Client) Unfollow(ctx context.Context, username string) error {
	p, err := c.Submit(ctx, "/user/"+url.PathEscape(username), "/unfollow/"+url.PathEscape(username), nil)
	if err != nil {
		return err
	}
	return p.expect("unfollowing "+username, "/user/"+username)
}

// expect checks that the action ended with 200 at path.
func (p Page) expect(doing, path string) error {
	if p.Status == http.StatusOK && p.URL.Path == path {
		return nil
	}
	msg := strings.Join(Messages(p.Body), "; ")
	if msg == "" {
		msg = "no message"
	}
	return fmt.Errorf("webclient: %s: %w: status %d at %s: %s", doing, ErrRefused, p.Status, p.URL.Path, msg)
}

var (
	csrfPattern    = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	messagePattern = regexp.MustCompile(`<p class="(?:error|flash)"[^>]*>([^<]*)</p>`)
	postPattern    = regexp.MustCompile(`(?s)<p class="body">(.*?)</p>`)
)

// CSRFToken returns the CSRF token of the first form in page.
func CSRFToken(page string) (string, error) {
	m := csrfPattern.FindStringSubmatch(page)
	if m == nil {
		return "", errors.New("no csrf_token field in the page")
	}
	return html.UnescapeString(m[1]), nil
}

// Messages returns the flash messages and form errors shown on page.
func Messages(page string) []string {
	var out []string
	for _, m := range messagePattern.FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// Posts returns the bodies of the posts listed on page, in page order.
func Posts(page string) []string {
	var out []string
	for _, m := range postPattern.FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

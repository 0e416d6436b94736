package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fasthttp/websocket"
)

// login is what `kaj login` keeps: where kaj is and an API token.
type login struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// loginPath is the file `kaj login` writes: credentials.json in the
// user's config folder (~/.config/kaj on Linux), mode 0600.
func loginPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding your config folder: %w", err)
	}
	return filepath.Join(dir, "kaj", "credentials.json"), nil
}

func saveLogin(l login) (string, error) {
	p, err := loginPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", filepath.Dir(p), err)
	}
	b, _ := json.MarshalIndent(l, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", tmp, err)
	}
	return p, os.Rename(tmp, p)
}

// errNotLoggedIn is what every client command says without a login.
var errNotLoggedIn = errors.New("not logged in: run 'kaj login URL', or set KAJ_URL and KAJ_TOKEN")

// loadLogin finds the login: KAJ_URL and KAJ_TOKEN when both are set
// (scripts, CI), else the file kaj login wrote.
func loadLogin() (login, error) {
	if u, t := os.Getenv("KAJ_URL"), os.Getenv("KAJ_TOKEN"); u != "" || t != "" {
		if u == "" || t == "" {
			return login{}, errors.New("set both KAJ_URL and KAJ_TOKEN, or neither")
		}
		return login{URL: strings.TrimRight(u, "/"), Token: t}, nil
	}
	p, err := loginPath()
	if err != nil {
		return login{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return login{}, errNotLoggedIn
	}
	if err != nil {
		return login{}, fmt.Errorf("reading %s: %w", p, err)
	}
	var l login
	if err := json.Unmarshal(b, &l); err != nil || l.URL == "" || l.Token == "" {
		return login{}, fmt.Errorf("%s is damaged; run 'kaj login URL' again", p)
	}
	return l, nil
}

// client speaks kaj's API with a token.
type client struct {
	base  string
	token string
	// csrf goes with a password login's session cookie.
	csrf string
	http *http.Client
}

func newClient() (*client, error) {
	l, err := loadLogin()
	if err != nil {
		return nil, err
	}
	return &client{base: l.URL, token: l.Token, http: defaultHTTP()}, nil
}

// defaultHTTP has no overall timeout: an upload or a followed job takes
// as long as it takes, and Ctrl-C ends it through the context.
func defaultHTTP() *http.Client { return &http.Client{} }

func newJar() http.CookieJar {
	jar, _ := cookiejar.New(nil)
	return jar
}

// apiError is an error answer from kaj.
type apiError struct {
	Status int
	Msg    string `json:"error"`
	Detail string `json:"detail"`
	Field  string `json:"field"`
}

func (e *apiError) Error() string {
	s := e.Msg
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Status == http.StatusUnauthorized {
		s += " (run 'kaj login' again: the token may have been revoked)"
	}
	return s
}

// do sends a request; body is JSON-encoded unless it is an io.Reader.
// A 2xx answer is decoded into out (when not nil).
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd, ctype = b, "application/x-tar"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reaching kaj at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading kaj's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		e := &apiError{Status: resp.StatusCode}
		if json.Unmarshal(raw, e) != nil || e.Msg == "" {
			e.Msg = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
		}
		return e
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decoding kaj's answer to %s %s: %w", method, path, err)
		}
	}
	return nil
}

// dial opens one of kaj's websockets with the token.
func (c *client) dial(ctx context.Context, path string) (*websocket.Conn, error) {
	u, err := url.Parse(c.base)
	if err != nil {
		return nil, err
	}
	scheme := "ws"
	if u.Scheme == "https" {
		scheme = "wss"
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+c.token)
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	conn, resp, err := d.DialContext(ctx, scheme+"://"+u.Host+u.Path+path, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("opening %s: %s", path, resp.Status)
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	// Closing the connection when ctx ends unblocks the reader on Ctrl-C.
	go func() { <-ctx.Done(); conn.Close() }()
	return conn, nil
}

// prompt asks a question on stderr and reads one line from stdin.
func prompt(stdin io.Reader, stderr io.Writer, q string) (string, error) {
	fmt.Fprint(stderr, q)
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading your answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// isTTY reports whether w is a terminal: colours and progress bars only
// then.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// style colours text on a terminal and leaves it plain elsewhere.
type style struct{ on bool }

func (s style) c(code, text string) string {
	if !s.on {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}
func (s style) red(t string) string   { return s.c("31", t) }
func (s style) green(t string) string { return s.c("32", t) }
func (s style) dim(t string) string   { return s.c("2", t) }
func (s style) bold(t string) string  { return s.c("1", t) }

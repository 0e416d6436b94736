package server

import (
	"errors"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/store"
)

const (
	// sessionCookie names the session cookie over plain HTTP, and
	// secureSessionCookie over HTTPS: the __Host- prefix makes the
	// browser refuse it unless it is Secure, has Path=/ and no Domain,
	// so no other host (a sibling subdomain, an app) can set or
	// overwrite it.
	sessionCookie       = "kaj_session"
	secureSessionCookie = "__Host-kaj_session"
	csrfHeader          = "X-CSRF-Token"
	localUser           = "user"
	localSession        = "session"
)

// identity is who a request acts as.
type identity struct {
	User    string
	Role    auth.Role
	Session *store.Session // nil for API tokens
	// token is the session's cookie value, to record a confirmation.
	token string
}

func actor(c *fiber.Ctx) string {
	if id, ok := c.Locals(localUser).(identity); ok {
		return id.User
	}
	return ""
}

var errUnauthenticated = &apiError{Code: fiber.StatusUnauthorized, Msg: "log in first: send the session cookie, or an API token as 'Authorization: Bearer kaj_...'"}

// requireAuth admits a request with a valid session cookie or API token.
// Cookie-authenticated requests that change state must also carry the
// session's CSRF token, in the X-CSRF-Token header or a _csrf field of a
// form body: a cookie is sent by the browser on any site's behalf, the
// token is not. Never from the URL's query, which ends up in logs,
// history and Referer headers.
func (s *Server) requireAuth(c *fiber.Ctx) error {
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return errUnauthenticated
		}
		var tok store.Token
		err := s.opts.Store.View(func(tx *store.Tx) (err error) { tok, err = tx.TokenFor(token); return err })
		if errors.Is(err, store.ErrNotFound) {
			return &apiError{Code: fiber.StatusUnauthorized, Msg: "unknown or revoked API token"}
		}
		if err != nil {
			return err
		}
		// Record use at most once a minute: a write per request would
		// make every API call an fsync.
		if tok.LastUsedAt == nil || time.Since(*tok.LastUsedAt) > time.Minute {
			err := s.opts.Store.Update(func(tx *store.Tx) error { return tx.TouchToken(tok) })
			if errors.Is(err, store.ErrNotFound) { // revoked a moment ago
				return &apiError{Code: fiber.StatusUnauthorized, Msg: "unknown or revoked API token"}
			}
			if err != nil {
				s.log.Warn("recording token use", "err", err)
			}
		}
		role, err := s.userRole(tok.User)
		if err != nil {
			return err
		}
		c.Locals(localUser, identity{User: tok.User, Role: role})
		return c.Next()
	}
	cookie := s.sessionToken(c)
	if cookie == "" {
		return errUnauthenticated
	}
	var sess store.Session
	err := s.opts.Store.View(func(tx *store.Tx) (err error) { sess, err = tx.Session(cookie); return err })
	if errors.Is(err, store.ErrNotFound) {
		s.clearCookie(c)
		return &apiError{Code: fiber.StatusUnauthorized, Msg: "your session has ended; log in again"}
	}
	if err != nil {
		return err
	}
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
	default:
		if !auth.SameSecret(csrfToken(c), sess.CSRF) {
			return &apiError{Code: fiber.StatusForbidden, Msg: "missing or wrong CSRF token: send the X-CSRF-Token header from /api/v1/auth/me"}
		}
	}
	role, err := s.userRole(sess.User)
	if err != nil {
		return err
	}
	c.Locals(localUser, identity{User: sess.User, Role: role, Session: &sess, token: cookie})
	return c.Next()
}

// csrfToken is the CSRF token a request carries: the header, else the
// _csrf field of a form body (URL-encoded or multipart), never the query.
func csrfToken(c *fiber.Ctx) string {
	if t := c.Get(csrfHeader); t != "" {
		return t
	}
	req := c.Request()
	ctype := string(req.Header.ContentType())
	switch {
	case strings.HasPrefix(ctype, fiber.MIMEApplicationForm):
		return string(req.PostArgs().Peek("_csrf"))
	case strings.HasPrefix(ctype, fiber.MIMEMultipartForm):
		if f, err := req.MultipartForm(); err == nil {
			if v := f.Value["_csrf"]; len(v) > 0 {
				return v[0]
			}
		}
	}
	return ""
}

// userRole is the role of a logged-in user, read on every request so a
// change (or a disable) takes effect at once.
func (s *Server) userRole(name string) (auth.Role, error) {
	var u store.User
	err := s.opts.Store.View(func(tx *store.Tx) (err error) { u, err = tx.User(name); return err })
	if errors.Is(err, store.ErrNotFound) {
		return "", &apiError{Code: fiber.StatusUnauthorized, Msg: "your user was removed; ask an admin"}
	}
	if err != nil {
		return "", err
	}
	if u.Disabled {
		return "", &apiError{Code: fiber.StatusUnauthorized, Msg: auth.ErrDisabled.Error()}
	}
	return auth.Role(u.Role), nil
}

// checkOrigin refuses a websocket upgrade from another site. Browsers send
// cookies with cross-site websocket requests and apply no CORS to them,
// so the Origin header is the only guard.
func (s *Server) checkOrigin(c *fiber.Ctx) error {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		// Not a browser: scripts authenticate with a token or cookie
		// they hold themselves.
		return c.Next()
	}
	u, err := url.Parse(origin)
	if err == nil {
		// The Host header itself, not Hostname(), which would believe an
		// X-Forwarded-Host from anyone.
		if u.Host == string(c.Request().Host()) {
			return c.Next()
		}
		for _, allowed := range s.opts.AllowedOrigins {
			if strings.EqualFold(strings.TrimRight(allowed, "/"), origin) {
				return c.Next()
			}
		}
	}
	return &apiError{Code: fiber.StatusForbidden, Msg: "websocket origin " + origin + " is not allowed; set server.public_url to the address you open kaj at"}
}

// overTLS says whether the browser reached kaj over HTTPS: the
// connection is TLS, a trusted proxy says so in X-Forwarded-Proto, or
// auth.secure_cookies declares it. Without trusted proxies Fiber would
// believe anyone's X-Forwarded-Proto, so it is read only behind them.
func (s *Server) overTLS(c *fiber.Ctx) bool {
	if s.opts.SecureCookies || c.Context().IsTLS() {
		return true
	}
	return len(s.opts.TrustedProxies) > 0 && c.IsProxyTrusted() && c.Protocol() == "https"
}

// cookieName is the session cookie's name for this request's scheme.
func (s *Server) cookieName(c *fiber.Ctx) string {
	if s.overTLS(c) {
		return secureSessionCookie
	}
	return sessionCookie
}

// sessionToken is the session cookie's value; "" without one.
func (s *Server) sessionToken(c *fiber.Ctx) string { return c.Cookies(s.cookieName(c)) }

// setSessionCookie gives the browser its session. The cookie is
// host-only (no Domain), so the browser never sends it to another host
// name, such as an app's <app>.localhost or its domains; HttpOnly, so no
// script reads it; SameSite=Strict, so no other site's page makes the
// browser send it. Browsers do not separate cookies by port, which is
// why apps are never linked on the dashboard's own host.
func (s *Server) setSessionCookie(c *fiber.Ctx, token string, expires time.Time) {
	secure := s.overTLS(c)
	c.Cookie(&fiber.Cookie{
		Name: s.cookieName(c), Value: token, Path: "/", Expires: expires,
		HTTPOnly: true, Secure: secure, SameSite: fiber.CookieSameSiteStrictMode,
	})
}

func (s *Server) clearCookie(c *fiber.Ctx) {
	s.setSessionCookie(c, "", time.Unix(1, 0))
}

// toLogin answers a page request without a session. A link followed
// from another site (a chat, a notification e-mail) arrives without the
// SameSite=Strict cookie even when the browser has one; a page that
// reloads itself turns that into a navigation from kaj's own origin,
// which carries it. Only when that one still has none does the browser
// go to the login.
func (s *Server) toLogin(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodGet && c.Get("Sec-Fetch-Site") == "cross-site" {
		here := html.EscapeString(safeNext(c.OriginalURL()))
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.SendString(`<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=` + here +
			`"><link rel="icon" href="data:,"><title>kaj</title><p>Opening kaj… <a href="` + here + `">continue</a></p>`)
	}
	return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
}

// loginLimiter slows password guessing: ten attempts a minute per client
// address. One limiter guards every place a password is typed (the API's
// login, the login form, the confirmation of a sensitive action), so
// they share one budget.
func loginLimiter() fiber.Handler {
	return limiter.New(limiter.Config{
		Max:        10,
		Expiration: time.Minute,
		LimitReached: func(c *fiber.Ctx) error {
			return &apiError{Code: fiber.StatusTooManyRequests, Msg: "too many login attempts from your address; wait a minute"}
		},
	})
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type meResponse struct {
	User      string    `json:"user"`
	Role      string    `json:"role,omitempty"`
	CSRFToken string    `json:"csrf_token,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// ConfirmedUntil is when sensitive actions will ask for the password
	// again; zero for API tokens, which cannot do them.
	ConfirmedUntil time.Time `json:"confirmed_until,omitzero"`
}

func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	u, err := auth.Check(s.opts.Store, req.Username, req.Password)
	if err != nil {
		s.audit("anonymous", store.ActionLoginFail, req.Username, c.IP())
		return err
	}
	token, sess, err := auth.NewSession(s.opts.Store, u.Name, s.opts.SessionTTL, s.now())
	if err != nil {
		return err
	}
	s.audit(u.Name, store.ActionLogin, u.Name, c.IP())
	s.setSessionCookie(c, token, sess.ExpiresAt)
	return c.JSON(s.meOf(u.Name, auth.Role(u.Role), &sess))
}

// meOf describes a user and their session (nil for an API token).
func (s *Server) meOf(user string, role auth.Role, sess *store.Session) meResponse {
	out := meResponse{User: user, Role: string(role)}
	if sess != nil {
		out.CSRFToken, out.ExpiresAt = sess.CSRF, sess.ExpiresAt
		if ok, until := auth.Confirmed(*sess, s.opts.ConfirmWindow, s.now()); ok {
			out.ConfirmedUntil = until
		}
	}
	return out
}

func (s *Server) logout(c *fiber.Ctx) error {
	if cookie := s.sessionToken(c); cookie != "" {
		if err := s.opts.Store.Update(func(tx *store.Tx) error { return tx.DeleteSession(cookie) }); err != nil {
			return err
		}
	}
	s.clearCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) me(c *fiber.Ctx) error {
	id := c.Locals(localUser).(identity)
	return c.JSON(s.meOf(id.User, id.Role, id.Session))
}

// confirmPath is where a session confirms its password; the refusal of a
// sensitive action names it.
const confirmPath = "/api/v1/session/confirm"

// confirmed admits a sensitive action — creating an API token, revealing
// a secret, managing users, opening a terminal — only from a session
// whose user typed their password within the confirmation window (at
// login, or at confirmPath). A stolen session cookie alone then does not
// reach them, nor does it outlast a password change. API tokens never
// do these things: a leaked token must not mint more tokens or read the
// secrets it was not given.
func (s *Server) confirmed(c *fiber.Ctx) error {
	if err := s.checkConfirmed(c); err != nil {
		return err
	}
	return c.Next()
}

// checkConfirmed is confirmed for a handler whose sensitive part depends
// on the request (a reveal asked for in the query).
func (s *Server) checkConfirmed(c *fiber.Ctx) error {
	id, ok := c.Locals(localUser).(identity)
	if !ok {
		return errUnauthenticated
	}
	if id.Session == nil {
		return &apiError{Code: fiber.StatusForbidden, Reason: "session_required",
			Msg: "API tokens cannot do this (create tokens, reveal secrets, manage users, open terminals): log in with your password instead"}
	}
	if ok, _ := auth.Confirmed(*id.Session, s.opts.ConfirmWindow, s.now()); !ok {
		return &apiError{Code: fiber.StatusForbidden, Reason: "reauth_required",
			Msg: fmt.Sprintf("this needs your password again (asked every %s): POST {\"password\": \"...\"} to %s, then retry", s.opts.ConfirmWindow, confirmPath)}
	}
	return nil
}

type confirmRequest struct {
	Password string `json:"password"`
}

// confirmSession takes the session user's password again and opens the
// window for sensitive actions.
func (s *Server) confirmSession(c *fiber.Ctx) error {
	id := c.Locals(localUser).(identity)
	if id.Session == nil {
		return &apiError{Code: fiber.StatusBadRequest, Reason: "session_required", Msg: "only a logged-in session confirms a password; API tokens cannot"}
	}
	var req confirmRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	sess, err := auth.Confirm(s.opts.Store, id.token, id.User, req.Password, s.now())
	if errors.Is(err, auth.ErrWrongPassword) {
		s.audit(id.User, store.ActionLoginFail, id.User, c.IP()+" (confirming a sensitive action)")
	}
	if errors.Is(err, store.ErrNotFound) {
		return &apiError{Code: fiber.StatusUnauthorized, Msg: "your session has ended; log in again"}
	}
	if err != nil {
		return err
	}
	return c.JSON(s.meOf(id.User, id.Role, &sess))
}

type passwordRequest struct {
	Current string `json:"current"`
	New     string `json:"new"`
	// RevokeTokens also revokes the user's API tokens.
	RevokeTokens bool `json:"revoke_tokens"`
}

type passwordResponse struct {
	meResponse
	// TokensRevoked is how many API tokens the change revoked.
	TokensRevoked int `json:"tokens_revoked"`
}

func (s *Server) changePassword(c *fiber.Ctx) error {
	var req passwordRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	id := c.Locals(localUser).(identity)
	revoked, err := auth.ChangePassword(s.opts.Store, id.User, req.Current, req.New, req.RevokeTokens)
	if err != nil {
		return err
	}
	// Every session ended; give this browser a fresh one (an API token
	// asked: it has no browser to give one to).
	out := passwordResponse{meResponse: meResponse{User: id.User, Role: string(id.Role)}, TokensRevoked: revoked}
	if id.Session != nil {
		token, sess, err := auth.NewSession(s.opts.Store, id.User, s.opts.SessionTTL, s.now())
		if err != nil {
			return err
		}
		s.setSessionCookie(c, token, sess.ExpiresAt)
		out.meResponse = s.meOf(id.User, id.Role, &sess)
	}
	s.forgetInitialPassword(id.User)
	return c.JSON(out)
}

type tokenRequest struct {
	Name string `json:"name"`
}

type tokenResponse struct {
	store.Token
	Hash   string `json:"hash,omitempty"`
	Secret string `json:"token,omitempty"`
}

func (s *Server) listTokens(c *fiber.Ctx) error {
	var toks []store.Token
	if err := s.opts.Store.View(func(tx *store.Tx) (err error) { toks, err = tx.Tokens(); return err }); err != nil {
		return err
	}
	// Admins see and revoke everyone's tokens; others only their own.
	id, _ := c.Locals(localUser).(identity)
	out := make([]tokenResponse, 0, len(toks))
	for _, t := range toks {
		if id.Role.Allows(auth.Admin) || t.User == id.User {
			out = append(out, tokenResponse{Token: t})
		}
	}
	return c.JSON(out)
}

func (s *Server) createToken(c *fiber.Ctx) error {
	var req tokenRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Name) == "" || len(req.Name) > 64 {
		return badRequest("name", "give the token a name of 1-64 characters, e.g. \"ci\"")
	}
	secret, tok, err := auth.NewToken(s.opts.Store, actor(c), req.Name)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(tokenResponse{Token: tok, Secret: secret})
}

func (s *Server) deleteToken(c *fiber.Ctx) error {
	id := c.Params("id")
	who, _ := c.Locals(localUser).(identity)
	err := s.opts.Store.Update(func(tx *store.Tx) error {
		if !who.Role.Allows(auth.Admin) {
			toks, err := tx.Tokens()
			if err != nil {
				return err
			}
			// Another user's token reads as missing: its ID says nothing.
			if i := slices.IndexFunc(toks, func(t store.Token) bool { return t.ID == id }); i < 0 || toks[i].User != who.User {
				return fmt.Errorf("token %s: %w", id, store.ErrNotFound)
			}
		}
		if err := tx.DeleteToken(id); err != nil {
			return err
		}
		_, err := tx.AddEvent(store.Event{Actor: actor(c), Action: store.ActionTokenRevoke, Target: id})
		return err
	})
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type userResponse struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) listUsers(c *fiber.Ctx) error {
	var users []store.User
	if err := s.opts.Store.View(func(tx *store.Tx) (err error) { users, err = tx.Users(); return err }); err != nil {
		return err
	}
	out := make([]userResponse, len(users))
	for i, u := range users {
		out[i] = userResponse{Name: u.Name, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
	}
	return c.JSON(out)
}

type createUserRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	// Role is viewer, deployer or admin; empty means admin, as before
	// roles existed.
	Role string `json:"role"`
}

func (s *Server) createUser(c *fiber.Ctx) error {
	var req createUserRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	role := auth.Admin
	if req.Role != "" {
		r, err := auth.ParseRole(req.Role)
		if err != nil {
			return err
		}
		role = r
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		return err
	}
	var u store.User
	err = s.opts.Store.Update(func(tx *store.Tx) error {
		if _, err := tx.User(req.Name); err == nil {
			return &apiError{Code: fiber.StatusConflict, Msg: "user " + req.Name + " exists", Field: "name"}
		}
		if u, err = tx.PutUser(store.User{Name: req.Name, PasswordHash: hash, Role: string(role)}); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: actor(c), Action: store.ActionUserCreate, Target: req.Name, Detail: "role " + string(role)})
		return err
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(userResponse{Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt})
}

// audit records an event; a failure to record is logged, not fatal.
func (s *Server) audit(who string, action store.Action, target, detail string) {
	if _, err := s.opts.Store.AddEvent(store.Event{Actor: who, Action: action, Target: target, Detail: detail}); err != nil {
		s.log.Warn("recording event", "action", action, "err", err)
	}
}

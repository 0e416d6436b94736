package server

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/store"
)

const (
	sessionCookie = "kaj_session"
	csrfHeader    = "X-CSRF-Token"
	localUser     = "user"
	localSession  = "session"
)

// identity is who a request acts as.
type identity struct {
	User    string
	Role    auth.Role
	Session *store.Session // nil for API tokens
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
// session's CSRF token, in the X-CSRF-Token header or a _csrf form field:
// a cookie is sent by the browser on any site's behalf, the token is not.
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
	cookie := c.Cookies(sessionCookie)
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
		token := c.Get(csrfHeader)
		if token == "" {
			token = c.FormValue("_csrf")
		}
		if !auth.SameSecret(token, sess.CSRF) {
			return &apiError{Code: fiber.StatusForbidden, Msg: "missing or wrong CSRF token: send the X-CSRF-Token header from /api/v1/auth/me"}
		}
	}
	role, err := s.userRole(sess.User)
	if err != nil {
		return err
	}
	c.Locals(localUser, identity{User: sess.User, Role: role, Session: &sess})
	return c.Next()
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

func (s *Server) setSessionCookie(c *fiber.Ctx, token string, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: expires,
		HTTPOnly: true, Secure: s.opts.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

func (s *Server) clearCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/", Expires: time.Unix(1, 0), HTTPOnly: true, Secure: s.opts.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode})
}

// loginLimiter slows password guessing: ten attempts a minute per client
// address.
func loginLimiter() fiber.Handler {
	return limiter.New(limiter.Config{
		Max:        10,
		Expiration: time.Minute,
		LimitReached: func(c *fiber.Ctx) error {
			return &apiError{Code: fiber.StatusTooManyRequests, Msg: "too many login attempts; wait a minute"}
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
	token, sess, err := auth.NewSession(s.opts.Store, u.Name, s.opts.SessionTTL, time.Now())
	if err != nil {
		return err
	}
	s.audit(u.Name, store.ActionLogin, u.Name, c.IP())
	s.setSessionCookie(c, token, sess.ExpiresAt)
	return c.JSON(meResponse{User: u.Name, Role: u.Role, CSRFToken: sess.CSRF, ExpiresAt: sess.ExpiresAt})
}

func (s *Server) logout(c *fiber.Ctx) error {
	if cookie := c.Cookies(sessionCookie); cookie != "" {
		if err := s.opts.Store.Update(func(tx *store.Tx) error { return tx.DeleteSession(cookie) }); err != nil {
			return err
		}
	}
	s.clearCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) me(c *fiber.Ctx) error {
	id := c.Locals(localUser).(identity)
	out := meResponse{User: id.User, Role: string(id.Role)}
	if id.Session != nil {
		out.CSRFToken, out.ExpiresAt = id.Session.CSRF, id.Session.ExpiresAt
	}
	return c.JSON(out)
}

type passwordRequest struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

func (s *Server) changePassword(c *fiber.Ctx) error {
	var req passwordRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	user := actor(c)
	if err := auth.ChangePassword(s.opts.Store, user, req.Current, req.New); err != nil {
		return err
	}
	// Every session ended; give this browser a fresh one.
	token, sess, err := auth.NewSession(s.opts.Store, user, s.opts.SessionTTL, time.Now())
	if err != nil {
		return err
	}
	s.setSessionCookie(c, token, sess.ExpiresAt)
	s.forgetInitialPassword(user)
	return c.JSON(meResponse{User: user, CSRFToken: sess.CSRF, ExpiresAt: sess.ExpiresAt})
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
	out := make([]tokenResponse, len(toks))
	for i, t := range toks {
		out[i] = tokenResponse{Token: t}
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
	err := s.opts.Store.Update(func(tx *store.Tx) error {
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

package server

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/auth"
)

// need admits a request whose user holds role or a greater one. It runs
// after requireAuth, on every API route, websocket and page: the route
// table in routes() and pages() names each route's role, so that table
// is the one place access is decided (and roles_test.go walks it).
func (s *Server) need(role auth.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, ok := c.Locals(localUser).(identity)
		if !ok {
			return errUnauthenticated
		}
		if !id.Role.Allows(role) {
			return &apiError{Code: fiber.StatusForbidden, Msg: "this needs the " + string(role) + " role; you are " + string(id.Role) + " (an admin can change that on the Users page)"}
		}
		return c.Next()
	}
}

// roleOf is the role of the request's user; "" when not logged in.
func roleOf(c *fiber.Ctx) auth.Role {
	if id, ok := c.Locals(localUser).(identity); ok {
		return id.Role
	}
	return ""
}

// forgetInitialPassword deletes the file holding the first admin's
// generated password once it no longer works: it is a secret on disk
// with no use left.
func (s *Server) forgetInitialPassword(user string) {
	if s.opts.DataDir == "" || user != "admin" {
		return
	}
	path := filepath.Join(s.opts.DataDir, "initial-admin-password")
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("deleting the initial admin password file; delete it by hand", "path", path, "err", err)
	}
}

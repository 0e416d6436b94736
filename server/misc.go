package server

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/internal/buildinfo"
)

func (s *Server) version(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"version": buildinfo.Version(), "instance": s.opts.Instance})
}

// recoverer turns a handler's panic into a 500 with the stack in the log,
// so one bad request cannot take kaj down.
func recoverer(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic serving request", "path", c.Path(), "panic", r, "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return c.Next()
	}
}

// securityHeaders keeps kaj's pages out of frames and its answers from
// being sniffed or cached by shared caches.
func securityHeaders(c *fiber.Ctx) error {
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	return c.Next()
}

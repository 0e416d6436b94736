package server

import (
	"crypto/subtle"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// metrics serves Prometheus's /metrics: to a scraper with the metrics
// token, or to anyone logged in (an API token or a session). Unprotected
// scraping belongs on its own loopback or private address (metrics.listen).
func (s *Server) metrics() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if t := s.opts.MetricsToken; t != "" {
			got, _ := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
				return c.Next()
			}
		}
		return s.requireAuth(c)
	}
}

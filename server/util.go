package server

import (
	"bytes"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// wantsHTML is true for a request to a dashboard page rather than to the
// API, an asset or the health check. It goes by path alone: browsers do
// not all send Accept: text/html (a prefetch, a download, a plain curl),
// and every other path is a page.
func wantsHTML(c *fiber.Ctx) bool {
	p := c.Path()
	return !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/static/") && p != "/healthz"
}

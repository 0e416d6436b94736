package server

import (
	"bytes"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// wantsHTML is true for a browser navigating to a page rather than a
// script calling the API.
func wantsHTML(c *fiber.Ctx) bool {
	return !strings.HasPrefix(c.Path(), "/api/") && strings.Contains(c.Get(fiber.HeaderAccept), "text/html")
}

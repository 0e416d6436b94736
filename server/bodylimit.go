package server

import (
	"bytes"
	"fmt"
	"io"

	"github.com/gofiber/fiber/v2"
)

// bodyLimit bounds every request body but a dump upload's. The server
// streams request bodies (fiber.Config.StreamRequestBody) so that an
// upload of a dump need not sit in memory; every other route reads its
// body into memory as before, up to this, and a bigger one is refused
// with 413 before a handler sees it.
const bodyLimit = 4 << 20

// limitBody reads a streamed body into memory, refusing one over
// bodyLimit. Routes that stream their body themselves skip it.
func limitBody(streaming func(c *fiber.Ctx) bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		req := c.Request()
		if !req.IsBodyStream() {
			return c.Next()
		}
		// A streamed body that a handler leaves unread (a refused login,
		// a refused size) must not be read as the next request on the
		// connection: the connection closes after the answer.
		c.Context().SetConnectionClose()
		if streaming(c) {
			return c.Next()
		}
		b, err := io.ReadAll(io.LimitReader(req.BodyStream(), bodyLimit+1))
		if err != nil {
			return badRequest("", "reading the request body: %v", err)
		}
		if len(b) > bodyLimit {
			return &apiError{Code: fiber.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("the request body is over %d MiB", bodyLimit>>20)}
		}
		req.SetBody(b)
		return c.Next()
	}
}

// bodyReader is the request's body as a stream: the streamed one, or
// the one already in memory.
func bodyReader(c *fiber.Ctx) io.Reader {
	if req := c.Request(); req.IsBodyStream() {
		return req.BodyStream()
	}
	return bytes.NewReader(c.Body())
}

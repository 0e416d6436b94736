package server

import (
	"bytes"
	"errors"
	"io"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/apps"
)

// The build routes: build from the app's repository, build an uploaded
// context, and the forge's push webhook. The rules (which branch builds,
// what a signature is) live in apps.

// buildApp builds the app from its git repository and deploys it.
func (s *Server) buildApp(c *fiber.Ctx) error {
	j, err := s.opts.Apps.StartBuild(s.ctx, actor(c), c.Params("name"))
	if err != nil {
		return err
	}
	return jobAnswer(c, j)
}

// uploadApp takes a tar build context as the request body (streamed to
// disk, never held in memory) and builds and deploys it. ?dockerfile=
// names the Dockerfile inside the context for this build.
func (s *Server) uploadApp(c *fiber.Ctx) error {
	var body io.Reader = bytes.NewReader(c.Body())
	if c.Request().IsBodyStream() {
		body = c.Context().RequestBodyStream()
	}
	j, err := s.opts.Apps.StartUpload(s.ctx, actor(c), c.Params("name"), body, c.Query("dockerfile"))
	if err != nil {
		return err
	}
	return jobAnswer(c, j)
}

type webhookView struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// revealWebhook shows the app's webhook URL and secret, for the forge's
// settings; the reveal is recorded.
func (s *Server) revealWebhook(c *fiber.Ctx) error {
	secret, err := s.opts.Apps.RevealWebhookSecret(actor(c), c.Params("name"), c.IP())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(webhookView{URL: c.BaseURL() + apps.WebhookPath(c.Params("name")), Secret: secret})
}

// webhook takes a forge's push delivery. It sits outside the login and
// CSRF checks: the signature over the body is its authentication.
// 202 means a build started or the delivery was valid and ignored (the
// body says why); 401 a bad or missing signature; 409 a replayed
// delivery or a busy app; 404 an app without a repository.
func (s *Server) webhook(c *fiber.Ctx) error {
	res, err := s.opts.Apps.Webhook(s.ctx, c.Params("name"), apps.WebhookRequest{Header: func(n string) string { return c.Get(n) }, Body: c.Body()})
	switch {
	case errors.Is(err, apps.ErrWebhookSignature):
		return &apiError{Code: fiber.StatusUnauthorized, Msg: "bad webhook signature", Err: err}
	case errors.Is(err, apps.ErrWebhookReplay):
		return &apiError{Code: fiber.StatusConflict, Msg: "replayed delivery", Err: err}
	case err != nil:
		return err
	}
	out := fiber.Map{"action": res.Action, "forge": res.Forge}
	if res.Reason != "" {
		out["reason"] = res.Reason
	}
	if res.Ref != "" {
		out["ref"], out["commit"] = res.Ref, res.Commit
	}
	if res.Job != nil {
		out["job"] = res.Job.ID
	}
	if res.Action == "pong" {
		return c.JSON(out)
	}
	return c.Status(fiber.StatusAccepted).JSON(out)
}

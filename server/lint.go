package server

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/dockerfile"
)

type lintRequest struct {
	Dockerfile string   `json:"dockerfile"`
	Ignore     []string `json:"ignore"`
	// Threshold overrides the configured one: error, warning, info,
	// style or none.
	Threshold string `json:"threshold"`
}

type lintResponse struct {
	Findings []dockerfile.Finding `json:"findings"`
	// Failed is true when a finding is at or above the threshold, as
	// kaj lint's exit status 1.
	Failed bool `json:"failed"`
}

type parseErrorBody struct {
	errorBody
	Line int `json:"line"`
}

func (s *Server) lint(c *fiber.Ctx) error {
	var req lintRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	opts := s.opts.Lint
	opts.Ignore = append(append([]string(nil), opts.Ignore...), req.Ignore...)
	if req.Threshold != "" {
		sev, err := dockerfile.ParseSeverity(req.Threshold)
		if err != nil {
			return &apiError{Code: fiber.StatusUnprocessableEntity, Msg: "invalid threshold", Field: "threshold", Err: err}
		}
		opts.Threshold = sev
	}
	if err := opts.Validate(); err != nil {
		return &apiError{Code: fiber.StatusUnprocessableEntity, Msg: "invalid lint options", Field: "ignore", Err: err}
	}
	findings, err := dockerfile.Lint([]byte(req.Dockerfile), opts)
	var pe *dockerfile.ParseError
	if errors.As(err, &pe) {
		return c.Status(fiber.StatusUnprocessableEntity).JSON(parseErrorBody{
			errorBody: errorBody{Error: "the Dockerfile does not parse", Detail: pe.Error(), Field: "dockerfile"},
			Line:      pe.Line,
		})
	}
	if err != nil {
		return err
	}
	if findings == nil {
		findings = []dockerfile.Finding{}
	}
	return c.JSON(lintResponse{Findings: findings, Failed: len(findings) > 0})
}

func (s *Server) lintRules(c *fiber.Ctx) error { return c.JSON(dockerfile.Rules()) }

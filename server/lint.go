package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/dockerfile"
)

// The linter's time, memory and answer grow with its input: a 3.9 MB
// Dockerfile once gave a 40 MB answer, and six at once took kaj to a
// gigabyte. Real Dockerfiles are a few KiB, so the bounds are generous
// for them and tight for abuse.
const (
	// maxLintInput is the largest Dockerfile the API lints.
	maxLintInput = 256 << 10
	// maxFindings is the most findings one answer lists; Omitted counts
	// the rest.
	maxFindings = 500
	// maxFindingMessage bounds one finding's message, which may quote
	// the instruction it is about.
	maxFindingMessage = 1 << 10
)

// lintWait is how long a lint waits for a free slot before it is refused
// with 429.
var lintWait = 3 * time.Second

// lintSlots bounds the lints running at once. It is per process, not per
// Server: what it protects is the machine's CPU and memory.
var lintSlots = make(chan struct{}, 2)

type lintRequest struct {
	Dockerfile string   `json:"dockerfile"`
	Ignore     []string `json:"ignore"`
	// Threshold overrides the configured one: error, warning, info,
	// style or none.
	Threshold string `json:"threshold"`
}

type lintResponse struct {
	Findings []dockerfile.Finding `json:"findings"`
	// Omitted counts the findings beyond the first maxFindings, not
	// listed.
	Omitted int `json:"omitted,omitempty"`
	// Failed is true when a finding is at or above the threshold, as
	// kaj lint's exit status 1.
	Failed bool `json:"failed"`
}

type parseErrorBody struct {
	errorBody
	Line int `json:"line"`
}

func (s *Server) lint(c *fiber.Ctx) error {
	if n := len(c.Body()); n > 2*maxLintInput+64<<10 { // JSON escapes at most double a typical text
		return lintTooLarge(n)
	}
	var req lintRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if n := len(req.Dockerfile); n > maxLintInput {
		return lintTooLarge(n)
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
	release, err := lintSlot(c.UserContext())
	if err != nil {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(lintWait/time.Second)))
		return &apiError{Code: fiber.StatusTooManyRequests, Msg: fmt.Sprintf("%d lints are running; try again in a few seconds", cap(lintSlots))}
	}
	findings, err := func() ([]dockerfile.Finding, error) {
		// Released even when the linter panics: a slot lost is a lint
		// refused until kaj restarts.
		defer release()
		return dockerfile.Lint([]byte(req.Dockerfile), opts)
	}()
	var pe *dockerfile.ParseError
	if errors.As(err, &pe) {
		return c.Status(fiber.StatusUnprocessableEntity).JSON(parseErrorBody{
			errorBody: errorBody{Error: "the Dockerfile does not parse", Detail: clip(pe.Error(), maxFindingMessage), Field: "dockerfile"},
			Line:      pe.Line,
		})
	}
	if err != nil {
		return err
	}
	out := lintResponse{Findings: findings, Failed: len(findings) > 0}
	if len(findings) > maxFindings {
		out.Findings, out.Omitted = findings[:maxFindings], len(findings)-maxFindings
	}
	if out.Findings == nil {
		out.Findings = []dockerfile.Finding{}
	}
	for i := range out.Findings {
		out.Findings[i].Message = clip(out.Findings[i].Message, maxFindingMessage)
	}
	return c.JSON(out)
}

func lintTooLarge(n int) error {
	return &apiError{Code: fiber.StatusRequestEntityTooLarge, Field: "dockerfile",
		Msg: fmt.Sprintf("the Dockerfile is %d KiB; kaj lints Dockerfiles up to %d KiB", n>>10, maxLintInput>>10)}
}

// lintSlot waits up to lintWait for one of lintSlots.
func lintSlot(ctx context.Context) (func(), error) {
	t := time.NewTimer(lintWait)
	defer t.Stop()
	select {
	case lintSlots <- struct{}{}:
		return func() { <-lintSlots }, nil
	case <-t.C:
		return nil, errors.New("no lint slot free")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// clip cuts s to at most n bytes, on a rune boundary, and says so.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "… (cut)"
}

func (s *Server) lintRules(c *fiber.Ctx) error { return c.JSON(dockerfile.Rules()) }

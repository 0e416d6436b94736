package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/kajhq/kaj/apps"
	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/deploy"
	"github.com/kajhq/kaj/registry"
	"github.com/kajhq/kaj/runtime"
	"github.com/kajhq/kaj/store"
)

// apiError is an error with the answer the client gets. Msg is safe to
// show; Err, when set, is logged.
type apiError struct {
	Code  int
	Msg   string
	Field string
	// Reason is a stable word for clients to act on, sent as "code":
	// e.g. reauth_required, on which the dashboard asks for the password.
	Reason string
	Err    error
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *apiError) Unwrap() error { return e.Err }

func badRequest(field, format string, args ...any) error {
	return &apiError{Code: fiber.StatusBadRequest, Msg: fmt.Sprintf(format, args...), Field: field}
}

// errorBody is every error answer's shape.
type errorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
	Code   string `json:"code,omitempty"`
}

// classify maps an error from any layer to a status and a body. Matching
// is by errors.Is/As on the packages' sentinels, never by text.
func classify(err error) (int, errorBody) {
	var ae *apiError
	if errors.As(err, &ae) {
		b := errorBody{Error: ae.Msg, Field: ae.Field, Code: ae.Reason}
		if ae.Err != nil && ae.Code < 500 {
			b.Detail = ae.Err.Error()
		}
		return ae.Code, b
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fe.Code, errorBody{Error: fe.Message}
	}
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return fiber.StatusUnprocessableEntity, errorBody{Error: "invalid " + ve.Field, Detail: ve.Error(), Field: ve.Field}
	}
	var rve *runtime.ValidationError
	if errors.As(err, &rve) {
		return fiber.StatusUnprocessableEntity, errorBody{Error: "invalid input", Detail: rve.Error()}
	}
	detail := err.Error()
	switch {
	case errors.Is(err, auth.ErrBadLogin), errors.Is(err, auth.ErrDisabled):
		return fiber.StatusUnauthorized, errorBody{Error: err.Error()}
	case errors.Is(err, auth.ErrLastAdmin), errors.Is(err, auth.ErrSelf):
		return fiber.StatusConflict, errorBody{Error: err.Error()}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, runtime.ErrNotFound), errors.Is(err, registry.ErrLocalImageNotFound):
		return fiber.StatusNotFound, errorBody{Error: "not found", Detail: detail}
	case errors.Is(err, deploy.ErrBusy):
		return fiber.StatusConflict, errorBody{Error: "busy", Detail: detail}
	case errors.Is(err, store.ErrConflict), errors.Is(err, runtime.ErrConflict):
		return fiber.StatusConflict, errorBody{Error: "conflict", Detail: detail}
	case errors.Is(err, registry.ErrInvalidReference):
		return fiber.StatusUnprocessableEntity, errorBody{Error: "invalid image reference", Detail: detail, Field: "image"}
	case errors.Is(err, runtime.ErrImageMissing):
		return fiber.StatusUnprocessableEntity, errorBody{Error: "image not found", Detail: detail + "; build or pull it first", Field: "image"}
	case errors.Is(err, registry.ErrBadCredentials), errors.Is(err, registry.ErrAuthRequired), errors.Is(err, registry.ErrDenied):
		return fiber.StatusBadGateway, errorBody{Error: "the registry refused the credentials", Detail: detail + "; check the registry's user and password under Registries"}
	case errors.Is(err, registry.ErrUnknownRepository), errors.Is(err, registry.ErrUnknownTag):
		return fiber.StatusNotFound, errorBody{Error: "not in the registry", Detail: detail}
	case errors.Is(err, registry.ErrRateLimited):
		return fiber.StatusServiceUnavailable, errorBody{Error: "the registry is rate limiting", Detail: detail}
	case errors.Is(err, registry.ErrTLS), errors.Is(err, registry.ErrDNS), errors.Is(err, registry.ErrUnavailable), errors.Is(err, registry.ErrPlainHTTP):
		return fiber.StatusBadGateway, errorBody{Error: "cannot reach the registry", Detail: detail}
	case errors.Is(err, deploy.ErrNotReady):
		return fiber.StatusServiceUnavailable, errorBody{Error: "kaj is still starting", Detail: detail}
	case errors.Is(err, runtime.ErrEngineTimeout):
		return fiber.StatusGatewayTimeout, errorBody{Error: "the Docker Engine is not answering", Detail: detail + "; kaj gave up and dropped the request, so it will not run later: check dockerd, then try again"}
	case errors.Is(err, runtime.ErrEngineUnreachable), errors.Is(err, registry.ErrEngineUnreachable):
		return fiber.StatusServiceUnavailable, errorBody{Error: "the Docker Engine is unreachable", Detail: detail + "; is dockerd running?"}
	case errors.Is(err, apps.ErrNoBuilder):
		return fiber.StatusNotImplemented, errorBody{Error: "building from source is off", Detail: detail}
	case errors.Is(err, apps.ErrBackupsOff):
		return fiber.StatusConflict, errorBody{Error: "backups are off", Detail: detail}
	case errors.Is(err, apps.ErrNoRouter):
		return fiber.StatusConflict, errorBody{Error: "the router is off", Detail: detail}
	case errors.Is(err, store.ErrSealed):
		return fiber.StatusInternalServerError, errorBody{Error: "a stored secret cannot be decrypted: is kaj using the right key file?"}
	}
	return fiber.StatusInternalServerError, errorBody{Error: "internal error", Detail: "see kaj's log"}
}

// handleError is the one place errors become HTTP answers.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	code, body := classify(err)
	if errors.Is(err, context.Canceled) {
		// The client left; nothing failed that an operator must see.
		s.log.Debug("request canceled", "method", c.Method(), "path", c.Path(), "err", err)
	} else if code >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", code, "err", err)
	}
	var rl *registry.Error
	if errors.As(err, &rl) && rl.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(rl.RetryAfter/time.Second)))
	}
	if wantsHTML(c) {
		if code == fiber.StatusUnauthorized {
			return s.toLogin(c)
		}
		return s.htmlError(c, code, body)
	}
	return c.Status(code).JSON(body)
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors that name what is wrong.
func decode(c *fiber.Ctx, v any) error {
	dec := json.NewDecoder(bytesReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return badRequest(te.Field, "field %q must be %s, not %s", te.Field, te.Type, te.Value)
		case errors.As(err, &se):
			return badRequest("", "malformed JSON at byte %d: %v", se.Offset, err)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return badRequest("", "malformed JSON: the body is empty or ends early")
		default:
			return badRequest("", "reading the request body: %v", err)
		}
	}
	if dec.More() {
		return badRequest("", "the request body holds more than one JSON value")
	}
	return nil
}

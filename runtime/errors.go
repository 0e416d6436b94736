package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	mclient "github.com/moby/moby/client"
)

// The errors callers match with errors.Is. Errors from the engine wrap one
// of them and the engine's own error, with a phrase saying what was being
// done.
var (
	// ErrNotFound: the container, network or volume does not exist, or
	// exists but is not kaj's (it lacks the kaj.managed label).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the name is taken by an object kaj may not reuse, or the
	// request collides with the object's current state (a host port held
	// by the container being replaced).
	ErrConflict = errors.New("conflict")
	// ErrEngineUnreachable: no Docker Engine answers at the configured host.
	ErrEngineUnreachable = errors.New("docker engine unreachable")
	// ErrEngineTimeout: the engine took a call but gave no answer within
	// the timeout (a hung engine). The call was abandoned and its
	// connection closed, so the engine never acts on it later.
	ErrEngineTimeout = errors.New("docker engine not answering")
	// ErrImageMissing: the image is not in the engine. The runtime never
	// pulls; the caller pulls first.
	ErrImageMissing = errors.New("image not in the engine")
	// ErrInvalid: bad input. The runtime's own checks return a
	// *ValidationError naming the field; the engine's refusals of a
	// request it finds invalid also match.
	ErrInvalid = errors.New("invalid input")
)

// ValidationError is bad input found before the engine was called.
type ValidationError struct {
	// Field names the input, as the spec's Go field ("AppSpec.Port") or
	// the argument ("app").
	Field string
	// Value is the offending value, quoted in the message; empty for
	// secrets.
	Value string
	// Reason says what is wrong and what would be right.
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

// Is makes a *ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, value, reason string) error {
	if len(value) > 80 {
		value = value[:77] + "..."
	}
	return &ValidationError{Field: field, Value: value, Reason: reason}
}

// engineError translates err from the engine into the package's sentinels,
// keeping the engine's message, and says what was being done.
func engineError(doing string, err error) error {
	var kind error
	switch {
	case errors.Is(err, ErrEngineTimeout):
		// The client's wrapping ("error during connect: Get ...") says
		// nothing the timeout's own message does not.
		var te *TimeoutError
		if errors.As(err, &te) {
			return fmt.Errorf("%s: %w", doing, te)
		}
		return fmt.Errorf("%s: %w", doing, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", doing, err)
	case mclient.IsErrConnectionFailed(err):
		kind = ErrEngineUnreachable
	case cerrdefs.IsNotFound(err):
		kind = ErrNotFound
	case cerrdefs.IsConflict(err), cerrdefs.IsAlreadyExists(err):
		kind = ErrConflict
	case cerrdefs.IsInvalidArgument(err):
		kind = ErrInvalid
	default:
		return fmt.Errorf("%s: %w", doing, err)
	}
	return fmt.Errorf("%s: %w: %w", doing, kind, err)
}

// WaitError says why a container did not become ready or healthy: it
// exited, turned unhealthy, or the deadline passed first.
type WaitError struct {
	// Name is the container's name.
	Name string
	// Reason is the short cause ("exited with code 3", "timed out after
	// 1m0s").
	Reason string
	// Exited is set when the container stopped (or was restarted after
	// stopping) during the wait; ExitCode is then its exit code, or -1
	// when the engine restarted it before kaj saw the code.
	Exited   bool
	ExitCode int
	// Logs are the container's last log lines, oldest first.
	Logs []string
	// Err is the last probe's failure or the context's error, if any.
	Err error
	// Hint is what the logs suggest is wrong, when they do (an app that
	// listens on another port); empty otherwise.
	Hint string
}

func (e *WaitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s not ready: %s", e.Name, e.Reason)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, "; %s", e.Hint)
	}
	if len(e.Logs) > 0 {
		b.WriteString("; last log lines:")
		for _, l := range e.Logs {
			b.WriteString("\n  ")
			b.WriteString(l)
		}
	}
	return b.String()
}

func (e *WaitError) Unwrap() error { return e.Err }

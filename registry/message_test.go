package registry

import (
	"errors"
	"strings"
	"testing"
)

// TestError_namesTheHostOnce: a registry error names its host once, not
// again in the advice and in the inner request's URL.
func TestError_namesTheHostOnce(t *testing.T) {
	for _, kind := range []error{ErrBadCredentials, ErrAuthRequired, ErrDenied} {
		e := &Error{Kind: kind, Registry: "r.example.com:5000", User: "u",
			Err: errors.New(`GET https://r.example.com:5000/v2/token?scope=x: UNAUTHORIZED: authentication required`)}
		if n := strings.Count(e.Error(), "r.example.com"); n != 1 {
			t.Errorf("%v: %q names the host %d times", kind, e.Error(), n)
		}
		if !strings.Contains(e.Error(), "authentication required") {
			t.Errorf("%v: %q lost the registry's own words", kind, e.Error())
		}
	}
}

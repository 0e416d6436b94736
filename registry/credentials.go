package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestCredentials checks username and password against the registry at
// host, the way docker login does: it authenticates and asks the
// registry's API root. A rejection is ErrBadCredentials naming the
// registry; an unreachable registry gives ErrDNS, ErrTLS, ErrUnavailable
// and the like.
func (c *Client) TestCredentials(ctx context.Context, host, username, password string) error {
	h, err := NormalizeHost(host)
	if err != nil {
		return err
	}
	if username == "" {
		return fmt.Errorf("testing credentials for %s: the username is empty", h)
	}
	if err := c.testCredentials(ctx, h, username, password); err != nil {
		return fmt.Errorf("testing credentials for %s: %w", h, err)
	}
	return nil
}

func (c *Client) testCredentials(ctx context.Context, host, username, password string) error {
	reg, err := c.registryName(host)
	if err != nil {
		return fmt.Errorf("%w: registry %q: %s", ErrInvalidReference, host, reason(err))
	}
	tr, err := transport.NewWithContext(ctx, reg, &authn.Basic{Username: username, Password: password}, c.retrying(), nil)
	if err != nil {
		return classify(host, username, err)
	}
	// The transport switches to http when the ping found a plain-HTTP
	// registry that may be used.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return classify(host, username, err)
	}
	defer resp.Body.Close()
	defer io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return classify(host, username, transport.CheckError(resp, http.StatusOK))
}

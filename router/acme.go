package router

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// acmeState obtains and renews certificates for the routes' domains with
// certmagic, and remembers each domain's state for CertStatus.
type acmeState struct {
	r       *Router
	cache   *certmagic.Cache
	cfg     *certmagic.Config
	issuer  *certmagic.ACMEIssuer
	onEvent func(context.Context, string, CertState)

	// life bounds certmagic's background work (obtaining, renewing):
	// from New to Close, like the cache it feeds, not any one call.
	life context.Context
	stop context.CancelFunc

	mu      sync.Mutex
	managed map[string]bool
	states  map[string]CertState // last event per domain
}

func newACME(r *Router, o TLSOptions) (*acmeState, error) {
	if o.StorageDir == "" {
		return nil, errors.New("router TLS: StorageDir is required: certificates and the ACME account are kept there")
	}
	if o.CA == "" {
		o.CA = LetsEncryptProduction
	}
	logger := zap.New(newSlogCore(r.log.With("component", "certmagic").Handler()))
	a := &acmeState{r: r, onEvent: o.OnEvent, managed: map[string]bool{}, states: map[string]CertState{}}
	a.life, a.stop = context.WithCancel(context.Background())
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return a.cfg, nil },
		Logger:           logger,
	})
	a.cfg = certmagic.New(a.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: o.StorageDir},
		OnEvent: a.event,
		Logger:  logger,
	})
	a.issuer = certmagic.NewACMEIssuer(a.cfg, certmagic.ACMEIssuer{
		// TestCA is left to certmagic: with Let's Encrypt production,
		// retries after a failure are rehearsed against staging first
		// (its certificates are never served), sparing the production
		// rate limits; with any other CA there is no rehearsal.
		CA:                      o.CA,
		Email:                   o.Email,
		Agreed:                  true,
		TrustedRoots:            o.CARoots,
		AltHTTPPort:             o.AltHTTPPort,
		AltTLSALPNPort:          o.AltTLSALPNPort,
		DisableHTTPChallenge:    o.DisableHTTPChallenge,
		DisableTLSALPNChallenge: o.DisableTLSALPNChallenge,
		Logger:                  logger,
	})
	a.cfg.Issuers = []certmagic.Issuer{a.issuer}
	return a, nil
}

// manage starts certificate management for the table's exact public
// domains and stops it for those no route names anymore. Names under
// localhost and other private suffixes, and wildcards (which need
// DNS-01), are left out.
func (a *acmeState) manage(t *table) {
	want := map[string]bool{}
	for _, ar := range t.apps {
		for _, d := range ar.hosts {
			if !strings.HasPrefix(d.Host, "*.") && certmagic.SubjectQualifiesForPublicCert(d.Host) {
				want[d.Host] = true
			}
		}
	}
	a.mu.Lock()
	var add []string
	var drop []certmagic.SubjectIssuer
	for n := range want {
		if !a.managed[n] {
			add = append(add, n)
			a.managed[n] = true
			a.states[n] = CertState{State: CertPending, Source: SourceACME}
		}
	}
	for n := range a.managed {
		if !want[n] {
			drop = append(drop, certmagic.SubjectIssuer{Subject: n})
			delete(a.managed, n)
			delete(a.states, n)
		}
	}
	a.mu.Unlock()
	if len(drop) > 0 {
		a.cache.RemoveManaged(drop)
	}
	if len(add) > 0 {
		if err := a.cfg.ManageAsync(a.life, add); err != nil {
			a.r.log.Error("managing certificates", "domains", add, "err", err)
		}
	}
}

// event turns certmagic's events into domain states.
func (a *acmeState) event(ctx context.Context, name string, data map[string]any) error {
	var hosts []string
	var st CertState
	switch name {
	case "cert_obtaining":
		st = CertState{State: CertPending}
	case "cert_obtained", "cached_managed_cert":
		st = CertState{State: CertValid}
	case "cert_failed":
		st = CertState{State: CertError}
		if err, ok := data["error"].(error); ok {
			st.LastError = err.Error()
		}
	default:
		return nil
	}
	if id, ok := data["identifier"].(string); ok {
		hosts = append(hosts, id)
	}
	if sans, ok := data["sans"].([]string); ok {
		hosts = append(hosts, sans...)
	}
	for _, h := range hosts {
		h = strings.ToLower(h)
		a.mu.Lock()
		prev, managed := a.states[h]
		if managed {
			if st.State == CertPending && prev.State == CertError {
				st.LastError = prev.LastError // keep why the last try failed
			}
			a.states[h] = st
		}
		a.mu.Unlock()
		if st.State == CertError {
			a.r.log.Warn("certificate failed", "domain", h, "err", st.LastError)
		} else {
			a.r.log.Info("certificate "+st.State, "domain", h)
		}
		if managed && a.onEvent != nil {
			a.onEvent(ctx, h, a.state(h))
		}
	}
	return nil
}

// status combines the last event with the certificate in the cache.
func (a *acmeState) status(host string) CertState {
	st := a.state(host)
	if st.State == CertValid && st.NotAfter.IsZero() {
		// Obtained, and not yet in the cache the handshakes read: it
		// serves nothing yet.
		st.State = CertPending
	}
	return st
}

// state is status as the last event left it: an event about a
// certificate just obtained says valid before the cache holds it.
func (a *acmeState) state(host string) CertState {
	a.mu.Lock()
	st, managed := a.states[host]
	a.mu.Unlock()
	if !managed {
		if !certmagic.SubjectQualifiesForPublicCert(host) {
			return CertState{State: CertNone, LastError: fmt.Sprintf("%s is not a public name; ACME cannot issue for it", host)}
		}
		return CertState{State: CertNone}
	}
	st.Source = SourceACME
	for _, c := range a.cache.AllMatchingCertificates(host) {
		if c.Leaf == nil || c.Leaf.NotAfter.Before(st.NotAfter) {
			continue
		}
		st.NotAfter, st.Issuer = c.Leaf.NotAfter, issuerName(c.Leaf)
		if st.State != CertError || a.r.now().Before(c.Leaf.NotAfter) {
			st.State = CertValid // a failed renewal leaves the old one serving; LastError says why
		}
	}
	return st
}

func (a *acmeState) handleHTTPChallenge(w http.ResponseWriter, req *http.Request) bool {
	return a.issuer.HandleHTTPChallenge(w, req)
}

// close stops obtaining and renewing.
func (a *acmeState) close() {
	a.stop()
	a.cache.Stop()
}

// Close stops the router's background work (certificate renewals). It
// does not stop Serve; end Serve's context for that.
func (r *Router) Close() error {
	if r.acme != nil {
		r.acme.close()
	}
	return nil
}

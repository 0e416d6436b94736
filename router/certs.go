package router

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"time"
)

// CertState is what kaj may show about a host's certificate. It never
// holds keys.
type CertState struct {
	// State is "none" (no certificate and none coming), "pending" (being
	// obtained), "valid" or "error" (obtaining failed, or the uploaded
	// certificate expired).
	State     string
	NotAfter  time.Time // zero unless a certificate is held
	Issuer    string    // the issuer's common name or organization
	LastError string    // why the last attempt failed, or why none is made
	Source    string    // "acme", "uploaded", or empty
}

// Certificate states and sources.
const (
	CertNone    = "none"
	CertPending = "pending"
	CertValid   = "valid"
	CertError   = "error"

	SourceACME     = "acme"
	SourceUploaded = "uploaded"
)

// certStore holds uploaded certificates by the names they cover.
type certStore struct {
	mu     sync.RWMutex
	byName map[string]*uploadedCert // exact names and "*.example.com"
}

type uploadedCert struct {
	tls  *tls.Certificate
	leaf *x509.Certificate
}

func newCertStore() *certStore {
	return &certStore{byName: make(map[string]*uploadedCert)}
}

// get finds the uploaded certificate for a server name: exact, then a
// wildcard one label up.
func (s *certStore) get(name string) *uploadedCert {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c := s.byName[name]; c != nil {
		return c
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		return s.byName["*"+name[i:]]
	}
	return nil
}

// AddCertificate serves an uploaded certificate (PEM chain, leaf first,
// and its PEM private key) for the DNS names it covers, in place of any
// ACME certificate for those names. It returns the names. It fails with
// ErrInvalidCertificate when the pair does not parse or match, or the
// certificate names no host; an expired certificate is accepted (and
// reported by CertStatus) so that a renewal can replace it in place.
func (r *Router) AddCertificate(certPEM, keyPEM []byte) ([]string, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading certificate: %v: %w", err, ErrInvalidCertificate)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parsing certificate: %v: %w", err, ErrInvalidCertificate)
		}
	}
	var names []string
	for _, n := range leaf.DNSNames {
		n = strings.ToLower(n)
		if _, err := normalizeHost(n); err == nil {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("certificate names no DNS host (subject alternative names): %w", ErrInvalidCertificate)
	}
	c := &uploadedCert{tls: &pair, leaf: leaf}
	r.certs.mu.Lock()
	for _, n := range names {
		r.certs.byName[n] = c
	}
	r.certs.mu.Unlock()
	r.log.Info("certificate uploaded", "names", names, "not_after", leaf.NotAfter)
	return names, nil
}

// RemoveCertificate stops serving uploaded certificates for names; ACME
// takes over for those it manages.
func (r *Router) RemoveCertificate(names ...string) {
	r.certs.mu.Lock()
	defer r.certs.mu.Unlock()
	for _, n := range names {
		delete(r.certs.byName, strings.ToLower(n))
	}
}

// CertStatus reports the certificate kaj serves, or will serve, for host.
func (r *Router) CertStatus(host string) CertState {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if c := r.certs.get(host); c != nil {
		st := CertState{State: CertValid, NotAfter: c.leaf.NotAfter, Issuer: issuerName(c.leaf), Source: SourceUploaded}
		if r.now().After(c.leaf.NotAfter) {
			st.State, st.LastError = CertError, "the uploaded certificate has expired; upload a renewed one"
		}
		return st
	}
	if strings.HasPrefix(host, "*.") {
		return CertState{State: CertNone, LastError: "wildcard domains need the DNS-01 challenge, which kaj does not do; upload a certificate for " + host}
	}
	if r.acme == nil {
		return CertState{State: CertNone}
	}
	return r.acme.status(host)
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	if len(c.Issuer.Organization) > 0 {
		return c.Issuer.Organization[0]
	}
	return c.Issuer.String()
}

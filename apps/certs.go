package apps

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kajhq/kaj/router"
	"github.com/kajhq/kaj/store"
)

// DomainCert is the state of the certificate of one of an app's domains.
// Keys never appear here.
type DomainCert struct {
	Domain    string    `json:"domain"`
	State     string    `json:"state"` // none, pending, valid or error
	NotAfter  time.Time `json:"not_after,omitzero"`
	Issuer    string    `json:"issuer,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	Source    string    `json:"source,omitempty"` // acme or uploaded
}

// Certs are the certificate states of a's domains.
func (f *FrontDoor) Certs(a store.App) []DomainCert {
	out := make([]DomainCert, 0, len(a.Domains))
	for _, d := range a.Domains {
		host, _, _ := strings.Cut(d, "/")
		st := f.r.CertStatus(host)
		out = append(out, DomainCert{Domain: d, State: st.State, NotAfter: st.NotAfter, Issuer: st.Issuer, LastError: st.LastError, Source: st.Source})
	}
	return out
}

// AddCertificate serves an uploaded certificate.
func (f *FrontDoor) AddCertificate(certPEM, keyPEM []byte) ([]string, error) {
	return f.r.AddCertificate(certPEM, keyPEM)
}

// RemoveCertificate stops serving an uploaded certificate.
func (f *FrontDoor) RemoveCertificate(names ...string) { f.r.RemoveCertificate(names...) }

// LoadCertificates serves the uploaded certificates the store keeps, at
// start; one that no longer loads is reported and the rest still serve.
func (f *FrontDoor) LoadCertificates() error {
	var errs []error
	err := f.st.View(func(tx *store.Tx) error {
		certs, err := tx.Certificates()
		if err != nil {
			return err
		}
		for _, c := range certs {
			key, err := tx.RevealCertificateKey(c.Name)
			if err == nil {
				_, err = f.r.AddCertificate([]byte(c.CertPEM), key)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("certificate %s: %w", c.Name, err))
			}
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}

// CertificateInput is an uploaded certificate: the PEM chain, leaf
// first, and its PEM private key.
type CertificateInput struct {
	CertPEM string `json:"cert_pem"`
	KeyPEM  string `json:"key_pem"`
}

// ErrNoRouter means an operation needs the router, which is off.
var ErrNoRouter = errors.New("the router is off (router.enabled = false); turn it on to serve domains and certificates")

// AddCertificate checks and serves an uploaded certificate, keeps it
// (the key sealed), and records who did it. The key is never shown back.
func (s *Service) AddCertificate(actor string, in CertificateInput) (store.Certificate, error) {
	fd, ok := s.opts.Routes.(*FrontDoor)
	if !ok || fd == nil {
		return store.Certificate{}, ErrNoRouter
	}
	names, err := fd.AddCertificate([]byte(in.CertPEM), []byte(in.KeyPEM))
	if errors.Is(err, router.ErrInvalidCertificate) {
		return store.Certificate{}, &store.ValidationError{Field: "cert_pem", Msg: err.Error() + "; give the PEM certificate chain (leaf first) and its PEM private key"}
	}
	if err != nil {
		return store.Certificate{}, err
	}
	c := store.Certificate{Name: names[0], Names: names, CertPEM: in.CertPEM, CreatedBy: actor}
	if b, _ := pem.Decode([]byte(in.CertPEM)); b != nil {
		if leaf, err := x509.ParseCertificate(b.Bytes); err == nil {
			c.NotAfter, c.Issuer = leaf.NotAfter, leaf.Issuer.CommonName
		}
	}
	err = s.opts.Store.Update(func(tx *store.Tx) error {
		if err := tx.PutCertificate(c, []byte(in.KeyPEM)); err != nil {
			return err
		}
		_, err := tx.AddEvent(store.Event{Actor: actor, Action: store.ActionCertUpload, Target: c.Name, Detail: strings.Join(names, ", ")})
		return err
	})
	if err != nil {
		fd.RemoveCertificate(names...)
		return store.Certificate{}, err
	}
	return c, nil
}

// Certificates lists the uploaded certificates, keys left out.
func (s *Service) Certificates() ([]store.Certificate, error) {
	var out []store.Certificate
	err := s.opts.Store.View(func(tx *store.Tx) (err error) { out, err = tx.Certificates(); return err })
	return out, err
}

// DeleteCertificate stops serving and forgets an uploaded certificate;
// ACME takes over for its names where it can.
func (s *Service) DeleteCertificate(actor, name string) error {
	var c store.Certificate
	err := s.opts.Store.Update(func(tx *store.Tx) (err error) {
		if c, err = tx.DeleteCertificate(name); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: actor, Action: store.ActionCertDelete, Target: name})
		return err
	})
	if err != nil {
		return err
	}
	if fd, ok := s.opts.Routes.(*FrontDoor); ok && fd != nil {
		fd.RemoveCertificate(c.Names...)
	}
	return nil
}

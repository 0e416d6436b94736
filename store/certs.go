package store

import (
	"fmt"
	"time"
)

// Certificate is a TLS certificate an admin uploaded for domains kaj
// serves (bring your own), instead of one obtained through ACME. Its key
// is sealed at rest and never leaves kaj.
type Certificate struct {
	// Name is its first DNS name, its key in the store.
	Name     string    `json:"name"`
	Names    []string  `json:"names"`
	NotAfter time.Time `json:"not_after"`
	Issuer   string    `json:"issuer,omitempty"`
	// CertPEM is the public chain, leaf first.
	CertPEM   string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

type certRecord struct {
	Certificate
	CertPEM   string `json:"cert_pem"`
	SealedKey []byte `json:"sealed_key"`
}

func certContext(name string) string { return "certificate/" + name }

// PutCertificate stores c with its private key (sealed), replacing one of
// the same name.
func (t *Tx) PutCertificate(c Certificate, keyPEM []byte) error {
	if c.Name == "" || len(c.Names) == 0 {
		return invalid("certificate", "names no domain")
	}
	sealed, err := t.s.seal.seal(string(keyPEM), certContext(c.Name))
	if err != nil {
		return err
	}
	c.CreatedAt = t.s.now().UTC()
	return put(t.tx.Bucket(bucketCerts), c.Name, certRecord{Certificate: c, CertPEM: c.CertPEM, SealedKey: sealed})
}

// Certificates lists the uploaded certificates, keys left out.
func (t *Tx) Certificates() ([]Certificate, error) {
	recs, err := list[certRecord](t.tx.Bucket(bucketCerts))
	out := make([]Certificate, len(recs))
	for i, r := range recs {
		out[i] = r.Certificate
		out[i].CertPEM = r.CertPEM
	}
	return out, err
}

// RevealCertificateKey returns an uploaded certificate's private key, for
// the router alone.
func (t *Tx) RevealCertificateKey(name string) ([]byte, error) {
	rec, err := get[certRecord](t.tx.Bucket(bucketCerts), name)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", name, err)
	}
	key, err := t.s.seal.open(rec.SealedKey, certContext(name))
	return []byte(key), err
}

// DeleteCertificate removes an uploaded certificate; ErrNotFound when
// there is none of that name.
func (t *Tx) DeleteCertificate(name string) (Certificate, error) {
	b := t.tx.Bucket(bucketCerts)
	rec, err := get[certRecord](b, name)
	if err != nil {
		return Certificate{}, fmt.Errorf("certificate %q: %w", name, err)
	}
	return rec.Certificate, b.Delete([]byte(name))
}

package store

import (
	"fmt"
	"strings"
	"time"
)

// Credential is a login to one registry host.
type Credential struct {
	// Host is the registry host, with port if any: "index.docker.io",
	// "registry.example.com:5000".
	Host     string `json:"host"`
	Username string `json:"username"`
	// Password is write-only: empty when read back; see
	// Tx.RevealCredential.
	Password  string    `json:"password,omitempty"`
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type credentialRecord struct {
	Credential
	Sealed []byte `json:"sealed"`
}

func credContext(host string) string { return "credential/" + host }

// Validate checks a credential before it is stored.
func (c *Credential) Validate() error {
	if c.Host == "" || strings.ContainsAny(c.Host, "/ @") {
		return invalid("host", "%q is not a registry host: give host[:port], without scheme or path", c.Host)
	}
	if c.Username == "" {
		return invalid("username", "a user name is required")
	}
	return nil
}

// PutCredential creates or replaces the credential for c.Host. On
// replace, c.Version must match (ErrConflict otherwise) and an empty
// password keeps the stored one.
func (t *Tx) PutCredential(c Credential) (Credential, error) {
	if err := c.Validate(); err != nil {
		return Credential{}, err
	}
	b := t.tx.Bucket(bucketCredentials)
	now := t.s.now().UTC()
	old, err := get[credentialRecord](b, c.Host)
	switch {
	case err == nil:
		if old.Version != c.Version {
			return Credential{}, fmt.Errorf("credential %s: %w: it was changed (version %d, yours %d)", c.Host, ErrConflict, old.Version, c.Version)
		}
		c.CreatedAt = old.CreatedAt
	case err == ErrNotFound:
		if c.Password == "" {
			return Credential{}, invalid("password", "a password or token is required")
		}
		c.CreatedAt = now
	default:
		return Credential{}, err
	}
	c.Version++
	c.UpdatedAt = now
	rec := credentialRecord{Credential: c, Sealed: old.Sealed}
	if c.Password != "" {
		if rec.Sealed, err = t.s.seal.seal(c.Password, credContext(c.Host)); err != nil {
			return Credential{}, err
		}
	}
	rec.Password = ""
	return rec.Credential, put(b, c.Host, rec)
}

// Credential reads the credential for host, password empty.
func (t *Tx) Credential(host string) (Credential, error) {
	rec, err := get[credentialRecord](t.tx.Bucket(bucketCredentials), host)
	if err != nil {
		return Credential{}, fmt.Errorf("credential %s: %w", host, err)
	}
	return rec.Credential, nil
}

// RevealCredential returns the credential for host with its password.
func (t *Tx) RevealCredential(host string) (Credential, error) {
	rec, err := get[credentialRecord](t.tx.Bucket(bucketCredentials), host)
	if err != nil {
		return Credential{}, fmt.Errorf("credential %s: %w", host, err)
	}
	c := rec.Credential
	if c.Password, err = t.s.seal.open(rec.Sealed, credContext(host)); err != nil {
		return Credential{}, fmt.Errorf("credential %s: %w", host, err)
	}
	return c, nil
}

// Credentials lists every credential, passwords empty.
func (t *Tx) Credentials() ([]Credential, error) {
	recs, err := list[credentialRecord](t.tx.Bucket(bucketCredentials))
	out := make([]Credential, len(recs))
	for i, r := range recs {
		out[i] = r.Credential
	}
	return out, err
}

// DeleteCredential removes the credential for host.
func (t *Tx) DeleteCredential(host string) error {
	b := t.tx.Bucket(bucketCredentials)
	if b.Get([]byte(host)) == nil {
		return fmt.Errorf("credential %s: %w", host, ErrNotFound)
	}
	return b.Delete([]byte(host))
}

// PutCredential creates or replaces a credential in its own transaction.
func (s *Store) PutCredential(c Credential) (out Credential, err error) {
	err = s.Update(func(t *Tx) error { out, err = t.PutCredential(c); return err })
	return out, err
}

// RevealCredential returns the credential for host with its password.
func (s *Store) RevealCredential(host string) (out Credential, err error) {
	err = s.View(func(t *Tx) error { out, err = t.RevealCredential(host); return err })
	return out, err
}

// Credentials lists every credential, passwords empty.
func (s *Store) Credentials() (out []Credential, err error) {
	err = s.View(func(t *Tx) error { out, err = t.Credentials(); return err })
	return out, err
}

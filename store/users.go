package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"
)

// User is a person who can log in.
type User struct {
	Name string `json:"name"`
	// PasswordHash is a bcrypt hash; the store never sees the password.
	PasswordHash []byte `json:"password_hash"`
	Role         string `json:"role"`
	// Disabled users cannot log in, and their sessions and tokens stop
	// working; they stay in the trail and can be enabled again.
	Disabled  bool      `json:"disabled,omitempty"`
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Session is a dashboard login. It is stored under the hash of its token,
// so the file alone does not let anyone log in.
type Session struct {
	TokenHash string    `json:"token_hash"`
	User      string    `json:"user"`
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// ConfirmedAt is when the user last typed their password in this
	// session (at login, or to confirm a sensitive action); zero in
	// sessions stored before kaj asked for it again.
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
}

// Token is an API token. Only its hash is stored: the token is shown once
// when created.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	User       string     `json:"user"`
	Hash       string     `json:"hash"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// HashToken is how session and API tokens are keyed in the file.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// PutUser creates or replaces a user. On replace u.Version must match.
func (t *Tx) PutUser(u User) (User, error) {
	if !userName.MatchString(u.Name) {
		return User{}, invalid("name", "%q: use 1-64 lowercase letters, digits, '.', '_' or '-'", u.Name)
	}
	if len(u.PasswordHash) == 0 {
		return User{}, invalid("password", "a password is required")
	}
	b := t.tx.Bucket(bucketUsers)
	now := t.s.now().UTC()
	old, err := get[User](b, u.Name)
	switch {
	case err == nil:
		if old.Version != u.Version {
			return User{}, fmt.Errorf("user %s: %w: it was changed", u.Name, ErrConflict)
		}
		u.CreatedAt = old.CreatedAt
	case err == ErrNotFound:
		u.CreatedAt = now
	default:
		return User{}, err
	}
	u.Version++
	u.UpdatedAt = now
	return u, put(b, u.Name, u)
}

// User reads one user.
func (t *Tx) User(name string) (User, error) {
	u, err := get[User](t.tx.Bucket(bucketUsers), name)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	return u, nil
}

// DeleteUser removes a user with their sessions and API tokens.
func (t *Tx) DeleteUser(name string) error {
	if err := t.DeleteUserSessions(name); err != nil {
		return err
	}
	if _, err := t.DeleteUserTokens(name); err != nil {
		return err
	}
	return t.tx.Bucket(bucketUsers).Delete([]byte(name))
}

// Users lists every user.
func (t *Tx) Users() ([]User, error) { return list[User](t.tx.Bucket(bucketUsers)) }

// CreateSession stores a session for token, and forgets expired ones.
func (t *Tx) CreateSession(token string, s Session) (Session, error) {
	if err := t.DeleteUserSessions(""); err != nil {
		return Session{}, err
	}
	s.TokenHash = HashToken(token)
	if s.CreatedAt.IsZero() {
		s.CreatedAt = t.s.now().UTC()
	}
	return s, put(t.tx.Bucket(bucketSessions), s.TokenHash, s)
}

// Session returns the unexpired session for token, or ErrNotFound.
func (t *Tx) Session(token string) (Session, error) {
	s, err := get[Session](t.tx.Bucket(bucketSessions), HashToken(token))
	if err != nil {
		return Session{}, err
	}
	if !t.s.now().Before(s.ExpiresAt) {
		return Session{}, ErrNotFound
	}
	return s, nil
}

// ConfirmSession records that the user of token's session typed their
// password at the given time. An ended session is ErrNotFound.
func (t *Tx) ConfirmSession(token string, at time.Time) (Session, error) {
	s, err := t.Session(token)
	if err != nil {
		return Session{}, err
	}
	s.ConfirmedAt = at.UTC()
	return s, put(t.tx.Bucket(bucketSessions), s.TokenHash, s)
}

// DeleteSession ends the session for token; ending one that does not
// exist is not an error.
func (t *Tx) DeleteSession(token string) error {
	return t.tx.Bucket(bucketSessions).Delete([]byte(HashToken(token)))
}

// DeleteUserSessions ends every session of a user (after a password
// change), and every expired one; user "" ends only the expired ones.
func (t *Tx) DeleteUserSessions(user string) error {
	b := t.tx.Bucket(bucketSessions)
	all, err := list[Session](b)
	if err != nil {
		return err
	}
	for _, s := range all {
		if s.User == user || !t.s.now().Before(s.ExpiresAt) {
			if err := b.Delete([]byte(s.TokenHash)); err != nil {
				return err
			}
		}
	}
	return nil
}

// CreateToken stores an API token. tok.ID must be unique.
func (t *Tx) CreateToken(token string, tok Token) (Token, error) {
	if tok.Name == "" {
		return Token{}, invalid("name", "a token name is required")
	}
	tok.Hash = HashToken(token)
	if tok.CreatedAt.IsZero() {
		tok.CreatedAt = t.s.now().UTC()
	}
	b := t.tx.Bucket(bucketTokens)
	if b.Get([]byte(tok.Hash)) != nil {
		return Token{}, ErrConflict
	}
	return tok, put(b, tok.Hash, tok)
}

// TokenFor returns the API token whose secret is token, or ErrNotFound.
func (t *Tx) TokenFor(token string) (Token, error) {
	return get[Token](t.tx.Bucket(bucketTokens), HashToken(token))
}

// TouchToken records that a token was used now. A token revoked since
// it was read is ErrNotFound, and stays revoked.
func (t *Tx) TouchToken(tok Token) error {
	b := t.tx.Bucket(bucketTokens)
	if b.Get([]byte(tok.Hash)) == nil {
		return fmt.Errorf("token %s: %w", tok.ID, ErrNotFound)
	}
	now := t.s.now().UTC()
	tok.LastUsedAt = &now
	return put(b, tok.Hash, tok)
}

// Tokens lists every API token.
func (t *Tx) Tokens() ([]Token, error) { return list[Token](t.tx.Bucket(bucketTokens)) }

// DeleteUserTokens revokes every API token of user and returns how many
// there were.
func (t *Tx) DeleteUserTokens(user string) (int, error) {
	all, err := t.Tokens()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, tok := range all {
		if tok.User != user {
			continue
		}
		if err := t.tx.Bucket(bucketTokens).Delete([]byte(tok.Hash)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// DeleteToken revokes the token with the given ID.
func (t *Tx) DeleteToken(id string) error {
	all, err := t.Tokens()
	if err != nil {
		return err
	}
	for _, tok := range all {
		if tok.ID == id {
			return t.tx.Bucket(bucketTokens).Delete([]byte(tok.Hash))
		}
	}
	return fmt.Errorf("token %s: %w", id, ErrNotFound)
}

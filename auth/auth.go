// Package auth holds kaj's login rules: password hashing, session and API
// token secrets, and the first administrator.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/kajhq/kaj/store"
)

// MinPasswordLen is the shortest password accepted: long enough that the
// login rate limit makes guessing hopeless.
const MinPasswordLen = 12

// ErrBadLogin is returned for a wrong user name or password; which of the
// two was wrong is not said.
var ErrBadLogin = errors.New("wrong user name or password")

// ErrDisabled is returned for a right password of a disabled user.
var ErrDisabled = errors.New("this user is disabled; ask an admin to enable it")

// TokenPrefix starts every API token, so a leaked one is recognisable
// (secret scanners, logs).
const TokenPrefix = "kaj_"

// HashPassword hashes a new password after checking its length.
func HashPassword(pw string) ([]byte, error) {
	if len(pw) < MinPasswordLen {
		return nil, &store.ValidationError{Field: "password", Msg: fmt.Sprintf("must be at least %d characters", MinPasswordLen)}
	}
	if len(pw) > 72 {
		return nil, &store.ValidationError{Field: "password", Msg: "must be at most 72 bytes"}
	}
	return bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
}

// dummyHash keeps the time of a login for an unknown user the same as for
// a known one, so timing does not reveal which names exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not-a-real-password"), bcrypt.DefaultCost)

// Check returns the user when pw is theirs, else ErrBadLogin.
func Check(st *store.Store, name, pw string) (store.User, error) {
	var u store.User
	err := st.View(func(tx *store.Tx) (err error) { u, err = tx.User(name); return err })
	hash := u.PasswordHash
	if err != nil {
		hash = dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pw)) != nil || err != nil {
		return store.User{}, ErrBadLogin
	}
	if u.Disabled {
		return store.User{}, ErrDisabled
	}
	return u, nil
}

// NewSecret returns a random URL-safe secret of 26 base32 characters
// (130 bits).
func NewSecret() string { return strings.ToLower(rand.Text()) }

// NewSession creates a login session for user and returns its token (the
// cookie value) and the session with its CSRF token. The user has just
// typed their password, so the session starts confirmed.
func NewSession(st *store.Store, user string, ttl time.Duration, now time.Time) (string, store.Session, error) {
	token := NewSecret() + NewSecret()
	var s store.Session
	err := st.Update(func(tx *store.Tx) (err error) {
		s, err = tx.CreateSession(token, store.Session{User: user, CSRF: NewSecret(), CreatedAt: now, ExpiresAt: now.Add(ttl), ConfirmedAt: now})
		return err
	})
	return token, s, err
}

// ErrWrongPassword refuses a confirmation whose password is not the
// session user's.
var ErrWrongPassword = &store.ValidationError{Field: "password", Msg: "the password is wrong"}

// Confirm checks pw against the user of the session token and, when it
// is theirs, records the confirmation at now in the session: sensitive
// actions are allowed for a while after it (see Confirmed). A wrong
// password is ErrWrongPassword; an ended session is store.ErrNotFound.
func Confirm(st *store.Store, token, user, pw string, now time.Time) (store.Session, error) {
	if _, err := Check(st, user, pw); err != nil {
		if errors.Is(err, ErrBadLogin) {
			return store.Session{}, ErrWrongPassword
		}
		return store.Session{}, err
	}
	var s store.Session
	err := st.Update(func(tx *store.Tx) (err error) {
		if s, err = tx.ConfirmSession(token, now); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: user, Action: store.ActionConfirm, Target: user})
		return err
	})
	return s, err
}

// Confirmed says whether the session's password was typed within window
// before now, and until when that holds.
func Confirmed(s store.Session, window time.Duration, now time.Time) (bool, time.Time) {
	if s.ConfirmedAt.IsZero() {
		return false, time.Time{}
	}
	until := s.ConfirmedAt.Add(window)
	return now.Before(until), until
}

// NewToken creates an API token for user; the returned secret is shown
// once and never stored.
func NewToken(st *store.Store, user, name string) (string, store.Token, error) {
	secret := TokenPrefix + NewSecret() + NewSecret()
	var tok store.Token
	err := st.Update(func(tx *store.Tx) (err error) {
		tok, err = tx.CreateToken(secret, store.Token{ID: NewSecret()[:10], Name: name, User: user})
		if err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: user, Action: store.ActionTokenCreate, Target: name})
		return err
	})
	return secret, tok, err
}

// SameSecret compares two secrets in constant time.
func SameSecret(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// EnsureAdmin creates the user "admin" with a random password when no
// user exists yet, and returns that password (empty when users existed).
func EnsureAdmin(st *store.Store) (string, error) {
	var pw string
	err := st.Update(func(tx *store.Tx) error {
		users, err := tx.Users()
		if err != nil || len(users) > 0 {
			return err
		}
		pw = NewSecret()[:20]
		hash, err := HashPassword(pw)
		if err != nil {
			return err
		}
		if _, err := tx.PutUser(store.User{Name: "admin", PasswordHash: hash, Role: "admin"}); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: "kaj", Action: store.ActionUserCreate, Target: "admin", Detail: "first start"})
		return err
	})
	return pw, err
}

// ChangePassword sets a new password after checking the current one, and
// ends every session of the user (the caller gives the browser that
// asked a new one). With revokeTokens their API tokens are revoked too,
// for when the old password may have leaked along with them; it returns
// how many were. The trail records both.
func ChangePassword(st *store.Store, name, current, next string, revokeTokens bool) (int, error) {
	if _, err := Check(st, name, current); err != nil {
		return 0, &store.ValidationError{Field: "current", Msg: "the current password is wrong"}
	}
	hash, err := HashPassword(next)
	if err != nil {
		return 0, err
	}
	revoked := 0
	err = st.Update(func(tx *store.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		if _, err := tx.PutUser(u); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(name); err != nil {
			return err
		}
		detail := "other sessions ended"
		if revokeTokens {
			if revoked, err = tx.DeleteUserTokens(name); err != nil {
				return err
			}
			detail += fmt.Sprintf("; %d API tokens revoked", revoked)
		}
		_, err = tx.AddEvent(store.Event{Actor: name, Action: store.ActionUserPassword, Target: name, Detail: detail})
		return err
	})
	return revoked, err
}

// ResetPassword gives user a new random password, ends their sessions and
// returns the password: the way back in for an operator locked out, who
// has the data directory but no working login. Their API tokens stay;
// revoke them from the dashboard if they may have leaked.
func ResetPassword(st *store.Store, name, by string) (string, error) {
	pw := NewSecret()[:20]
	hash, err := HashPassword(pw)
	if err != nil {
		return "", err
	}
	err = st.Update(func(tx *store.Tx) error {
		u, err := tx.User(name)
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		u.PasswordHash = hash
		if _, err := tx.PutUser(u); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(name); err != nil {
			return err
		}
		_, err = tx.AddEvent(store.Event{Actor: by, Action: store.ActionUserPassword, Target: name, Detail: "reset from the command line"})
		return err
	})
	return pw, err
}

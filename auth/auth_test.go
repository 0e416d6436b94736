package auth

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "kaj.db"), store.Options{Key: bytes.Repeat([]byte{5}, store.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestEnsureAdmin_onceAndChecks(t *testing.T) {
	st := openStore(t)
	pw, err := EnsureAdmin(st)
	if err != nil || len(pw) < MinPasswordLen {
		t.Fatalf("EnsureAdmin = %q, %v", pw, err)
	}
	again, err := EnsureAdmin(st)
	if err != nil || again != "" {
		t.Fatalf("second EnsureAdmin = %q, %v; want nothing created", again, err)
	}
	if _, err := Check(st, "admin", pw); err != nil {
		t.Fatalf("the generated password does not log in: %v", err)
	}
	for _, tc := range []struct{ user, pw string }{{"admin", "wrong"}, {"nobody", pw}, {"admin", ""}} {
		if _, err := Check(st, tc.user, tc.pw); !errors.Is(err, ErrBadLogin) {
			t.Errorf("Check(%q, %q) = %v; want ErrBadLogin", tc.user, tc.pw, err)
		}
	}
}

func TestHashPassword_length(t *testing.T) {
	if _, err := HashPassword("short"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("short password: %v", err)
	}
	if _, err := HashPassword(strings.Repeat("x", 73)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("73-byte password: %v", err)
	}
	if _, err := HashPassword("twelve-chars"); err != nil {
		t.Fatal(err)
	}
}

func TestChangePassword_endsSessions(t *testing.T) {
	st := openStore(t)
	pw, _ := EnsureAdmin(st)
	token, _, err := NewSession(st, "admin", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := ChangePassword(st, "admin", "not-it", "a-new-password-1"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("wrong current password: %v", err)
	}
	if err := ChangePassword(st, "admin", pw, "a-new-password-1"); err != nil {
		t.Fatal(err)
	}
	if err := st.View(func(tx *store.Tx) error { _, err := tx.Session(token); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session survived the password change: %v", err)
	}
	if _, err := Check(st, "admin", pw); !errors.Is(err, ErrBadLogin) {
		t.Fatal("old password still works")
	}
	if _, err := Check(st, "admin", "a-new-password-1"); err != nil {
		t.Fatal(err)
	}
}

func TestNewToken_shownOnce(t *testing.T) {
	st := openStore(t)
	secret, tok, err := NewToken(st, "admin", "ci")
	if err != nil || !strings.HasPrefix(secret, TokenPrefix) || len(secret) < 40 {
		t.Fatalf("NewToken = %q %+v %v", secret, tok, err)
	}
	var got store.Token
	if err := st.View(func(tx *store.Tx) (err error) { got, err = tx.TokenFor(secret); return err }); err != nil || got.ID != tok.ID {
		t.Fatalf("TokenFor = %+v %v", got, err)
	}
	if strings.Contains(got.Hash, secret) {
		t.Fatal("token stored in plain text")
	}
	if !SameSecret("abc", "abc") || SameSecret("abc", "abd") || SameSecret("abc", "abcd") {
		t.Fatal("SameSecret is wrong")
	}
}

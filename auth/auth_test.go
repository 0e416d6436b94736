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
	if _, err := ChangePassword(st, "admin", "not-it", "a-new-password-1", false); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("wrong current password: %v", err)
	}
	secret, _, err := NewToken(st, "admin", "ci")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ChangePassword(st, "admin", pw, "a-new-password-1", false); err != nil || n != 0 {
		t.Fatalf("ChangePassword = %d, %v", n, err)
	}
	if err := st.View(func(tx *store.Tx) error { _, err := tx.TokenFor(secret); return err }); err != nil {
		t.Fatalf("the token went without being asked to: %v", err)
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

	// Asked to, the change also revokes the user's tokens, and says so
	// in the trail.
	if n, err := ChangePassword(st, "admin", "a-new-password-1", "a-new-password-2", true); err != nil || n != 1 {
		t.Fatalf("ChangePassword revoking tokens = %d, %v", n, err)
	}
	if err := st.View(func(tx *store.Tx) error { _, err := tx.TokenFor(secret); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the token survived the change that revoked it: %v", err)
	}
	evs, _ := st.Events(0, 1)
	if len(evs) != 1 || evs[0].Action != store.ActionUserPassword || !strings.Contains(evs[0].Detail, "1 API tokens revoked") {
		t.Fatalf("the trail does not record the revocation: %+v", evs)
	}
}

func TestConfirm_window(t *testing.T) {
	st := openStore(t)
	pw, _ := EnsureAdmin(st)
	t0 := time.Now().UTC()
	token, sess, err := NewSession(st, "admin", time.Hour, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Logging in is typing the password: the window opens with it.
	if ok, until := Confirmed(sess, 5*time.Minute, t0.Add(4*time.Minute)); !ok || !until.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("a fresh login is not confirmed: %v until %v", ok, until)
	}
	if ok, _ := Confirmed(sess, 5*time.Minute, t0.Add(5*time.Minute)); ok {
		t.Fatal("still confirmed when the window has passed")
	}
	if ok, _ := Confirmed(store.Session{}, 5*time.Minute, t0); ok {
		t.Fatal("a session never confirmed counts as confirmed")
	}
	if _, err := Confirm(st, token, "admin", "wrong-password", t0); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("a wrong password confirmed: %v", err)
	}
	got, err := Confirm(st, token, "admin", pw, t0.Add(10*time.Minute))
	if err != nil || !got.ConfirmedAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("Confirm = %+v, %v", got, err)
	}
	if _, err := Confirm(st, "no-such-session", "admin", pw, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("confirming an ended session: %v", err)
	}
}

func TestUsers_noSelfLockout(t *testing.T) {
	st := openStore(t)
	EnsureAdmin(st)
	hash, _ := HashPassword("a-long-password-1")
	st.Update(func(tx *store.Tx) error {
		_, err := tx.PutUser(store.User{Name: "ann", PasswordHash: hash, Role: string(Admin)})
		return err
	})
	yes, viewer := true, Viewer
	// Another admin exists, so only the self rule stands in the way.
	if _, err := UpdateUser(st, "admin", "admin", UserChange{Disabled: &yes}); !errors.Is(err, ErrSelf) {
		t.Fatalf("disabling oneself: %v", err)
	}
	if _, err := UpdateUser(st, "admin", "admin", UserChange{Role: &viewer}); !errors.Is(err, ErrSelf) {
		t.Fatalf("demoting oneself: %v", err)
	}
	if err := DeleteUser(st, "admin", "admin"); !errors.Is(err, ErrSelf) {
		t.Fatalf("removing oneself: %v", err)
	}
	if _, err := UpdateUser(st, "ann", "admin", UserChange{Disabled: &yes}); err != nil {
		t.Fatalf("another admin disabling admin: %v", err)
	}
	// ann is now the last enabled admin: nobody can remove her.
	if err := DeleteUser(st, "admin", "ann"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("removing the last enabled admin: %v", err)
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

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kajhq/kaj/auth"
	"github.com/kajhq/kaj/config"
	"github.com/kajhq/kaj/internal/kajd"
)

// TestAdmin_resetPassword: a locked-out admin gets a new password that
// logs in, the old one stops working, and an unknown user or a data
// directory in use is a clear error.
func TestAdmin_resetPassword(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Data.Dir = dir
	st, err := kajd.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	old, err := auth.EnsureAdmin(st)
	if err != nil {
		t.Fatal(err)
	}
	// While kaj holds the data file, the command says to stop it.
	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"admin", "reset-password", "--data", dir, "admin"}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "stop kaj first") {
		t.Fatalf("with the store open: %v", err)
	}
	st.Close()

	out.Reset()
	if err := run(context.Background(), []string{"admin", "reset-password", "--data", dir, "admin"}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`New password for admin: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output %q names no password", out.String())
	}
	st, err = kajd.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := auth.Check(st, "admin", m[1]); err != nil {
		t.Fatalf("the new password does not log in: %v", err)
	}
	if _, err := auth.Check(st, "admin", old); err == nil {
		t.Fatal("the old password still logs in")
	}
	st.Close()
	err = run(context.Background(), []string{"admin", "reset-password", "--data", dir, "nobody"}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), `no user "nobody"`) {
		t.Fatalf("unknown user: %v", err)
	}
	err = run(context.Background(), []string{"admin", "reset-password", "--data", filepath.Join(dir, "nope"), "admin"}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--data") {
		t.Fatalf("missing data directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("the command created a data directory")
	}
}

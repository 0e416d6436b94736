package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogin_savesToken: kaj login checks the token against the server and
// saves it in the config folder with mode 0600; the client commands find
// it there, and KAJ_URL with KAJ_TOKEN win over it.
func TestLogin_savesToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer kaj_good" {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":"log in first"}`))
			return
		}
		w.Write([]byte(`{"user":"admin"}`))
	}))
	defer srv.Close()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KAJ_URL", "")
	t.Setenv("KAJ_TOKEN", "")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"login", srv.URL, "--token", "kaj_bad"}, strings.NewReader(""), &out, &errOut); err == nil {
		t.Fatal("a refused token was saved")
	}
	if err := run(context.Background(), []string{"login", srv.URL}, strings.NewReader("kaj_good\n"), &out, &errOut); err != nil {
		t.Fatalf("login: %v\n%s", err, errOut.String())
	}
	p, _ := loginPath()
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", p, st.Mode(), err)
	}
	if st, _ := os.Stat(filepath.Dir(p)); st.Mode().Perm() != 0o700 {
		t.Fatalf("config folder mode %v", st.Mode().Perm())
	}
	l, err := loadLogin()
	if err != nil || l.URL != srv.URL || l.Token != "kaj_good" {
		t.Fatalf("loaded %+v %v", l, err)
	}
	t.Setenv("KAJ_URL", "https://ci.example.com/")
	t.Setenv("KAJ_TOKEN", "kaj_ci")
	if l, err := loadLogin(); err != nil || l.URL != "https://ci.example.com" || l.Token != "kaj_ci" {
		t.Fatalf("env login %+v %v", l, err)
	}
	t.Setenv("KAJ_TOKEN", "")
	if _, err := loadLogin(); err == nil {
		t.Fatal("KAJ_URL without KAJ_TOKEN was accepted")
	}
}

func TestDockerfileInContext(t *testing.T) {
	dir := t.TempDir()
	if got, err := dockerfileInContext(dir, filepath.Join(dir, "docker", "Dockerfile_prod")); err != nil || got != "docker/Dockerfile_prod" {
		t.Fatalf("inside: %q %v", got, err)
	}
	if _, err := dockerfileInContext(dir, filepath.Join(filepath.Dir(dir), "Dockerfile")); err == nil {
		t.Fatal("a Dockerfile outside the context was accepted")
	}
}

func TestClientCommands_needLogin(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KAJ_URL", "")
	t.Setenv("KAJ_TOKEN", "")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"apps"}, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "kaj login") {
		t.Fatalf("err = %v", err)
	}
}

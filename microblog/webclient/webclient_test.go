package webclient

import (
	"slices"
	"testing"
)

func TestNew_refuses(t *testing.T) {
	for _, u := range []string{"", "localhost:5000", "ftp://host/", "http://"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := New("http://127.0.0.1:8000/"); err != nil {
		t.Error(err)
	}
}

func TestParsing(t *testing.T) {
	page := `<form><input type="hidden" name="csrf_token" value="abc-_123"></form>
<p class="flash" role="status">You are following bob!</p>
<p class="error">Please use a different username.</p>
<article class="post"><p class="body">first &lt;post&gt;
two lines</p></article>
<article class="post"><p class="body">second</p></article>`
	if tok, err := CSRFToken(page); err != nil || tok != "abc-_123" {
		t.Errorf("CSRFToken = %q, %v", tok, err)
	}
	if _, err := CSRFToken("<p>no form</p>"); err == nil {
		t.Error("found a token in a page without one")
	}
	if got, want := Messages(page), []string{"You are following bob!", "Please use a different username."}; !slices.Equal(got, want) {
		t.Errorf("Messages = %q, want %q", got, want)
	}
	if got, want := Posts(page), []string{"first <post>\ntwo lines", "second"}; !slices.Equal(got, want) {
		t.Errorf("Posts = %q, want %q", got, want)
	}
}

package build

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kajhq/kaj/internal/kajtest"
	"github.com/kajhq/kaj/internal/testutil"
)

// dockerfile builds the testapp binary FROM scratch, copying the whole
// context to /ctx so a test can see what reached the image.
func dockerfile(version string) []byte {
	return []byte("FROM scratch\nCOPY testapp /testapp\nCOPY . /ctx/\nENV VERSION=" + version + "\nEXPOSE 8080\nENTRYPOINT [\"/testapp\"]\n")
}

func testappBinary(t *testing.T) []byte {
	t.Helper()
	bin, err := testutil.TestAppBinary()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// appRepo pushes a repository whose app/Dockerfile_prod builds testapp,
// with app/.dockerignore keeping app/secret.txt out.
func appRepo(t *testing.T, g *testutil.GitServer, name string) (*testutil.GitRepo, string) {
	t.Helper()
	r := g.Repo(name)
	commit := r.Commit("main", "first", map[string][]byte{
		"README.md":           []byte("the repository's root is not the context\n"),
		"app/testapp":         testappBinary(t),
		"app/VERSION":         []byte("v1\n"),
		"app/secret.txt":      []byte("must stay out of the image\n"),
		"app/.dockerignore":   []byte("secret.txt\n"),
		"app/Dockerfile_prod": dockerfile("v1"),
	}, "app/testapp")
	return r, commit
}

type appView struct {
	URL  string `json:"url"`
	Live *struct {
		Number uint64 `json:"number"`
		Build  *struct {
			Commit   string   `json:"commit"`
			Cached   int      `json:"cached"`
			ImageID  string   `json:"image_id"`
			Findings []string `json:"findings"`
		} `json:"build"`
	} `json:"live"`
	Last *struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Build  *struct {
			Findings []string `json:"findings"`
		} `json:"build"`
	} `json:"last"`
	Source *struct {
		Repo             string `json:"repo"`
		HasWebhookSecret bool   `json:"has_webhook_secret"`
		WebhookSecret    string `json:"webhook_secret"`
	} `json:"source"`
}

func startJob(t *testing.T, c *kajtest.Client, path string) string {
	t.Helper()
	var job struct {
		Job string `json:"job"`
	}
	if code := c.JSON("POST", path, nil, &job); code != http.StatusAccepted {
		t.Fatalf("POST %s: status %d", path, code)
	}
	return job.Job
}

func messages(events []map[string]any) string {
	var b strings.Builder
	for _, e := range events {
		if m, ok := e["message"].(string); ok && m != "" {
			b.WriteString(m + "\n")
		}
	}
	return b.String()
}

// hook posts a webhook delivery with the given headers and returns the
// status and decoded body.
func hook(t *testing.T, base, app string, body []byte, headers map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/hooks/"+app, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func pushPayload(ref, after string) []byte {
	b, _ := json.Marshal(map[string]any{"ref": ref, "after": after, "repository": map[string]any{"name": "web"}})
	return b
}

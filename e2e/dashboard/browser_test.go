package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/kajhq/kaj/internal/testutil"
)

// browser is one headless chromium tab for a test.
type browser struct {
	ctx  context.Context
	t    *testing.T
	base string
	mu   sync.Mutex
	// problems are the page's uncaught exceptions, console errors and
	// browser-reported errors (a refused script, a CSP violation): each
	// fails the test at its end.
	problems []string
	// expected are substrings of problems a test causes on purpose.
	expected []string
}

// chromiumPath finds Debian's chromium, skipping the test without it
// (failing it under KAJ_REQUIRE_DOCKER=1, as CI installs it).
func chromiumPath(t *testing.T) string {
	if p, ok := findChromium(); ok {
		return p
	}
	msg := "no chromium found; install it with: apt-get install -y chromium"
	if testutil.RequireDocker() {
		t.Fatal(msg + " [KAJ_REQUIRE_DOCKER=1]")
	}
	t.Skip(msg)
	return ""
}

func findChromium() (string, bool) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// newBrowser starts chromium headless for the test at a desktop size; it
// is stopped when the test ends.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1360, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, base: base}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b.ctx = ctx
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1360, 900)); err != nil {
		t.Fatalf("starting chromium (%s): %v", path, err)
	}
	t.Cleanup(b.checkProblems)
	return b
}

func (b *browser) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *cdpruntime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *cdpruntime.EventConsoleAPICalled:
		if ev.Type != cdpruntime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, string(a.Value)+a.Description)
		}
		msg = "console.error: " + strings.Join(parts, " ")
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level != cdplog.EntryLevelError {
			return
		}
		msg = "browser error: " + ev.Entry.Text + " " + ev.Entry.URL
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, msg)
	b.mu.Unlock()
}

// expect tolerates a browser error containing s: one the test provokes.
func (b *browser) expect(s string) {
	b.mu.Lock()
	b.expected = append(b.expected, s)
	b.mu.Unlock()
}

func (b *browser) checkProblems() {
	b.mu.Lock()
	defer b.mu.Unlock()
outer:
	for _, p := range b.problems {
		for _, e := range b.expected {
			if strings.Contains(p, e) {
				continue outer
			}
		}
		b.t.Errorf("the page reported: %s", p)
	}
}

// do runs actions, failing the test with what was being done.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	b.screenshot("failure-" + strings.NewReplacer(" ", "-", "/", "-").Replace(what))
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	b.t.Fatalf("%s (at %s): %v", what, loc, err)
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do("opening "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluating "+expr, err)
	}
	return v
}

// waitFor polls a JavaScript expression until it is truthy. It keeps
// polling across page loads, which end a single evaluation.
func (b *browser) waitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	probe := `(() => { try { return !!(` + expr + `); } catch (e) { return false; } })()`
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](probe))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			if lastErr == nil {
				lastErr = fmt.Errorf("still false after %v: %s", timeout, expr)
			}
			b.fail("waiting for "+what, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// typeInto replaces an input's value by typing, so the page sees the
// input events a user makes.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	clear := `(() => { const e = document.querySelector(` + js(sel) + `); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })()`
	actions := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Evaluate[chromedp.Void](clear)}
	if text != "" {
		actions = append(actions, chromedp.SendKeys(chromedp.CSS(sel), text))
	}
	b.do("typing into "+sel, actions...)
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("clicking "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

func (b *browser) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// screenshotDir is where screenshots go: $KAJ_SCREENSHOTS, or
// screenshots/ at the repository root.
func screenshotDir() (string, error) {
	if d := os.Getenv("KAJ_SCREENSHOTS"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module github.com/kajhq/kaj\n")) {
			return filepath.Join(dir, "screenshots"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kaj's go.mod not found above the working directory")
		}
		dir = parent
	}
}

// screenshot writes the whole page as name.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir, err := screenshotDir()
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	// Let transitions and fonts settle, so the picture shows the page as a
	// person sees it.
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`), chromedp.Sleep(300*time.Millisecond))
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.t.Logf("screenshot: %s", p)
}

// js quotes a Go string for a JavaScript expression.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("%s: %w", what, err))
	}
}

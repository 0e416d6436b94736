// Package dashboard tests kaj's web dashboard end to end: Debian's
// chromium, driven headless through the DevTools protocol (chromedp),
// against a whole kaj on 127.0.0.1 with the real Docker Engine. The tests
// log in, deploy a template with one click, watch logs live, push an
// image to a registry, and write screenshots of the main pages to the
// directory named by KAJ_SCREENSHOTS (default: screenshots/ at the
// repository root).
package dashboard

package dashboard

import (
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"
)

func (r *Renderer) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": r.AssetURL,
		"icon":  r.icon,
		"ago":   func(t time.Time) string { return Ago(r.now(), t) },
		"agoPtr": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return Ago(r.now(), *t)
		},
		"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"when":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"took":       Took,
		"bytes":      Bytes,
		"short":      ShortDigest,
		"shortID":    func(id string) string { return cut(id, 12) },
		"badge":      BadgeClass,
		"plural":     Plural,
		"dict":       dict,
		"join":       strings.Join,
		"split":      strings.Split,
		"list":       func(s ...string) []string { return s },
		"hasPrefix":  strings.HasPrefix,
		"add":        func(a, b int) int { return a + b },
		"errSummary": ErrorSummary,
		"trimURL": func(u string) string {
			return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
		},
	}
}

// icon is an inline reference into the SVG sprite. Icons are decoration:
// the text or aria-label next to them carries the meaning.
func (r *Renderer) icon(name string) template.HTML {
	return template.HTML(`<svg class="icon" aria-hidden="true" focusable="false"><use href="` +
		template.HTMLEscapeString(r.AssetURL("icons.svg")) + `#` + template.HTMLEscapeString(name) + `"></use></svg>`)
}

// Ago says how long ago t was, in the largest unit: "just now", "5 min
// ago", "3 h ago", "2 days ago"; past a month, the date.
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now" // clocks of the engine and kaj may disagree a little
	case d < 45*time.Second:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", max(1, int(d.Round(time.Minute)/time.Minute)))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	case d < 30*24*time.Hour:
		n := int(d / (24 * time.Hour))
		return Plural(n, "day") + " ago"
	}
	return t.UTC().Format("2 Jan 2006")
}

// Took is the time between start and end, for a release's duration; ""
// while end is unknown.
func Took(start time.Time, end *time.Time) string {
	if end == nil || start.IsZero() {
		return ""
	}
	d := end.Sub(start)
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%dm %02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
}

// Bytes is a size in binary units as docker images shows them.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// ShortDigest shortens "sha256:0123…" to its first 12 hex digits, as
// docker does; other strings come back unchanged.
func ShortDigest(d string) string {
	if _, hexPart, ok := strings.Cut(d, ":"); ok && len(hexPart) > 12 {
		return cut(hexPart, 12)
	}
	return d
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ErrorSummary is the first part of a deploy error, for a one-line view:
// up to the log lines a failed health check carries, or the first line,
// at most 240 bytes. The whole error stays one click away.
func ErrorSummary(err string) string {
	if i := strings.Index(err, "; last log lines"); i >= 0 {
		err = err[:i]
	}
	if i := strings.IndexByte(err, '\n'); i >= 0 {
		err = err[:i]
	}
	if len(err) > 240 {
		err = strings.ToValidUTF8(err[:240], "") + "…"
	}
	return err
}

// Plural writes n with word, adding an s unless n is one.
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// dict builds a map from key/value pairs, to hand several values to a
// sub-template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

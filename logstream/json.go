package logstream

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the line as JSON, byte for byte what encoding/json
// makes of it (its time in UTC). Log streaming is kaj's hottest path and
// encoding/json's reflection costs several times more per line than the
// bytes themselves; a line from a Subscription was encoded once by the
// hub, and this only copies it, adding Skipped.
func (l *Line) AppendJSON(b []byte) []byte {
	if len(l.enc) == 0 {
		return l.appendSkipped(l.appendJSON(b))
	}
	return l.appendSkipped(append(b, l.enc...))
}

// appendSkipped puts the skipped field before the closing brace of the
// line that ends b.
func (l *Line) appendSkipped(b []byte) []byte {
	if l.Skipped == 0 {
		return b
	}
	b = append(b[:len(b)-1], `,"skipped":`...)
	b = strconv.AppendUint(b, l.Skipped, 10)
	return append(b, '}')
}

// appendJSON encodes every field but Skipped.
func (l *Line) appendJSON(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, l.Seq, 10)
	b = append(b, `,"stream":`...)
	b = AppendJSONString(b, l.Stream)
	b = append(b, `,"time":"`...)
	b = l.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","text":`...)
	b = AppendJSONString(b, l.Text)
	if l.Repeats > 0 {
		b = append(b, `,"repeats":`...)
		b = strconv.AppendUint(b, l.Repeats, 10)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string, escaping as encoding/json
// does (control characters, quotes, backslashes, <, >, &, U+2028/9), and
// replacing invalid UTF-8 with U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package server

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kajhq/kaj/logstream"
)

// appendLines encodes a lines message by hand: log streaming is kaj's
// hottest path, and encoding/json's reflection costs several times more
// per line than the bytes themselves. The output is what json.Marshal of
// wsMessage would give, field for field.
func appendLines(b []byte, container string, lines []logstream.Line) []byte {
	b = append(b, `{"type":"lines","container":`...)
	b = appendJSONString(b, container)
	b = append(b, `,"lines":[`...)
	for i, l := range lines {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"seq":`...)
		b = strconv.AppendUint(b, l.Seq, 10)
		b = append(b, `,"stream":`...)
		b = appendJSONString(b, l.Stream)
		b = append(b, `,"time":"`...)
		b = l.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","text":`...)
		b = appendJSONString(b, l.Text)
		if l.Skipped > 0 {
			b = append(b, `,"skipped":`...)
			b = strconv.AppendUint(b, l.Skipped, 10)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does (control characters, quotes, backslashes, <, >, &, U+2028/9), and
// replacing invalid UTF-8 with U+FFFD.
func appendJSONString(b []byte, s string) []byte {
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

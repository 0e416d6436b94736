package server

import (
	"time"

	"github.com/kajhq/kaj/logstream"
)

// appendLines encodes a lines message by hand: log streaming is kaj's
// hottest path. Each line's JSON comes from logstream, which encoded it
// once for all viewers. The output is what json.Marshal of wsMessage
// would give, field for field.
func appendLines(b []byte, container string, lines []logstream.Line) []byte {
	b = append(b, `{"type":"lines","container":`...)
	b = appendJSONString(b, container)
	b = append(b, `,"lines":[`...)
	for i := range lines {
		if i > 0 {
			b = append(b, ',')
		}
		b = lines[i].AppendJSON(b)
	}
	return append(b, "]}"...)
}

// appendSegments encodes a lines message of the hub's shared segments,
// leaving out lines older than since (when set), with skipped put on the
// first line written. It appends nothing when no line is left, and then
// returns skipped for the next message; else zero.
func appendSegments(b []byte, container string, segs [][]logstream.Line, skipped uint64, since time.Time) ([]byte, uint64) {
	start := len(b)
	n := 0
	for _, seg := range segs {
		for i := range seg {
			l := &seg[i]
			if !since.IsZero() && l.Time.Before(since) {
				continue
			}
			if n == 0 {
				b = append(b, `{"type":"lines","container":`...)
				b = appendJSONString(b, container)
				b = append(b, `,"lines":[`...)
			} else {
				b = append(b, ',')
			}
			if n == 0 && skipped > 0 {
				first := *l
				first.Skipped = skipped
				b = first.AppendJSON(b)
				skipped = 0
			} else {
				b = l.AppendJSON(b)
			}
			n++
		}
	}
	if n == 0 {
		return b[:start], skipped
	}
	return append(b, "]}"...), 0
}

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does.
func appendJSONString(b []byte, s string) []byte { return logstream.AppendJSONString(b, s) }

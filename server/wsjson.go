package server

import "github.com/kajhq/kaj/logstream"

// appendLines encodes a lines message by hand: log streaming is kaj's
// hottest path. Each line's JSON comes from logstream, which encoded it
// once for all viewers. The output is what json.Marshal of wsMessage
// would give, field for field.
func appendLines(b []byte, container string, lines []logstream.Line) []byte {
	b = append(b, `{"type":"lines","container":`...)
	b = appendJSONString(b, container)
	b = append(b, `,"lines":[`...)
	for i, l := range lines {
		if i > 0 {
			b = append(b, ',')
		}
		b = l.AppendJSON(b)
	}
	return append(b, "]}"...)
}

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does.
func appendJSONString(b []byte, s string) []byte { return logstream.AppendJSONString(b, s) }

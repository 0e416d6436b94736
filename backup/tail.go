package backup

import (
	"strings"
	"sync"
)

// tailBuffer keeps the last bytes written to it: a client's last error
// lines, however much it prints. Safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

// stderrTail is how much of a tool's error output an error quotes.
const stderrTail = 2 << 10

func newTail() *tailBuffer { return &tailBuffer{max: stderrTail} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

// said is ": <tail>" or "" when the tool printed nothing.
func (t *tailBuffer) said() string {
	if s := t.String(); s != "" {
		return ": " + s
	}
	return ""
}

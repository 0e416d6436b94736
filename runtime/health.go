package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"time"
)

// probeDefault is the health check of an app without a health path: the
// port must accept a TCP connection, and a server that speaks HTTP must
// answer "GET /" with anything below 500. A server that accepts the
// connection but does not speak HTTP (a TCP service) passes on the
// connection alone.
func probeDefault(ctx context.Context, hp netip.AddrPort) error {
	if !hp.IsValid() {
		return errors.New("the container has no address to check and publishes no port: give the app a port")
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", hp.String())
	if err != nil {
		return retryable{fmt.Errorf("nothing accepts connections on port %d: %w", hp.Port(), err)}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+hp.String()+"\r\nUser-Agent: kaj-health\r\nConnection: close\r\n\r\n"); err != nil {
		return retryable{fmt.Errorf("port %d: %w", hp.Port(), err)}
	}
	br := bufio.NewReader(conn)
	if peek, err := br.Peek(5); err != nil || string(peek) != "HTTP/" {
		// Not an HTTP server (or one that closed without a word): the
		// accepted connection is all a TCP service can show.
		return nil
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return retryable{fmt.Errorf("port %d answered with a broken HTTP response: %w", hp.Port(), err)}
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return retryable{fmt.Errorf("GET / on port %d: %s", hp.Port(), resp.Status)}
	}
	return nil
}

// listening finds the port a server says it listens on in its log:
// "Listening on :8080", "listening at http://0.0.0.0:3000",
// "Running on http://127.0.0.1:5000", "bound to [::]:9000".
var listening = regexp.MustCompile(`(?i)(?:listen\w*|running|serving|bound|started)\b[^\n]{0,40}?(?:[\w.\]\[]*:)(\d{2,5})\b`)

// portHint says so when the logs show the app listening on a port other
// than the one kaj asks: the commonest cause of a deploy that never turns
// healthy.
func portHint(logs []string, want int) string {
	for i := len(logs) - 1; i >= 0; i-- {
		m := listening.FindStringSubmatch(logs[i])
		if m == nil {
			continue
		}
		got, err := strconv.Atoi(m[1])
		if err != nil || got == want || got > 65535 {
			return ""
		}
		return fmt.Sprintf("the app's log says it listens on port %d, but the app's port is %d: set the port to %d, or make the app listen on %d", got, want, got, want)
	}
	return ""
}

// stableSince is when a container last started, for the stability window.
func stableSince(started string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, started)
	return t
}

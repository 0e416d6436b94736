package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Backoff is a bounded exponential backoff: the wait before retry n
// (counting from 0) is Initial·Factorⁿ, at most Max.
//
// The zero value waits 10ms, 15ms, 22ms, … growing by half each time up
// to 100ms: readiness probes of a database or an app's health check are
// cheap (an inspect and a connection), and a deploy waits on them, so
// the time between the server becoming ready and the probe noticing is
// kept under 100ms instead of the seconds a coarse cap costs.
type Backoff struct {
	// Initial is the first wait; zero means 10ms. A server that is up a
	// moment after its start should not wait for a coarse first retry.
	Initial time.Duration
	// Max caps every wait; zero means 100ms.
	Max time.Duration
	// Factor is the growth per retry; below 1 means 1.5.
	Factor float64
}

// Delay is the wait before retry n.
func (b Backoff) Delay(n int) time.Duration {
	d, lim, f := b.Initial, b.Max, b.Factor
	if d <= 0 {
		d = 10 * time.Millisecond
	}
	if lim <= 0 {
		lim = 100 * time.Millisecond
	}
	if f < 1 {
		f = 1.5
	}
	for ; n > 0 && d < lim; n-- {
		d = time.Duration(float64(d) * f)
	}
	return min(d, lim)
}

// retryable marks a probe that failed in a way worth retrying.
type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

// poll runs try until it returns nil or a non-retryable error, sleeping
// by b between tries, for as long as ctx lives. It returns the last
// retryable error when ctx ends first.
func poll(ctx context.Context, b Backoff, try func(context.Context) error) error {
	var last error
	for n := 0; ; n++ {
		err := try(ctx)
		if err == nil {
			return nil
		}
		var r retryable
		switch {
		case errors.As(err, &r):
			last = r.error
		case ctx.Err() == nil:
			return err
		}
		// An attempt cut short by the deadline says less than the
		// failure before it.
		if ctx.Err() == nil {
			t := time.NewTimer(b.Delay(n))
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
				continue
			}
		}
		if last == nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), last)
	}
}

// maxGreeting bounds what a probe reads: a real greeting is under 200
// bytes, and a stranger on the port must not make kaj read forever.
const maxGreeting = 64 << 10

// mysqlGreeting reads the first packet a MySQL or MariaDB server sends on
// a new connection and returns the server's version. A server sends a
// protocol 10 handshake when it accepts connections, and an error packet
// when it refuses them (too many connections, host blocked).
func mysqlGreeting(r io.Reader) (string, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", fmt.Errorf("reading mysql packet header: %w", err)
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n == 0 || n > maxGreeting {
		return "", fmt.Errorf("not a mysql greeting: packet of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return "", fmt.Errorf("reading mysql greeting: %w", err)
	}
	switch p[0] {
	case 10:
		// Version string, NUL-terminated, then the connection ID (4
		// bytes) and the first 8 bytes of the auth challenge: a greeting
		// this short is a truncated one.
		end := bytes.IndexByte(p[1:], 0)
		if end < 0 || len(p) < 1+end+1+4+8 {
			return "", errors.New("not a mysql greeting: truncated handshake")
		}
		return string(p[1 : 1+end]), nil
	case 0xff:
		if len(p) < 3 {
			return "", errors.New("mysql server refused the connection")
		}
		code := binary.LittleEndian.Uint16(p[1:3])
		msg := p[3:]
		if len(msg) > 6 && msg[0] == '#' { // SQL state marker and state
			msg = msg[6:]
		}
		return "", fmt.Errorf("mysql server refused the connection: error %d: %s", code, msg)
	}
	return "", fmt.Errorf("not a mysql greeting: protocol version %d", p[0])
}

// postgresStartup sends a startup message for user and reads the server's
// first answer. A server that accepts connections asks for authentication
// ('R') or, trusting the client, completes it; one still starting up, shutting
// down or out of connections answers with an error, returned. The probe
// closes the connection without authenticating, which the server does not
// log as an error.
func postgresStartup(rw io.ReadWriter, user string) error {
	params := "user\x00" + user + "\x00database\x00postgres\x00\x00"
	msg := binary.BigEndian.AppendUint32(nil, uint32(8+len(params)))
	msg = binary.BigEndian.AppendUint32(msg, 3<<16) // protocol 3.0
	msg = append(msg, params...)
	if _, err := rw.Write(msg); err != nil {
		return fmt.Errorf("sending postgres startup: %w", err)
	}
	var hdr [5]byte
	if _, err := io.ReadFull(rw, hdr[:]); err != nil {
		return fmt.Errorf("reading postgres reply: %w", err)
	}
	n := int(binary.BigEndian.Uint32(hdr[1:])) - 4
	if n < 0 || n > maxGreeting {
		return fmt.Errorf("not a postgres reply: message of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rw, body); err != nil {
		return fmt.Errorf("reading postgres reply: %w", err)
	}
	switch hdr[0] {
	case 'R', 'v': // authentication request; protocol version negotiation
		return nil
	case 'E':
		code, text := postgresError(body)
		switch {
		// 57P: the server is starting up, shutting down or recovering;
		// 53: out of connections or memory.
		case len(code) == 5 && (code[:3] == "57P" || code[:2] == "53"):
			return fmt.Errorf("postgres server not accepting connections: %s: %s", code, text)
		}
		// Anything else (unknown role, no pg_hba entry for this host)
		// comes from a server that processes logins.
		return nil
	}
	return fmt.Errorf("not a postgres reply: message type %q", hdr[0])
}

// postgresError extracts the SQLSTATE code ('C') and message ('M') fields
// of an ErrorResponse body.
func postgresError(body []byte) (code, msg string) {
	for len(body) > 1 {
		t := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			break
		}
		v := string(body[1 : 1+end])
		switch t {
		case 'C':
			code = v
		case 'M':
			msg = v
		}
		body = body[end+2:]
	}
	return code, msg
}

// probeDatabase dials addr and reads the greeting of a kind server; for
// MySQL and MariaDB with a user given, it logs in and quits (see
// mysqlLogin).
func probeDatabase(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), kind DatabaseKind, addr, user, password string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if kind == Postgres {
		return postgresStartup(conn, "kaj_probe")
	}
	if user != "" {
		return mysqlLogin(conn, user, password)
	}
	_, err = mysqlGreeting(conn)
	return err
}

package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func mysqlPacket(payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), 0}, payload...)
}

func TestMySQLGreeting(t *testing.T) {
	real, err := os.ReadFile("testdata/mariadb-10.11-greeting.bin")
	if err != nil {
		t.Fatal(err)
	}
	errPacket := append([]byte{0xff, 0x10, 0x04}, "Too many connections"...)
	stateErr := append([]byte{0xff, 0x6a, 0x04}, "#HY000Host '172.18.0.1' is not allowed to connect"...)
	cases := []struct {
		name    string
		in      []byte
		version string
		err     string
	}{
		{"real mariadb 10.11", real, "5.5.5-10.11.18-MariaDB-0+deb12u1", ""},
		{"too many connections", mysqlPacket(errPacket), "", "error 1040: Too many connections"},
		{"host blocked", mysqlPacket(stateErr), "", "error 1130: Host '172.18.0.1' is not allowed"},
		{"truncated handshake", mysqlPacket([]byte("\x0a8.0\x00ab")), "", "truncated"},
		{"http server", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), "", "not a mysql greeting"},
		{"wrong protocol", mysqlPacket([]byte("\x09old\x00")), "", "protocol version 9"},
		{"closed at once", nil, "", "EOF"},
		{"cut short", real[:20], "", "unexpected EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := mysqlGreeting(bytes.NewReader(c.in))
			if c.err == "" {
				if err != nil || v != c.version {
					t.Fatalf("mysqlGreeting = %q, %v; want %q", v, err, c.version)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("mysqlGreeting err = %v, want one containing %q", err, c.err)
			}
		})
	}
}

// pgServer answers one startup message with reply and returns what it
// received.
func pgServer(t *testing.T, reply []byte) (net.Conn, <-chan []byte) {
	client, server := net.Pipe()
	got := make(chan []byte, 1)
	go func() {
		defer server.Close()
		var hdr [4]byte
		if _, err := io.ReadFull(server, hdr[:]); err != nil {
			got <- nil
			return
		}
		rest := make([]byte, binary.BigEndian.Uint32(hdr[:])-4)
		io.ReadFull(server, rest)
		got <- append(hdr[:], rest...)
		server.Write(reply)
	}()
	t.Cleanup(func() { client.Close() })
	return client, got
}

func pgMessage(typ byte, body []byte) []byte {
	m := append([]byte{typ}, binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))...)
	return append(m, body...)
}

func pgError(code, msg string) []byte {
	return pgMessage('E', []byte("SFATAL\x00C"+code+"\x00M"+msg+"\x00\x00"))
}

func TestPostgresStartup(t *testing.T) {
	cases := []struct {
		name  string
		reply []byte
		err   string
	}{
		{"asks for a scram password", pgMessage('R', append([]byte{0, 0, 0, 10}, "SCRAM-SHA-256\x00\x00"...)), ""},
		{"asks for md5", pgMessage('R', []byte{0, 0, 0, 5, 1, 2, 3, 4}), ""},
		{"starting up", pgError("57P03", "the database system is starting up"), "57P03: the database system is starting up"},
		{"too many clients", pgError("53300", "sorry, too many clients already"), "53300"},
		{"unknown role, server up", pgError("28000", `role "kaj_probe" does not exist`), ""},
		{"not postgres", []byte("SSH-2.0-OpenSSH_9.2\r\n"), "not a postgres reply"},
		{"closed", nil, "EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, got := pgServer(t, c.reply)
			err := postgresStartup(conn, "kaj_probe")
			if c.err == "" && err != nil {
				t.Fatalf("postgresStartup = %v, want ready", err)
			}
			if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("postgresStartup = %v, want an error with %q", err, c.err)
			}
			msg := <-got
			if len(msg) < 8 || binary.BigEndian.Uint32(msg[4:8]) != 196608 || !bytes.Contains(msg, []byte("user\x00kaj_probe\x00")) {
				t.Fatalf("startup message = %q, want protocol 3.0 for user kaj_probe", msg)
			}
		})
	}
}

func TestBackoff_Delay(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Factor: 2}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for n, w := range want {
		if got := b.Delay(n); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	var zero Backoff
	if zero.Delay(0) != 10*time.Millisecond || zero.Delay(1) != 15*time.Millisecond || zero.Delay(100) != 100*time.Millisecond {
		t.Errorf("zero Backoff: Delay(0) = %v, Delay(1) = %v, Delay(100) = %v; want 10ms, 15ms, 100ms", zero.Delay(0), zero.Delay(1), zero.Delay(100))
	}
}

// fastBackoff keeps tests of the polling loop from sleeping.
var fastBackoff = Backoff{Initial: time.Microsecond, Max: time.Microsecond}

func TestPoll(t *testing.T) {
	t.Run("retries until ready", func(t *testing.T) {
		tries := 0
		err := poll(t.Context(), fastBackoff, func(context.Context) error {
			if tries++; tries < 5 {
				return retryable{errors.New("not yet")}
			}
			return nil
		})
		if err != nil || tries != 5 {
			t.Fatalf("poll = %v after %d tries, want nil after 5", err, tries)
		}
	})
	t.Run("stops at a final error", func(t *testing.T) {
		final := errors.New("exited")
		tries := 0
		err := poll(t.Context(), fastBackoff, func(context.Context) error { tries++; return final })
		if !errors.Is(err, final) || tries != 1 {
			t.Fatalf("poll = %v after %d tries, want the final error after 1", err, tries)
		}
	})
	t.Run("deadline reports the last failure", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		err := poll(ctx, fastBackoff, func(context.Context) error { return retryable{errors.New("connection refused")} })
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("poll = %v, want the deadline and the last failure", err)
		}
	})
}

func TestProbeDatabase_overTCP(t *testing.T) {
	greeting, err := os.ReadFile("testdata/mariadb-10.11-greeting.bin")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write(greeting)
			c.Close()
		}
	}()
	dial := (&net.Dialer{}).DialContext
	if err := probeDatabase(t.Context(), dial, MariaDB, l.Addr().String(), "", ""); err != nil {
		t.Fatalf("probe of a greeting server: %v", err)
	}
	// A port that accepts but never greets is not ready: the probe must
	// give up on its own deadline, not hang.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := probeDatabase(ctx, dial, MySQL, silent.Addr().String(), "", ""); err == nil {
		t.Fatal("a silent port passed the probe")
	}
}

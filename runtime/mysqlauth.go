package runtime

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrCredentials means the database server refused the credentials kaj
// gave it: most often a kept volume initialised with another password.
var ErrCredentials = errors.New("the database refused kaj's credentials")

// MySQL capability flags the probe's login uses.
const (
	clientLongPassword   = 0x00000001
	clientProtocol41     = 0x00000200
	clientSecureConn     = 0x00008000
	clientPluginAuth     = 0x00080000
	nativePasswordPlugin = "mysql_native_password"
)

// mysqlLogin completes a MySQL/MariaDB login as user and quits, so the
// readiness probe is one clean session in the server's log rather than
// an "Aborted connection ... without authentication" warning on every
// deploy. It also proves the credentials: a refusal is ErrCredentials. A
// server that asks for another auth method than mysql_native_password
// (MySQL 8's caching_sha2_password) is taken as ready on its greeting.
func mysqlLogin(rw io.ReadWriter, user, password string) error {
	seq, greet, err := readMySQLPacket(rw)
	if err != nil {
		return err
	}
	if _, err := mysqlGreeting(bytes.NewReader(packet(seq, greet))); err != nil {
		return err
	}
	salt, plugin := greetingSalt(greet)
	if plugin != "" && plugin != nativePasswordPlugin {
		return nil
	}
	var resp bytes.Buffer
	binary.Write(&resp, binary.LittleEndian, uint32(clientLongPassword|clientProtocol41|clientSecureConn|clientPluginAuth))
	binary.Write(&resp, binary.LittleEndian, uint32(1<<24))
	resp.WriteByte(45) // utf8mb4_general_ci
	resp.Write(make([]byte, 23))
	resp.WriteString(user)
	resp.WriteByte(0)
	scr := scramble(salt, password)
	resp.WriteByte(byte(len(scr)))
	resp.Write(scr)
	resp.WriteString(nativePasswordPlugin)
	resp.WriteByte(0)
	if _, err := rw.Write(packet(seq+1, resp.Bytes())); err != nil {
		return fmt.Errorf("sending mysql login: %w", err)
	}
	_, reply, err := readMySQLPacket(rw)
	if err != nil {
		return err
	}
	switch reply[0] {
	case 0x00:
		rw.Write(packet(0, []byte{0x01})) // COM_QUIT: a clean goodbye
		return nil
	case 0xff:
		code, msg := uint16(0), reply[1:]
		if len(reply) >= 3 {
			code, msg = binary.LittleEndian.Uint16(reply[1:3]), reply[3:]
		}
		if len(msg) > 6 && msg[0] == '#' {
			msg = msg[6:]
		}
		if code == 1045 || code == 1044 {
			return fmt.Errorf("%w: user %s: %s (a volume keeps the password it was first initialised with; restore the old password or choose a new volume)", ErrCredentials, user, msg)
		}
		return fmt.Errorf("mysql login as %s: error %d: %s", user, code, msg)
	}
	// An auth switch or more: the server is up; leave without a fuss.
	return nil
}

func readMySQLPacket(r io.Reader) (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("reading mysql packet header: %w", err)
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n == 0 || n > maxGreeting {
		return 0, nil, fmt.Errorf("not a mysql packet: %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, fmt.Errorf("reading mysql packet: %w", err)
	}
	return hdr[3], p, nil
}

func packet(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// greetingSalt reads the 20-byte auth challenge and the auth plugin's
// name from a protocol 10 greeting.
func greetingSalt(p []byte) ([]byte, string) {
	end := bytes.IndexByte(p[1:], 0)
	if end < 0 {
		return nil, ""
	}
	i := 1 + end + 1 + 4 // version, NUL, connection ID
	if len(p) < i+8+1+2+1+2+2+1+10 {
		return nil, ""
	}
	salt := append([]byte(nil), p[i:i+8]...)
	i += 8 + 1                                                    // part 1 and filler
	caps := uint32(binary.LittleEndian.Uint16(p[i:]))             // lower flags
	caps |= uint32(binary.LittleEndian.Uint16(p[i+2+1+2:])) << 16 // upper flags after charset and status
	authLen := int(p[i+2+1+2+2])                                  // length of the whole challenge
	i += 2 + 1 + 2 + 2 + 1 + 10                                   // flags, charset, status, flags, length, reserved
	n := max(13, authLen-8)
	if caps&clientSecureConn != 0 && len(p) >= i+n {
		salt = append(salt, bytes.TrimRight(p[i:i+n], "\x00")...)
		i += n
	}
	plugin := ""
	if caps&clientPluginAuth != 0 && i < len(p) {
		plugin = string(bytes.TrimRight(p[i:], "\x00"))
	}
	return salt, plugin
}

// scramble is mysql_native_password's answer:
// SHA1(password) XOR SHA1(salt + SHA1(SHA1(password))).
func scramble(salt []byte, password string) []byte {
	if password == "" {
		return nil
	}
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	h := sha1.New()
	h.Write(salt)
	h.Write(h2[:])
	h3 := h.Sum(nil)
	for i := range h3 {
		h3[i] ^= h1[i]
	}
	return h3
}

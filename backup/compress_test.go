package backup

import (
	"bytes"
	"io"
	"testing"
)

// TestCompression_roundTrip writes with each compression and reads back
// through the detection uploads and restores use.
func TestCompression_roundTrip(t *testing.T) {
	in := bytes.Repeat([]byte("INSERT INTO `post` VALUES (1,'x');\n"), 10000)
	for _, c := range []Compression{Zstd, Gzip, None} {
		t.Run(string(c), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := c.compressor(&buf)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(in)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if c != None && buf.Len() >= len(in)/2 {
				t.Fatalf("%s wrote %d bytes of %d", c, buf.Len(), len(in))
			}
			r, got, err := decompress(&buf)
			if err != nil {
				t.Fatal(err)
			}
			out, err := io.ReadAll(r)
			if err != nil || got != c || !bytes.Equal(out, in) {
				t.Fatalf("read back %d bytes as %s (%v); want %d as %s", len(out), got, err, len(in), c)
			}
		})
	}
	if _, err := Compression("lz4").compressor(io.Discard); err == nil {
		t.Fatal("an unknown compression was accepted")
	}
}

package backup

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is how a backup file is compressed.
type Compression string

// The compressions kaj writes and reads.
const (
	Zstd Compression = "zstd"
	Gzip Compression = "gzip"
	// None writes the dump as the tool wrote it: for hosts whose file
	// system compresses already (ZFS, btrfs).
	None Compression = "none"
)

func (c Compression) ext() (string, error) {
	switch c {
	case Zstd:
		return ".zst", nil
	case Gzip:
		return ".gz", nil
	case None:
		return "", nil
	}
	return "", fmt.Errorf("backup: compression %q is not zstd, gzip or none", c)
}

// compressor wraps w. The fastest levels: a dump is mostly text, which
// they shrink 2-4x, and on a small host a stronger level costs more CPU
// than the dump tool itself, slowing the backup, not only kaj.
func (c Compression) compressor(w io.Writer) (io.WriteCloser, error) {
	switch c {
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest))
	case Gzip:
		return gzip.NewWriterLevel(w, gzip.BestSpeed)
	case None:
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("backup: compression %q is not zstd, gzip or none", c)
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress detects r's compression by its magic bytes and returns the
// plain stream; an uncompressed stream passes as it is.
func decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, "", err
	}
	switch {
	case bytes.HasPrefix(head, zstdMagic):
		d, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(2))
		if err != nil {
			return nil, "", err
		}
		return d.IOReadCloser(), Zstd, nil
	case bytes.HasPrefix(head, gzipMagic):
		g, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", err
		}
		return g, Gzip, nil
	}
	return io.NopCloser(br), None, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

package capture

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzClassifyReadError walks arbitrary bytes as a pcap or pcapng file at
// any record count: it must answer truncated or corrupt, never panic or
// loop.
func FuzzClassifyReadError(f *testing.F) {
	if raw, err := os.ReadFile("../../_dev/pcaps/sample.pcap"); err == nil {
		f.Add(raw[:600], uint8(3))
	}
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a}, uint8(0))
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0}, uint8(1))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw []byte, read uint8) {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		err := classifyReadError(p, uint64(read), nil)
		var c *CorruptFileError
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &c) {
			t.Fatalf("neither truncated nor corrupt: %v", err)
		}
	})
}

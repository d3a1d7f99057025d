package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// CorruptFileError is a capture file that is damaged rather than cut short:
// a record or block whose header cannot be right. Every event decoded
// before it is kept, but the run fails, so a damaged file is not mistaken
// for a short one.
type CorruptFileError struct {
	Path   string
	Record uint64 // 1-based number of the packet record that could not be read
	Offset int64  // byte offset of that record's (or block's) header
	Reason string
}

func (e *CorruptFileError) Error() string {
	return fmt.Sprintf("%s is damaged at packet record %d (byte offset %d): %s", e.Path, e.Record, e.Offset, e.Reason)
}

// Limits libpcap applies; a header beyond them is corruption, not a file
// that ends early.
const (
	maxPcapRecord  = 256 << 10 // libpcap's largest snapshot length
	maxPcapngBlock = 16 << 20  // libpcap's largest pcapng block
)

// classifyReadError looks at the file where libpcap stopped, after read
// records, to tell a file cut mid-record (io.ErrUnexpectedEOF: as much as
// was readable was processed, not an error) from a damaged one
// (*CorruptFileError). libpcap itself only says "Read Error".
func classifyReadError(path string, read uint64, libpcapErr error) error {
	detail := "read error"
	if libpcapErr != nil {
		detail = libpcapErr.Error()
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %s (and re-reading it failed: %v)", path, detail, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %s (and re-reading it failed: %v)", path, detail, err)
	}
	// Headers are read one at a time: a multi-gigabyte file is walked, not
	// loaded.
	raw := &fileBytes{f: f, size: info.Size()}
	var trunc bool
	var off int64
	var reason string
	if raw.len() >= 4 && binary.LittleEndian.Uint32(raw.at(0, 4)) == 0x0A0D0D0A {
		trunc, off, reason = scanPcapng(raw, read)
	} else {
		trunc, off, reason = scanPcap(raw, read)
	}
	if trunc {
		return fmt.Errorf("%w: %s ends mid-record at packet record %d (byte offset %d); everything before it was processed", io.ErrUnexpectedEOF, path, read+1, off)
	}
	if reason == "" {
		reason = detail
	}
	return &CorruptFileError{Path: path, Record: read + 1, Offset: off, Reason: reason}
}

// scanPcap walks a classic pcap file's records to the one after read.
func scanPcap(raw *fileBytes, read uint64) (truncated bool, off int64, reason string) {
	if raw.len() < 24 {
		return true, 0, ""
	}
	hdr := raw.at(0, 24)
	var bo binary.ByteOrder = binary.LittleEndian
	switch binary.LittleEndian.Uint32(hdr) {
	case 0xa1b2c3d4, 0xa1b23c4d:
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return false, 0, "not a pcap file header"
	}
	snap := int64(bo.Uint32(hdr[16:]))
	off = 24
	for n := uint64(0); ; n++ {
		if off+16 > raw.len() {
			return true, off, ""
		}
		rec := raw.at(off, 16)
		caplen := int64(bo.Uint32(rec[8:]))
		origlen := int64(bo.Uint32(rec[12:]))
		if caplen > maxPcapRecord || (snap > 0 && caplen > max(snap, 65535)) {
			return false, off, fmt.Sprintf("captured length %d exceeds the maximum of %d", caplen, max(min(snap, maxPcapRecord), 65535))
		}
		if n == read {
			if off+16+caplen > raw.len() {
				return true, off, ""
			}
			if origlen < caplen {
				return false, off, fmt.Sprintf("captured length %d exceeds the original length %d", caplen, origlen)
			}
			return false, off, ""
		}
		off += 16 + caplen
	}
}

// scanPcapng walks a pcapng file's blocks to the packet block after read,
// counting interface descriptions on the way.
func scanPcapng(raw *fileBytes, read uint64) (truncated bool, off int64, reason string) {
	var bo binary.ByteOrder = binary.LittleEndian
	ifaces := uint32(0)
	var packets uint64
	for off = 0; ; {
		if off+12 > raw.len() {
			return true, off, ""
		}
		blk := raw.at(off, 12)
		typ := bo.Uint32(blk)
		if typ == 0x0A0D0D0A { // section header: byte order, interfaces reset
			if binary.LittleEndian.Uint32(blk[8:]) == 0x1A2B3C4D {
				bo = binary.LittleEndian
			} else {
				bo = binary.BigEndian
			}
			ifaces = 0
		}
		typ = bo.Uint32(blk)
		blen := int64(bo.Uint32(blk[4:]))
		if blen < 12 || blen%4 != 0 || blen > maxPcapngBlock {
			return false, off, fmt.Sprintf("block length %d (0x%X) is impossible", blen, blen)
		}
		if off+blen > raw.len() {
			return true, off, ""
		}
		if tail := int64(bo.Uint32(raw.at(off+blen-4, 4))); tail != blen {
			return false, off, fmt.Sprintf("block length %d does not match its trailer %d", blen, tail)
		}
		switch typ {
		case 1: // interface description
			ifaces++
		case 6, 2: // enhanced / obsolete packet block
			if packets == read {
				if blen >= 12 {
					id := bo.Uint32(blk[8:])
					if typ == 2 {
						id = uint32(bo.Uint16(blk[8:]))
					}
					if id >= ifaces {
						return false, off, fmt.Sprintf("packet block names interface %d, but only %d interface description(s) precede it", id, ifaces)
					}
				}
				return false, off, ""
			}
			packets++
		case 3: // simple packet block
			if packets == read {
				if ifaces == 0 {
					return false, off, "simple packet block before any interface description"
				}
				return false, off, ""
			}
			packets++
		}
		off += blen
	}
}

// fileBytes reads small pieces of a file by offset.
type fileBytes struct {
	f    *os.File
	size int64
	buf  [24]byte
}

func (b *fileBytes) len() int64 { return b.size }

// at returns n (at most 24) bytes at off; the caller has checked that they
// are inside the file. The slice is valid until the next call.
func (b *fileBytes) at(off int64, n int) []byte {
	p := b.buf[:n]
	if _, err := b.f.ReadAt(p, off); err != nil {
		clear(p)
	}
	return p
}

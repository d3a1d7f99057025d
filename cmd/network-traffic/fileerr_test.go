package main

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pcapRecordOffsets lists where each record header of a classic
// little-endian pcap starts.
func pcapRecordOffsets(raw []byte) []int {
	var offs []int
	for off := 24; off+16 <= len(raw); {
		offs = append(offs, off)
		off += 16 + int(binary.LittleEndian.Uint32(raw[off+8:]))
	}
	return offs
}

// pcapngPacketBlocks lists where each enhanced packet block starts.
func pcapngPacketBlocks(raw []byte) []int {
	var offs []int
	for off := 0; off+12 <= len(raw); {
		typ, l := binary.LittleEndian.Uint32(raw[off:]), int(binary.LittleEndian.Uint32(raw[off+4:]))
		if typ == 6 {
			offs = append(offs, off)
		}
		if l < 12 {
			break
		}
		off += l
	}
	return offs
}

// A damaged file is not a short one: a record header no writer could have
// produced fails the run (non-zero exit) with the record and byte offset,
// while a file cut mid-record still exits 0. Either way every event before
// the damage is kept.
func TestDamagedFileToldFromTruncated(t *testing.T) {
	raw, err := os.ReadFile(samplePcap)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	recs := pcapRecordOffsets(raw)
	if len(recs) < 10 {
		t.Fatalf("sample has %d records", len(recs))
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const at = 5 // the sixth record is damaged or cut
	caplen := append([]byte(nil), raw...)
	binary.LittleEndian.PutUint32(caplen[recs[at]+8:], 1<<31-1)

	ngPath := filepath.Join(dir, "s.pcapng")
	if out, err := exec.Command("editcap", "-F", "pcapng", samplePcap, ngPath).CombinedOutput(); err != nil {
		t.Skipf("editcap: %v %s", err, out)
	}
	ng, _ := os.ReadFile(ngPath)
	blocks := pcapngPacketBlocks(ng)
	blockLen := append([]byte(nil), ng...)
	binary.LittleEndian.PutUint32(blockLen[blocks[at]+4:], 0xFFFFFFF0)
	iface := append([]byte(nil), ng...)
	binary.LittleEndian.PutUint32(iface[blocks[at]+8:], 7)

	before, _, _ := runCLI(t, "-I", write("head.pcap", raw[:recs[at]]), "-t")
	cases := []struct {
		name    string
		path    string
		corrupt bool
		want    string
	}{
		{"cut mid-record", write("cut.pcap", raw[:recs[at]+10]), false, "ends mid-record at packet record 6 (byte offset " + itoa(recs[at]) + ")"},
		{"caplen 2^31-1", write("caplen.pcap", caplen), true, "damaged at packet record 6 (byte offset " + itoa(recs[at]) + "): captured length 2147483647"},
		{"cut pcapng", write("cut.pcapng", ng[:blocks[at]+20]), false, "ends mid-record at packet record 6"},
		{"pcapng block length", write("blk.pcapng", blockLen), true, "damaged at packet record 6 (byte offset " + itoa(blocks[at]) + "): block length 4294967280"},
		{"undefined interface", write("if.pcapng", iface), true, "names interface 7, but only 1 interface description"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			docs, stderr, code := runCLI(t, "-I", c.path, "-t")
			if c.corrupt != (code != 0) {
				t.Errorf("exit %d (corrupt=%v); stderr: %s", code, c.corrupt, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr does not say %q:\n%s", c.want, stderr)
			}
			if len(docs) < len(before) {
				t.Errorf("%d events, the %d records before the damage give %d", len(docs), at, len(before))
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

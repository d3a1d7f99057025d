// Command spread rewrites a capture made on one loopback address pair so
// that every TCP or UDP conversation has an address pair of its own, as
// traffic on a real host's interface has: the server side becomes
// 10.2.x.y and the client side 10.1.x.y, x.y from a hash of the two ports.
// Flow sharding hashes the address pair (so that fragments and both
// directions meet), so on the original capture every packet lands on one
// shard and `-workers` cannot be measured; on the rewritten one they
// spread. Payloads, ports, timestamps and lengths are unchanged; the IPv4
// header checksum is recomputed; TCP and UDP checksums (whose pseudo-header
// covers the addresses) are left as they were, since the decoder does not
// check them (nor does Packetbeat). IPv6, fragments and non-IP frames are
// copied as they are.
//
//	go run ./_dev/bench/spread IN.pcap OUT.pcap
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: spread IN.pcap OUT.pcap")
		os.Exit(2)
	}
	n, moved, err := spread(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "spread:", err)
		os.Exit(1)
	}
	fmt.Printf("%d packets, %d given their conversation's own address pair\n", n, moved)
}

func spread(in, out string) (n, moved int, err error) {
	f, err := os.Open(in)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return 0, 0, err
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		return 0, 0, fmt.Errorf("%s: link type %v, want Ethernet", in, r.LinkType())
	}
	o, err := os.Create(out)
	if err != nil {
		return 0, 0, err
	}
	bw := bufio.NewWriterSize(o, 1<<20)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		return 0, 0, err
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, moved, err
		}
		n++
		if rewrite(data) {
			moved++
		}
		if err := w.WritePacket(ci, data); err != nil {
			return n, moved, err
		}
	}
	if err := bw.Flush(); err != nil {
		return n, moved, err
	}
	return n, moved, o.Close()
}

// rewrite gives an IPv4 TCP/UDP frame (not a fragment) its conversation's
// addresses, in place.
func rewrite(b []byte) bool {
	if len(b) < 14+20 || binary.BigEndian.Uint16(b[12:]) != 0x0800 {
		return false
	}
	ip := b[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || len(ip) < ihl+4 {
		return false
	}
	if proto := ip[9]; proto != 6 && proto != 17 {
		return false
	}
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // MF or an offset: a fragment
		return false
	}
	sp, dp := binary.BigEndian.Uint16(ip[ihl:]), binary.BigEndian.Uint16(ip[ihl+2:])
	lo, hi := min(sp, dp), max(sp, dp)
	h := uint32(lo)*2654435761 ^ uint32(hi)*40503
	h ^= h >> 15
	x, y := byte(h>>8), byte(h)
	client := [4]byte{10, 1, x, y}
	server := [4]byte{10, 2, x, y}
	// The lower port is the server's (the well-known port of the service).
	if sp == lo {
		copy(ip[12:16], server[:])
		copy(ip[16:20], client[:])
	} else {
		copy(ip[12:16], client[:])
		copy(ip[16:20], server[:])
	}
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], checksum(ip[:ihl]))
	return true
}

func checksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

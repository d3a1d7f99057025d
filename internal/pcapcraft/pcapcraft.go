// Package pcapcraft writes small synthetic captures for tests of what real
// servers do not send on purpose: hostile or broken traffic (half-open
// connections, unanswered requests, sequence numbers 2^31 away, header
// blocks that never end). Frames are Ethernet/IPv4 with correct checksums,
// so tshark and the binary read them as they would a capture from a wire.
package pcapcraft

import (
	"encoding/binary"
	"net/netip"
	"os"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// TCP flag bits.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

// Writer accumulates frames into a classic pcap file.
type Writer struct {
	f  *os.File
	w  *pcapgo.Writer
	ts time.Time
	id uint16
}

// Create starts a pcap file at path; frames are 10 µs apart from ts.
func Create(path string, ts time.Time) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return nil, err
	}
	return &Writer{f: f, w: w, ts: ts}, nil
}

// Close flushes the file.
func (w *Writer) Close() error { return w.f.Close() }

// Advance moves the capture clock.
func (w *Writer) Advance(d time.Duration) { w.ts = w.ts.Add(d) }

// Time is the capture clock.
func (w *Writer) Time() time.Time { return w.ts }

func (w *Writer) frame(src, dst netip.AddrPort, proto byte, l4 []byte) error {
	ip := make([]byte, 20, 14+20+len(l4))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
	w.id++
	binary.BigEndian.PutUint16(ip[4:], w.id)
	ip[8], ip[9] = 64, proto
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
	// L4 checksum over the pseudo-header.
	var sum uint32
	for i := 0; i < 4; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(s[i:])) + uint32(binary.BigEndian.Uint16(d[i:]))
	}
	sum += uint32(proto) + uint32(len(l4))
	off := 16 // TCP checksum
	if proto == 17 {
		off = 6
	}
	binary.BigEndian.PutUint16(l4[off:], 0)
	binary.BigEndian.PutUint16(l4[off:], checksum(l4, sum))
	eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0}
	pkt := append(append(eth, ip...), l4...)
	w.ts = w.ts.Add(10 * time.Microsecond)
	return w.w.WritePacket(captureInfo(w.ts, len(pkt)), pkt)
}

// TCP writes one segment.
func (w *Writer) TCP(src, dst netip.AddrPort, seq, ack uint32, flags byte, payload []byte) error {
	l4 := make([]byte, 20+len(payload))
	binary.BigEndian.PutUint16(l4[0:], src.Port())
	binary.BigEndian.PutUint16(l4[2:], dst.Port())
	binary.BigEndian.PutUint32(l4[4:], seq)
	binary.BigEndian.PutUint32(l4[8:], ack)
	l4[12] = 5 << 4
	l4[13] = flags
	binary.BigEndian.PutUint16(l4[14:], 65535)
	copy(l4[20:], payload)
	return w.frame(src, dst, 6, l4)
}

// UDP writes one datagram.
func (w *Writer) UDP(src, dst netip.AddrPort, payload []byte) error {
	l4 := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(l4[0:], src.Port())
	binary.BigEndian.PutUint16(l4[2:], dst.Port())
	binary.BigEndian.PutUint16(l4[4:], uint16(8+len(payload)))
	copy(l4[8:], payload)
	return w.frame(src, dst, 17, l4)
}

// Conn is one TCP connection being written: it keeps both sides' sequence
// numbers.
type Conn struct {
	w              *Writer
	Client, Server netip.AddrPort
	cliSeq, srvSeq uint32
}

// Open writes a three-way handshake (or, with half, only the client's SYN
// and the server's SYN-ACK, leaving the client's ACK to its first data).
func (w *Writer) Open(client, server netip.AddrPort, isnC, isnS uint32) (*Conn, error) {
	c := &Conn{w: w, Client: client, Server: server, cliSeq: isnC + 1, srvSeq: isnS + 1}
	if err := w.TCP(client, server, isnC, 0, SYN, nil); err != nil {
		return nil, err
	}
	if err := w.TCP(server, client, isnS, isnC+1, SYN|ACK, nil); err != nil {
		return nil, err
	}
	return c, w.TCP(client, server, c.cliSeq, c.srvSeq, ACK, nil)
}

// Send writes data from the client (fromClient) or the server, in segments
// of at most mss bytes.
func (c *Conn) Send(fromClient bool, data []byte) error {
	const mss = 1400
	for len(data) > 0 {
		n := min(len(data), mss)
		var err error
		if fromClient {
			err = c.w.TCP(c.Client, c.Server, c.cliSeq, c.srvSeq, ACK|PSH, data[:n])
			c.cliSeq += uint32(n)
		} else {
			err = c.w.TCP(c.Server, c.Client, c.srvSeq, c.cliSeq, ACK|PSH, data[:n])
			c.srvSeq += uint32(n)
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// Seq returns the next sequence numbers of client and server.
func (c *Conn) Seq() (client, server uint32) { return c.cliSeq, c.srvSeq }

// Close writes FIN from both sides.
func (c *Conn) Close() error {
	if err := c.w.TCP(c.Client, c.Server, c.cliSeq, c.srvSeq, FIN|ACK, nil); err != nil {
		return err
	}
	c.cliSeq++
	if err := c.w.TCP(c.Server, c.Client, c.srvSeq, c.cliSeq, FIN|ACK, nil); err != nil {
		return err
	}
	c.srvSeq++
	return c.w.TCP(c.Client, c.Server, c.cliSeq, c.srvSeq, ACK, nil)
}

func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

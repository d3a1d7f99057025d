package engine_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/engine"
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/decoders/tcp"
)

// alt-gaps.pcap is alt.pcap (real servers on ports no protocol is
// configured on) without the first data segment of one direction of eight
// connections (_dev/capture/resync/detect.sh): memcache's first command,
// PostgreSQL's SSLRequest, MariaDB's greeting, the first HTTP request, the
// first TLS ClientHello, and the first bytes of the random, gzip and
// SMTP-like connections. The loss comes before a probe could choose, so
// detection probes again after it. Decoded with detect: true it gives the
// same transactions as the same file decoded with the protocols on those
// ports: the commands, queries and responses after each gap, nothing for
// the three connections of unknown protocols.
func TestDetectAfterEarlyGap(t *testing.T) {
	const pcap = "../../_dev/pcaps/detect/alt-gaps.pcap"
	summary := func(docs []map[string]any) []string {
		var out []string
		for _, d := range docs {
			g := func(p string) any { return protocoltest.Get(d, p) }
			out = append(out, fmt.Sprint(g("source.port"), " ", d["type"], " ", d["event.action"], " query=", d["query"],
				" status=", d["status"], " err=", g("error.message")))
		}
		return out
	}
	alt := map[string]map[string]any{
		"http": {"ports": []any{8123}}, "redis": {"ports": []any{7000}}, "tls": {"ports": []any{9443}},
		"memcache": {"ports": []any{22122}}, "pgsql": {"ports": []any{6543}}, "mysql": {"ports": []any{4406}},
	}
	var byPort, byContent protocoltest.Collector
	replay(t, pcap, build(t, detectable, false, alt, &byPort))
	e := replay(t, pcap, buildDetectKeepPorts(t, &byContent))
	a, b := summary(byPort.Docs), summary(byContent.Docs)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("by port (%d):\n%s\nby content (%d):\n%s", len(a), strings.Join(a, "\n"), len(b), strings.Join(b, "\n"))
	}
	// The transactions after each gap, as the servers answered them.
	for _, want := range []string{
		"36562 http <nil> query=<nil> status=Error err=Unmatched response", // its request was lost
		"57326 memcache memcache.load query=<nil> status=OK err=<nil>",     // get after the lost set
		"57326 memcache memcache.delete query=<nil> status=Error err=<nil>",
		"37154 pgsql <nil> query=SELECT 1 AS one status=OK err=<nil>", // after the lost SSLRequest
		"37154 pgsql <nil> query=SELECT * FROM no_such_table status=Error err=<nil>",
		"37154 pgsql <nil> query=SELECT 'a' || 'b' AS ab status=OK err=<nil>",
		"34484 mysql <nil> query=SELECT 1 status=OK err=<nil>", // after the lost greeting
		"34484 mysql <nil> query=SELECT 'detect' AS word status=OK err=<nil>",
		"34484 mysql <nil> query=SELECT * FROM nosuchdb.t status=Error err=<nil>",
	} {
		if !slices.Contains(b, want) {
			t.Errorf("missing %q in\n%s", want, strings.Join(b, "\n"))
		}
	}
	for i, d := range byContent.Docs {
		if d["network"].(map[string]any)["detected_by"] != "content" {
			t.Errorf("event %d (%s) not marked detected", i, b[i])
		}
	}
	// 14 connections as in alt.pcap: 8 lost bytes before a protocol was
	// chosen and were probed again; 5 of them (http, tls, memcache, pgsql,
	// mysql) were claimed after the gap, the random, gzip and SMTP-like
	// ones by nobody.
	d := &e.Detect
	if p, c, u, r, cg := d.Probed.Load(), d.Claimed.Load(), d.Unclaimed.Load(), d.Resumed.Load(), d.ClaimedAfterGap.Load(); p != 14 || c != 11 || u != 3 || r != 8 || cg != 5 {
		t.Errorf("probed %d claimed %d unclaimed %d resumed %d claimed after a gap %d, want 14 11 3 8 5", p, c, u, r, cg)
	}
}

// Random and gzip-compressed bytes over connections that lose their first
// segments, lose segments in the middle, or are joined mid-stream (no
// SYN): probing again after each gap claims none of them and makes no
// transaction; every connection is counted unclaimed.
func TestDetectAfterGapIgnoresGarbage(t *testing.T) {
	random, gz := garbage(12, 2<<20)
	var col protocoltest.Collector
	e := engine.New(build(t, detectable, true, nil, &col))
	e.TCP = tcp.NewAssembler(tcp.Config{}, e.NewTCPParser)
	ts := time.Unix(1700000000, 0)
	conns, resumed := 0, 0
	for _, blob := range [][]byte{random, gz} {
		for off := 0; off+32<<10 <= len(blob); off += 29 << 10 {
			conns++
			part := blob[off : off+32<<10]
			// lose: which 1400-byte segments of each direction are not
			// captured; mid-stream connections also miss the handshake.
			lose := map[int]bool{0: true}
			switch conns % 3 {
			case 1:
				lose = map[int]bool{0: true, 1: true, 3: true, 6: true, 10: true}
			case 2:
				lose = map[int]bool{2: true}
			}
			midStream := conns%2 == 0
			if lose[0] || midStream {
				resumed++ // else its first bytes match nothing: given up before any gap
			}
			lossyConn(e, uint16(20000+conns), 5555, part[:len(part)/2], part[len(part)/2:], lose, midStream, &ts)
		}
	}
	e.Flush(ts)
	if len(col.Docs) != 0 {
		b, _ := json.Marshal(col.Docs[0])
		t.Fatalf("%d false transactions, first: %s", len(col.Docs), b)
	}
	d := &e.Detect
	if p, c, u, r := d.Probed.Load(), d.Claimed.Load(), d.Unclaimed.Load(), d.Resumed.Load(); p != uint64(conns) || c != 0 || u != p || r != uint64(resumed) {
		t.Errorf("probed %d claimed %d unclaimed %d resumed %d, want %d, 0, %[5]d, %d", p, c, u, r, conns, resumed)
	}
}

// lossyConn is conn with the segments numbered in lose (per direction)
// left out of the capture, and without the handshake when midStream. The
// peer acknowledges what was sent, so the reassembler reports the holes.
func lossyConn(e *engine.Engine, cport, sport uint16, client, server []byte, lose map[int]bool, midStream bool, ts *time.Time) {
	cli, srv := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.2")
	seq := [2]uint32{1000, 5000}
	pkt := func(from int, flags uint8, payload []byte, send bool) {
		*ts = ts.Add(time.Millisecond)
		p := link.Packet{Timestamp: *ts, IPVersion: 4, IPProto: 6, Flags: flags, Payload: payload}
		p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = cli, srv, cport, sport
		if from == 1 {
			p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = srv, cli, sport, cport
		}
		p.Seq, p.Ack = seq[from], seq[1-from]
		if flags&link.FlagSYN != 0 {
			seq[from]++
		}
		seq[from] += uint32(len(payload))
		if send {
			e.Packet(&p)
		}
	}
	pkt(0, link.FlagSYN, nil, !midStream)
	pkt(1, link.FlagSYN|link.FlagACK, nil, !midStream)
	for d, part := range [][]byte{client, server} {
		for i := 0; len(part) > 0; i++ {
			n := min(1400, len(part))
			pkt(d, link.FlagACK, part[:n], !lose[i])
			part = part[n:]
		}
		pkt(1-d, link.FlagACK, nil, true) // the peer acknowledges everything
	}
	pkt(0, link.FlagFIN|link.FlagACK, nil, true)
	pkt(1, link.FlagFIN|link.FlagACK, nil, true)
}

// FuzzDetectAfterGap runs arbitrary bytes through probing with segments
// lost (a bit mask) and with or without the handshake: no panic, and the
// connection ends either claimed or unclaimed (that garbage is not
// claimed is for the garbage tests).
func FuzzDetectAfterGap(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), uint8(1), false)
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"), []byte("+PONG\r\n+PONG\r\n"), uint8(0), true)
	f.Add([]byte("\x00\x00\x00\x08\x04\xd2\x16\x2fQ\x00\x00\x00\x0dSELECT 1\x00"), []byte("NZ\x00\x00\x00\x05I"), uint8(2), false)
	f.Fuzz(func(t *testing.T, client, server []byte, lose uint8, midStream bool) {
		var col protocoltest.Collector
		e := engine.New(build(t, detectable, true, nil, &col))
		e.TCP = tcp.NewAssembler(tcp.Config{}, e.NewTCPParser)
		ts := time.Unix(1700000000, 0)
		lost := map[int]bool{}
		for i := range 8 {
			lost[i] = lose&(1<<i) != 0
		}
		smallConn(e, client, server, lost, midStream, &ts)
		e.Flush(ts)
		if p, c, u := e.Detect.Probed.Load(), e.Detect.Claimed.Load(), e.Detect.Unclaimed.Load(); p > 1 || c+u != p {
			t.Fatalf("probed %d claimed %d unclaimed %d", p, c, u)
		}
	})
}

// smallConn is lossyConn with 16-byte segments, so a few fuzzed bytes
// make several of them.
func smallConn(e *engine.Engine, client, server []byte, lose map[int]bool, midStream bool, ts *time.Time) {
	cli, srv := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.2")
	seq := [2]uint32{1000, 5000}
	pkt := func(from int, flags uint8, payload []byte, send bool) {
		*ts = ts.Add(time.Millisecond)
		p := link.Packet{Timestamp: *ts, IPVersion: 4, IPProto: 6, Flags: flags, Payload: payload}
		p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = cli, srv, 40000, 5555
		if from == 1 {
			p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = srv, cli, 5555, 40000
		}
		p.Seq, p.Ack = seq[from], seq[1-from]
		if flags&link.FlagSYN != 0 {
			seq[from]++
		}
		seq[from] += uint32(len(payload))
		if send {
			e.Packet(&p)
		}
	}
	pkt(0, link.FlagSYN, nil, !midStream)
	pkt(1, link.FlagSYN|link.FlagACK, nil, !midStream)
	// Alternate the directions' segments, as a conversation does.
	parts := [][]byte{client, server}
	for i := 0; len(parts[0])+len(parts[1]) > 0; i++ {
		for d := range parts {
			n := min(16, len(parts[d]))
			if n == 0 {
				continue
			}
			pkt(d, link.FlagACK, parts[d][:n], !lose[i%8])
			parts[d] = parts[d][n:]
		}
	}
	pkt(0, link.FlagACK, nil, true)
	pkt(1, link.FlagACK, nil, true)
	pkt(0, link.FlagFIN|link.FlagACK, nil, true)
	pkt(1, link.FlagFIN|link.FlagACK, nil, true)
}

package engine_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	_ "github.com/network-traffic/network-traffic/decoders/all"
	"github.com/network-traffic/network-traffic/decoders/engine"
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/decoders/tcp"
)

// detectable are the TCP protocols with a probe, in the order a user
// turning detection on for all of them would list them.
var detectable = []string{"http", "tls", "redis", "pgsql", "mysql", "mongodb", "amqp",
	"cassandra", "memcache", "thrift", "nfs", "sip", "dns"}

// build makes one instance per protocol name. With detect, every protocol
// gets detect: true and an unused port, so only probes can route.
func build(t testing.TB, names []string, detect bool, extra map[string]map[string]any, pub protocol.Publisher) []*protocol.Instance {
	t.Helper()
	var insts []*protocol.Instance
	for i, n := range names {
		spec, ok := protocol.Lookup(n)
		if !ok {
			t.Fatalf("protocol %s not registered", n)
		}
		opts := map[string]any{}
		for k, v := range extra[n] {
			opts[k] = v
		}
		if detect {
			opts["detect"] = true
			opts["ports"] = []any{1 + i}
		}
		common, rest, err := protocol.SplitCommon(spec, opts)
		if err != nil {
			t.Fatal(err)
		}
		in, err := spec.New(common, rest, pub)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		insts = append(insts, in)
	}
	return insts
}

// replay runs a pcap through the production pipeline (link decoder,
// engine, TCP reassembler) and returns the engine.
func replay(t testing.TB, path string, insts []*protocol.Instance) *engine.Engine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// editcap (the gap captures of _dev/capture/resync) writes pcapng.
	var r interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
		LinkType() layers.LinkType
	}
	if pr, err := pcapgo.NewReader(f); err == nil {
		r = pr
	} else {
		if _, err := f.Seek(0, 0); err != nil {
			t.Fatal(err)
		}
		ng, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: neither pcap nor pcapng: %v", path, err)
		}
		r = ng
	}
	dec, err := link.NewDecoder(r.LinkType(), link.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(insts)
	asm := tcp.NewAssembler(tcp.Config{}, e.NewTCPParser)
	e.TCP = asm
	var p link.Packet
	var last time.Time
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if ok, _ := dec.Decode(data, ci, &p); ok {
			e.Packet(&p)
			last = ci.Timestamp
		}
	}
	e.Flush(last)
	return e
}

// Every protocol's real capture decoded with detection on (no protocol on
// its port) gives the same events as decoded by port, each marked
// network.detected_by: content.
func TestDetectMatchesPortDecoding(t *testing.T) {
	for _, tc := range []struct {
		proto, pcap string
		opts        map[string]any
	}{
		{"http", "http/nginx.pcap", nil},
		{"http", "http/pipeline.pcap", nil},
		{"tls", "tls/tls13.pcap", nil},
		{"tls", "tls/tls12.pcap", nil},
		{"redis", "redis/cli.pcap", nil},
		{"pgsql", "pgsql/psql.pcap", nil},
		{"pgsql", "pgsql/extended.pcap", nil},
		{"mysql", "mysql/cli.pcap", nil},
		{"mongodb", "mongodb/opmsg.pcap", nil},
		{"mongodb", "mongodb/legacy.pcap", nil},
		{"amqp", "amqp/session.pcap", nil},
		{"cassandra", "cassandra/v4.pcap", nil},
		{"memcache", "memcache/text.pcap", nil},
		{"memcache", "memcache/binary.pcap", nil},
		{"thrift", "thrift/socket.pcap", nil},
		{"thrift", "thrift/framed.pcap", map[string]any{"transport_type": "framed"}},
		{"nfs", "nfs/v3.pcap", nil},
		{"nfs", "nfs/v4.pcap", nil},
		{"sip", "sip/tcp.pcap", map[string]any{"transport_protocol": "tcp"}},
		{"dns", "dns/tcp.pcap", nil},
	} {
		t.Run(tc.pcap, func(t *testing.T) {
			path := "../../_dev/pcaps/" + tc.pcap
			extra := map[string]map[string]any{tc.proto: tc.opts}
			var byPort protocoltest.Collector
			replay(t, path, build(t, []string{tc.proto}, false, extra, &byPort))
			if len(byPort.Docs) == 0 {
				t.Fatalf("no events by port")
			}
			var byContent protocoltest.Collector
			e := replay(t, path, build(t, detectable, true, extra, &byContent))
			if got := e.Detect.Claimed.Load(); got == 0 {
				t.Errorf("no connection claimed (probed %d)", e.Detect.Probed.Load())
			}
			if len(byContent.Docs) != len(byPort.Docs) {
				t.Fatalf("%d events by content, %d by port", len(byContent.Docs), len(byPort.Docs))
			}
			for i, d := range byContent.Docs {
				nw, _ := d["network"].(map[string]any)
				if nw["detected_by"] != "content" {
					t.Errorf("event %d: network.detected_by = %v", i, nw["detected_by"])
				}
				delete(nw, "detected_by")
				if !reflect.DeepEqual(d, byPort.Docs[i]) {
					a, _ := json.Marshal(d)
					b, _ := json.Marshal(byPort.Docs[i])
					t.Fatalf("event %d differs:\ncontent: %s\nport:    %s", i, a, b)
				}
			}
		})
	}
}

// Megabytes of random and of gzip-compressed bytes over TCP, both ways,
// make no transaction: every connection is dropped from probing.
func TestDetectIgnoresGarbage(t *testing.T) {
	random, gz := garbage(11, 4<<20)
	var col protocoltest.Collector
	e := engine.New(build(t, detectable, true, nil, &col))
	e.TCP = tcp.NewAssembler(tcp.Config{}, e.NewTCPParser)
	ts := time.Unix(1700000000, 0)
	conns := 0
	for _, blob := range [][]byte{random, gz} {
		// Many connections, each starting at a different offset of the
		// blob, so probes see many different first bytes.
		for off := 0; off+64<<10 <= len(blob); off += 61 << 10 {
			conns++
			feed(e, uint16(20000+conns), blob[off:off+64<<10], &ts)
		}
	}
	e.Flush(ts)
	if len(col.Docs) != 0 {
		b, _ := json.Marshal(col.Docs[0])
		t.Fatalf("%d false transactions, first: %s", len(col.Docs), b)
	}
	if p, u := e.Detect.Probed.Load(), e.Detect.Unclaimed.Load(); p != uint64(conns) || u != p {
		t.Errorf("probed %d, unclaimed %d, want %d each", p, u, conns)
	}
}

// feed sends data as one TCP connection from a client port to 5555: the
// client sends the first half, the server the second, in 1400-byte
// segments after a handshake.
func feed(e *engine.Engine, cport uint16, data []byte, ts *time.Time) {
	half := len(data) / 2
	conn(e, cport, 5555, data[:half], data[half:], 1400, ts)
}

// conn sends one TCP connection: a handshake, client bytes then server
// bytes in seg-byte segments, FINs.
func conn(e *engine.Engine, cport, sport uint16, client, server []byte, seg int, ts *time.Time) {
	cli, srv := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.2")
	var seq [2]uint32
	pkt := func(from int, flags uint8, payload []byte) {
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
		e.Packet(&p)
	}
	pkt(0, link.FlagSYN, nil)
	pkt(1, link.FlagSYN|link.FlagACK, nil)
	for d, part := range [][]byte{client, server} {
		for len(part) > 0 {
			n := min(seg, len(part))
			pkt(d, link.FlagACK, part[:n])
			part = part[n:]
		}
	}
	pkt(0, link.FlagFIN|link.FlagACK, nil)
	pkt(1, link.FlagFIN|link.FlagACK, nil)
}

// A request and response fed a byte per segment are still recognised and
// decoded whole; a configured port wins over probing (redis on the HTTP
// port is not probed, so not decoded); a connection whose first 512 bytes
// match nothing is dropped from probing and counted.
func TestDetectByteAtATimeAndPorts(t *testing.T) {
	var col protocoltest.Collector
	insts := build(t, detectable, true, nil, &col)
	e := engine.New(insts)
	e.TCP = tcp.NewAssembler(tcp.Config{}, e.NewTCPParser)
	ts := time.Unix(1700000000, 0)
	req := []byte("GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	conn(e, 40000, 8123, req, resp, 1, &ts)
	redis := []byte("*1\r\n$4\r\nPING\r\n")
	conn(e, 40001, 1, redis, []byte("+PONG\r\n"), 1400, &ts) // port 1: http's configured port
	conn(e, 40002, 6000, bytes.Repeat([]byte("z"), 600), nil, 100, &ts)
	e.Flush(ts)
	if len(col.Docs) != 1 {
		t.Fatalf("%d events, want 1 (the HTTP one)", len(col.Docs))
	}
	d := col.Docs[0]
	if url, _ := d["url"].(map[string]any); url["path"] != "/index.html" || d["network"].(map[string]any)["detected_by"] != "content" {
		t.Errorf("event: %v", d)
	}
	if hr, _ := d["http"].(map[string]any); hr["response"].(map[string]any)["status_code"] != float64(200) {
		t.Errorf("http: %v", d["http"])
	}
	if p, c, u := e.Detect.Probed.Load(), e.Detect.Claimed.Load(), e.Detect.Unclaimed.Load(); p != 2 || c != 1 || u != 1 {
		t.Errorf("probed %d claimed %d unclaimed %d, want 2 1 1", p, c, u)
	}
	if n := e.CountersOf(0).Detected.Load(); n != 1 {
		t.Errorf("http detected %d", n)
	}
	c := &protocol.Conn{Client: netip.MustParseAddrPort("10.1.0.1:40000"), Server: netip.MustParseAddrPort("10.1.0.2:8123"), DetectedAs: "http"}
	if got := e.TCPProtocolOf(c); got != "http" {
		t.Errorf("a panic on a detected connection is blamed on %q", got)
	}
	if n := e.CountersOf(0).Detected.Load(); n != 1 {
		t.Errorf("http detected %d", n)
	}
}

// FuzzProbes feeds every registered probe arbitrary bytes in both
// directions: no panic, the same answer twice, and an answer (yes or no)
// once MaxProbeBytes bytes are there.
func FuzzProbes(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("*1\r\n$4\r\nPING\r\n"))
	f.Add([]byte{0x16, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3})
	f.Add([]byte{0, 0, 0, 8, 4, 210, 22, 47})
	f.Add([]byte("AMQP\x00\x00\x09\x01"))
	f.Add([]byte("INVITE sip:bob@example.com SIP/2.0\r\n"))
	var probes []protocol.Probe
	for _, n := range protocol.Names() {
		if s, _ := protocol.Lookup(n); s.Probe != nil {
			probes = append(probes, s.Probe)
		}
	}
	if len(probes) < len(detectable) {
		f.Fatalf("%d probes registered, want %d", len(probes), len(detectable))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range probes {
			for _, d := range []protocol.Dir{protocol.FromClient, protocol.FromServer} {
				r := p(d, data)
				if r2 := p(d, data); r2 != r {
					t.Fatalf("not deterministic: %v then %v", r, r2)
				}
				if r == protocol.ProbeNeedMore && len(data) >= protocol.MaxProbeBytes {
					t.Fatalf("need-more with %d bytes", len(data))
				}
			}
		}
	})
}

// Real servers (python http.server, redis-server, openssl s_server,
// memcached, PostgreSQL, MariaDB) captured by _dev/capture/detect/capture.sh
// with one client session on their standard ports (std.pcap) and the same
// session on 8123, 7000, 9443, 22122, 6543 and 4406 plus random, gzip and
// SMTP-like traffic (alt.pcap). Decoded by port and by content
// respectively, they give the same transactions, and nothing else.
func TestDetectNonStandardPorts(t *testing.T) {
	summary := func(docs []map[string]any) []string {
		var out []string
		for _, d := range docs {
			s := fmt.Sprint(d["type"], " method=", d["method"], " query=", d["query"], " resource=", d["resource"], " status=", d["status"])
			if tl, ok := d["tls"].(map[string]any); ok {
				s += fmt.Sprint(" tls=", tl["version"], " ", tl["cipher"], " established=", tl["established"])
			}
			out = append(out, s)
		}
		return out
	}
	var std, alt protocoltest.Collector
	replay(t, "../../_dev/pcaps/detect/std.pcap", build(t, detectable, false, nil, &std))
	e := replay(t, "../../_dev/pcaps/detect/alt.pcap", buildDetectKeepPorts(t, &alt))
	a, b := summary(std.Docs), summary(alt.Docs)
	types := map[string]int{}
	for _, d := range std.Docs {
		types[fmt.Sprint(d["type"])]++
	}
	for _, want := range []string{"http", "redis", "tls", "memcache", "pgsql", "mysql"} {
		if types[want] == 0 {
			t.Errorf("no %s transaction on the standard ports (%v)", want, types)
		}
	}
	t.Logf("%d transactions by port: %v", len(a), types)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("by port (%d):\n%s\nby content (%d):\n%s", len(a), strings.Join(a, "\n"), len(b), strings.Join(b, "\n"))
	}
	for i, d := range alt.Docs {
		if d["network"].(map[string]any)["detected_by"] != "content" {
			t.Errorf("event %d (%s) not marked detected", i, b[i])
		}
	}
	// 14 connections: 11 claimed (2 http, 3 redis, 2 tls, 2 memcache, pgsql,
	// mysql), 3 unclaimed (random, gzip, the SMTP-like one).
	if p, c, u := e.Detect.Probed.Load(), e.Detect.Claimed.Load(), e.Detect.Unclaimed.Load(); p != 14 || c != 11 || u != 3 {
		t.Errorf("probed %d claimed %d unclaimed %d, want 14 11 3", p, c, u)
	}
}

// buildDetectKeepPorts is every detectable protocol with detect: true on
// its default ports, as a user turning detection on would configure it.
func buildDetectKeepPorts(t testing.TB, pub protocol.Publisher) []*protocol.Instance {
	extra := map[string]map[string]any{}
	for _, n := range detectable {
		extra[n] = map[string]any{"detect": true}
	}
	return build(t, detectable, false, extra, pub)
}

// garbage returns size bytes of seeded random data and at least size bytes
// of gzip output (compressible text interleaved with random bytes): data
// no probe should claim.
func garbage(seed int64, size int) (random, gz []byte) {
	rng := rand.New(rand.NewSource(seed))
	random = make([]byte, size)
	rng.Read(random)
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	for buf.Len() < size {
		w.Write([]byte("some compressible text, repeated with a counter "))
		b := make([]byte, 64)
		rng.Read(b)
		w.Write(b)
	}
	w.Close()
	return random, buf.Bytes()
}

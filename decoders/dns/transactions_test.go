package dns

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
	"github.com/network-traffic/network-traffic/ecsmap"
)

var (
	t0      = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	udpConn = protocol.Conn{
		Client:     netip.MustParseAddrPort("192.0.2.10:40000"),
		Server:     netip.MustParseAddrPort("192.0.2.53:53"),
		IPProtocol: 17,
	}
	tcpConnInfo = protocol.Conn{
		Client:     netip.MustParseAddrPort("192.0.2.10:40001"),
		Server:     netip.MustParseAddrPort("192.0.2.53:53"),
		IPProtocol: 6,
	}
)

func newTest(cfg Config, common protocol.Common) (*Protocol, *protocoltest.Collector) {
	col := &protocoltest.Collector{Meta: ecsmap.Meta{Dataset: "dns"}}
	if common.TransactionTimeout == 0 {
		common.TransactionTimeout = DefaultTimeout
	}
	return New(common, cfg, col), col
}

func query(id uint16, name string) []byte {
	return cat(header(id, 0x0100, 1, 0, 0, 0), wireName(name), u16(1), u16(1))
}

func answer(id uint16, name string, ip [4]byte) []byte {
	return cat(header(id, 0x8180, 1, 1, 0, 0), wireName(name), u16(1), u16(1),
		rr([]byte{0xC0, 12}, TypeA, 1, 60, ip[:]))
}

func doc(t *testing.T, col *protocoltest.Collector, i int) map[string]any {
	t.Helper()
	if len(col.Docs) <= i {
		t.Fatalf("only %d events", len(col.Docs))
	}
	return col.Docs[i]
}

func TestUnansweredQueryExpires(t *testing.T) {
	p, col := newTest(Config{}, protocol.Common{})
	p.Datagram(&udpConn, protocol.FromClient, query(7, "a.example.com"), t0)
	p.Expire(t0.Add(9 * time.Second))
	if len(col.Docs) != 0 {
		t.Fatalf("published before the timeout")
	}
	p.Expire(t0.Add(10 * time.Second))
	d := doc(t, col, 0)
	for path, want := range map[string]any{
		"status": "Error", "dns.type": "query", "error.message": noteNoResponse,
		"query": "class IN, type A, a.example.com", "dns.question.registered_domain": "example.com",
		"dns.question.subdomain": "a", "dns.question.top_level_domain": "com", "source.bytes": 31.0,
		"source.ip": "192.0.2.10", "destination.port": 53.0, "@timestamp": "2026-01-02T03:04:05Z",
	} {
		if got := protocoltest.Get(d, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if protocoltest.Get(d, "event.end") != nil {
		t.Errorf("one-sided query has event.end")
	}
	if p.Stats().UnmatchedQueries.Load() != 1 {
		t.Errorf("unmatched count %d", p.Stats().UnmatchedQueries.Load())
	}
}

func TestOrphanResponse(t *testing.T) {
	p, col := newTest(Config{}, protocol.Common{})
	p.Datagram(&udpConn, protocol.FromServer, answer(9, "b.example.org", [4]byte{192, 0, 2, 9}), t0)
	d := doc(t, col, 0)
	for path, want := range map[string]any{
		"status": "Error", "dns.type": "answer", "error.message": noteOrphanResponse,
		"destination.bytes": 47.0, "source.ip": "192.0.2.10", "dns.answers_count": 1.0,
	} {
		if got := protocoltest.Get(d, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if p.Stats().UnmatchedResponses.Load() != 1 {
		t.Errorf("unmatched responses %d", p.Stats().UnmatchedResponses.Load())
	}
}

func TestPairingAndDuplicateQuery(t *testing.T) {
	p, col := newTest(Config{}, protocol.Common{})
	p.Datagram(&udpConn, protocol.FromClient, query(5, "c.example.net"), t0)
	p.Datagram(&udpConn, protocol.FromClient, query(5, "c.example.net"), t0.Add(time.Second))
	// Same id from another client port is another transaction.
	other := udpConn
	other.Client = netip.MustParseAddrPort("192.0.2.10:40002")
	p.Datagram(&other, protocol.FromClient, query(5, "d.example.net"), t0.Add(time.Second))
	p.Datagram(&udpConn, protocol.FromServer, answer(5, "c.example.net", [4]byte{192, 0, 2, 5}), t0.Add(1500*time.Millisecond))
	if len(col.Docs) != 2 {
		t.Fatalf("%d events", len(col.Docs))
	}
	if got := protocoltest.Get(col.Docs[0], "error.message"); got != noteDuplicateQuery {
		t.Errorf("first query note %v", got)
	}
	d := col.Docs[1]
	if protocoltest.Get(d, "status") != "OK" || protocoltest.Get(d, "event.duration") != 5e8 || protocoltest.Get(d, "dns.resolved_ip").([]any)[0] != "192.0.2.5" {
		t.Errorf("paired event: %v %v %v", protocoltest.Get(d, "status"), protocoltest.Get(d, "event.duration"), protocoltest.Get(d, "dns.resolved_ip"))
	}
	p.Flush()
	if len(col.Docs) != 3 || protocoltest.Get(col.Docs[2], "query") != "class IN, type A, d.example.net" {
		t.Errorf("flush did not publish the other client's query")
	}
}

func TestEDNSEvent(t *testing.T) {
	p, col := newTest(Config{}, protocol.Common{})
	p.Datagram(&udpConn, protocol.FromClient, cat(header(0x1234, 0x0100, 1, 0, 0, 0), wireName("example.test"), u16(1), u16(1)), t0)
	p.Datagram(&udpConn, protocol.FromServer, ednsResponse(), t0)
	d := doc(t, col, 0)
	for path, want := range map[string]any{
		"dns.opt.version": "0", "dns.opt.do": true, "dns.opt.udp_size": 4096.0, "dns.opt.ext_rcode": "BADSIG",
		"dns.opt.cookie": "0102030405060708", "dns.opt.subnet": "192.0.2.0/24/0", "dns.response_code": "BADSIG",
		"status": "Error", "error.message": noteEDNSUnexpected, "dns.additionals_count": 0.0,
	} {
		if got := protocoltest.Get(d, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
}

func TestGarbageIsCountedNotPublished(t *testing.T) {
	p, col := newTest(Config{}, protocol.Common{})
	rng := rand.New(rand.NewSource(1))
	garbage := [][]byte{nil, {0}, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), bytes.Repeat([]byte{0xC0}, 600)}
	for i := 0; i < 2000; i++ {
		b := make([]byte, rng.Intn(100))
		rng.Read(b)
		garbage = append(garbage, b)
	}
	for _, g := range garbage {
		p.Datagram(&udpConn, protocol.FromClient, g, t0)
		p.Datagram(&udpConn, protocol.FromServer, g, t0)
	}
	p.Flush()
	st := p.Stats()
	if st.ParseErrors.Load() == 0 || st.ParseErrors.Load()+st.Messages.Load() != uint64(2*len(garbage)) {
		t.Errorf("parse errors %d + messages %d != %d datagrams", st.ParseErrors.Load(), st.Messages.Load(), 2*len(garbage))
	}
	if uint64(len(col.Docs)) != st.Events.Load() {
		t.Errorf("events %d vs counter %d", len(col.Docs), st.Events.Load())
	}
}

func TestPendingIsBounded(t *testing.T) {
	p, col := newTest(Config{}, protocol.Common{})
	q := query(0, "e.example.com")
	for i := 0; i < maxPendingUDP+10; i++ {
		// Distinct clients so every query is its own transaction.
		c := udpConn
		c.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 16), byte(i >> 8)}), uint16(i))
		binary.BigEndian.PutUint16(q, uint16(i))
		p.Datagram(&c, protocol.FromClient, q, t0)
	}
	if p.order.n != maxPendingUDP || len(p.udp) != maxPendingUDP || p.Stats().Evicted.Load() != 10 || len(col.Docs) != 10 {
		t.Errorf("pending %d/%d evicted %d events %d", p.order.n, len(p.udp), p.Stats().Evicted.Load(), len(col.Docs))
	}

	// Large queries: the byte budget binds first.
	p, _ = newTest(Config{}, protocol.Common{})
	big := cat(header(0, 0x0100, 1, 0, 0, 1), wireName("big.example.com"), u16(1), u16(1),
		rr([]byte{0}, 0xFF00, 1, 0, make([]byte, 60000)))
	for i := 0; i < 400; i++ {
		binary.BigEndian.PutUint16(big, uint16(i))
		p.Datagram(&udpConn, protocol.FromClient, big, t0)
	}
	if p.order.bytes > maxPendingUDPBytes || p.order.n != maxPendingUDPBytes/len(big) || p.Stats().Evicted.Load() == 0 {
		t.Errorf("big queries: %d pending holding %d bytes, evicted %d", p.order.n, p.order.bytes, p.Stats().Evicted.Load())
	}
}

// feed plays the TCP stream contract: what Parse leaves unconsumed comes
// back with the next bytes.
type feeder struct {
	parser  protocol.TCPParser
	pending [2][]byte
}

func (f *feeder) feed(t *testing.T, dir protocol.Dir, chunk []byte, ts time.Time) {
	buf := append(append([]byte(nil), f.pending[dir]...), chunk...)
	n := f.parser.Parse(dir, buf, ts)
	if n < 0 || n > len(buf) {
		t.Fatalf("consumed %d of %d", n, len(buf))
	}
	f.pending[dir] = buf[n:]
}

func frame(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = append(b, u16(uint16(len(m)))...)
		b = append(b, m...)
	}
	return b
}

// tcpStreams takes the queries and responses of udp.pcap (real dnsmasq
// messages) and frames them as one TCP connection's two streams.
func tcpStreams(t *testing.T) (client, server []byte, n int) {
	var qs, rs [][]byte
	for _, m := range realMessagesOf(t, "udp.pcap") {
		h, _ := ParseHeader(m)
		if h.Response() {
			rs = append(rs, m)
		} else {
			qs = append(qs, m)
		}
	}
	return frame(qs...), frame(rs...), len(rs)
}

func realMessagesOf(t *testing.T, file string) [][]byte {
	var out [][]byte
	for _, m := range pcapMessages(t, file) {
		if _, err := Check(m); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// stripTimes drops the fields that depend on when bytes were fed.
func stripTimes(raw []byte) string {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	delete(m, "@timestamp")
	delete(m, "event")
	out, _ := json.Marshal(m)
	return string(out)
}

func TestTCPFramingSplitsAndBatches(t *testing.T) {
	client, server, n := tcpStreams(t)
	run := func(chunk int) []string {
		p, col := newTest(Config{}, protocol.Common{})
		f := &feeder{parser: p.NewConn(&tcpConnInfo)}
		for _, s := range []struct {
			dir  protocol.Dir
			data []byte
		}{{protocol.FromClient, client}, {protocol.FromServer, server}} {
			for i := 0; i < len(s.data); i += chunk {
				f.feed(t, s.dir, s.data[i:min(i+chunk, len(s.data))], t0)
			}
		}
		f.parser.Close(t0)
		var out []string
		for _, r := range col.Raw {
			out = append(out, stripTimes(r))
		}
		if p.Stats().ParseErrors.Load() != 0 {
			t.Errorf("chunk %d: parse errors", chunk)
		}
		return out
	}
	// All messages in one segment each way: several per segment.
	whole := run(len(client) + len(server))
	if len(whole) != n+1 { // + the query that was never answered
		t.Fatalf("%d events, want %d", len(whole), n+1)
	}
	for _, chunk := range []int{1, 2, 3, 7, 61, 100} {
		got := run(chunk)
		if len(got) != len(whole) {
			t.Fatalf("chunk %d: %d events, want %d", chunk, len(got), len(whole))
		}
		for i := range got {
			if got[i] != whole[i] {
				t.Errorf("chunk %d event %d differs:\n%s\n%s", chunk, i, got[i], whole[i])
			}
		}
	}
}

func TestTCPZeroLengthAndGarbage(t *testing.T) {
	p, col := newTest(Config{}, protocol.Common{})
	c := p.NewConn(&tcpConnInfo)
	c.Parse(protocol.FromClient, frame(query(1, "f.example.com"), query(2, "g.example.com")), t0)
	// A framed message that is not DNS: the oldest query closes with a note.
	c.Parse(protocol.FromServer, frame([]byte("not dns at all")), t0)
	if len(col.Docs) != 1 || protocoltest.Get(col.Docs[0], "error.message") != responsePrefix+noteNotDNS {
		t.Fatalf("non-DNS response: %v", col.Docs)
	}
	// A zero length loses the framing: the search for the next message
	// (resyncProbe) finds the answer after it, paired with its query by id.
	data := append([]byte{0, 0}, frame(answer(2, "g.example.com", [4]byte{1, 2, 3, 4}))...)
	if n := c.Parse(protocol.FromServer, data, t0); n != len(data) {
		t.Errorf("consumed %d of %d", n, len(data))
	}
	if len(col.Docs) != 2 || protocoltest.Get(col.Docs[1], "error.message") != nil ||
		protocoltest.Get(col.Docs[1], "dns.question.name") != "g.example.com" {
		t.Fatalf("after zero length: %v", col.Docs)
	}
	st := p.Stats()
	if st.ParseErrors.Load() != 2 || st.Resync.Resynced.Load() != 1 || st.Resync.SkippedBytes.Load() != 2 {
		t.Errorf("parse errors %d resynced %d skipped %d", st.ParseErrors.Load(), st.Resync.Resynced.Load(), st.Resync.SkippedBytes.Load())
	}
}

func TestTCPGapAndClose(t *testing.T) {
	p, col := newTest(Config{}, protocol.Common{})
	c := p.NewConn(&tcpConnInfo)
	c.Parse(protocol.FromClient, frame(query(3, "h.example.com")), t0)
	c.Parse(protocol.FromClient, frame(query(4, "k.example.com")), t0)
	c.Gap(protocol.FromServer, 100, t0)
	// After the gap the next response is found (the tail of the lost one
	// skipped) and pairs with its own query by id.
	c.Parse(protocol.FromServer, append([]byte("tail of a lost answer"), frame(answer(3, "h.example.com", [4]byte{1, 2, 3, 4}))...), t0)
	if len(col.Docs) != 1 || protocoltest.Get(col.Docs[0], "dns.question.name") != "h.example.com" || protocoltest.Get(col.Docs[0], "error.message") != nil {
		t.Fatalf("after a gap: %v", col.Docs)
	}
	c.Expire(t0.Add(time.Second))
	if len(col.Docs) != 1 {
		t.Fatalf("expired early")
	}
	c.Close(t0.Add(2 * time.Second))
	if len(col.Docs) != 2 || protocoltest.Get(col.Docs[1], "error.message") != noteNoResponse || protocoltest.Get(col.Docs[1], "network.transport") != "tcp" {
		t.Fatalf("close: %v", col.Docs)
	}
}

func TestTCPIncompleteResponseAtFin(t *testing.T) {
	p, col := newTest(Config{}, protocol.Common{})
	c := p.NewConn(&tcpConnInfo)
	c.Parse(protocol.FromClient, frame(query(4, "i.example.com"), query(5, "j.example.com")), t0)
	resp := frame(answer(4, "i.example.com", [4]byte{1, 2, 3, 4}))
	if n := c.Parse(protocol.FromServer, resp[:10], t0); n != 0 {
		t.Fatalf("consumed %d bytes of a partial message", n)
	}
	c.Fin(protocol.FromServer, t0)
	if len(col.Docs) != 1 || protocoltest.Get(col.Docs[0], "error.message") != responsePrefix+noteIncomplete ||
		protocoltest.Get(col.Docs[0], "query") != "class IN, type A, i.example.com" {
		t.Fatalf("fin: %v", col.Docs)
	}
	c.Close(t0)
	if len(col.Docs) != 2 || protocoltest.Get(col.Docs[1], "error.message") != noteNoResponse {
		t.Fatalf("close: %v", col.Docs)
	}
}

func TestValidDocumentCatchesRepeats(t *testing.T) {
	if validDocument([]byte(`{"a":{"b":1,"c":[{"b":1},{"b":2}]},"d":"b"}`)) != nil {
		t.Error("rejected a document without repeats")
	}
	if validDocument([]byte(`{"a":{"b":1,"b":2}}`)) == nil {
		t.Error("accepted a repeated key")
	}
	for _, m := range realMessages(t) {
		checkEventJSON(t, m)
	}
	checkEventJSON(t, ednsResponse())
}

func TestOptionsDecode(t *testing.T) {
	spec, _ := protocol.Lookup("dns")
	_, opts, err := protocol.SplitCommon(spec, map[string]any{"include_authorities": true, "bogus": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spec.New(protocol.Common{}, opts, protocol.PublisherFunc(func(ecsmap.Event) {})); err == nil {
		t.Errorf("unknown option accepted")
	}
	if spec.DefaultTimeout != 10*time.Second || len(spec.DefaultPorts) != 1 || spec.DefaultPorts[0] != 53 || !spec.TCP || !spec.UDP {
		t.Errorf("spec defaults %+v", spec)
	}
}

// checkEventJSON runs data through the event path as both query and
// response and checks the document is valid JSON.
func checkEventJSON(t *testing.T, data []byte) {
	p := New(protocol.Common{SendRequest: true, SendResponse: true, TransactionTimeout: time.Second},
		Config{IncludeAuthorities: true, IncludeAdditionals: true}, protocol.PublisherFunc(func(ecsmap.Event) {}))
	ev := buildEvent(p, endpointsOf(&udpConn, false), data, len(data), t0, data, len(data), t0, nil)
	var w ecsmap.Writer
	out := ecsmap.Encode(&w, ev, &ecsmap.Meta{Dataset: "dns"})
	if err := validDocument(out); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

// validDocument checks the JSON is valid and no object repeats a key
// (json.Valid accepts repeats; Elasticsearch rejects them).
func validDocument(doc []byte) error {
	if !json.Valid(doc) {
		return errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		keys  map[string]bool
		isObj bool
		atKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.isObj {
					top.atKey = true
				}
				stack = append(stack, &frame{keys: map[string]bool{}, isObj: v == '{', atKey: true})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.isObj && top.atKey {
				if top.keys[v] {
					return fmt.Errorf("duplicate key %q", v)
				}
				top.keys[v] = true
				top.atKey = false
				continue
			}
		}
		if top != nil && top.isObj {
			top.atKey = true
		}
	}
}

func FuzzTCPStream(f *testing.F) {
	// Small seeds keep minimisation of new inputs quick: two real
	// query/response pairs, and a stream with a zero length.
	msgs := realMessages(f)
	f.Add(frame(msgs[0], msgs[2]), frame(msgs[3], msgs[1]), uint16(5))
	f.Add(frame(query(1, "a.b")), []byte{0, 0, 1}, uint16(1))
	var w ecsmap.Writer
	meta := &ecsmap.Meta{Dataset: "dns"}
	f.Fuzz(func(t *testing.T, client, server []byte, split uint16) {
		pub := protocol.PublisherFunc(func(ev ecsmap.Event) {
			if out := ecsmap.Encode(&w, ev, meta); validDocument(out) != nil {
				t.Fatalf("%v: %s", validDocument(out), out)
			}
		})
		p := New(protocol.Common{SendRequest: true, SendResponse: true, TransactionTimeout: time.Second},
			Config{IncludeAuthorities: true, IncludeAdditionals: true}, pub)
		fd := &feeder{parser: p.NewConn(&tcpConnInfo)}
		for _, s := range []struct {
			dir  protocol.Dir
			data []byte
		}{{protocol.FromClient, client}, {protocol.FromServer, server}} {
			cut := int(split) % (len(s.data) + 1)
			fd.feed(t, s.dir, s.data[:cut], t0)
			fd.feed(t, s.dir, s.data[cut:], t0)
		}
		fd.parser.Expire(t0.Add(time.Hour))
		fd.parser.Close(t0)
		if len(fd.pending[0]) > 65537 || len(fd.pending[1]) > 65537 {
			t.Fatalf("kept %d/%d bytes", len(fd.pending[0]), len(fd.pending[1]))
		}
	})
}

func BenchmarkUDPTransaction(b *testing.B) {
	var msgs [][]byte
	for _, m := range pcapMessages(b, "udp.pcap") {
		if _, err := Check(m); err == nil {
			msgs = append(msgs, m)
		}
	}
	var w ecsmap.Writer
	meta := &ecsmap.Meta{Dataset: "dns"}
	bytesOut := 0
	p := New(protocol.Common{TransactionTimeout: 10 * time.Second}, Config{}, protocol.PublisherFunc(func(ev ecsmap.Event) {
		bytesOut += len(ecsmap.Encode(&w, ev, meta))
	}))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range msgs {
			h, _ := ParseHeader(m)
			dir := protocol.FromClient
			if h.Response() {
				dir = protocol.FromServer
			}
			p.Datagram(&udpConn, dir, m, t0)
		}
		p.Flush()
	}
	b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// TestAllocationsPerTransaction pins the cost of a query/response pair
// (parse, event, strings), excluding JSON encoding. The per-packet parts
// (Check, pairing, the recycled query copy) allocate nothing; what remains
// is per transaction.
func TestAllocationsPerTransaction(t *testing.T) {
	q := query(0x4242, "www.example.com")
	r := answer(0x4242, "www.example.com", [4]byte{192, 0, 2, 1})
	p := New(protocol.Common{TransactionTimeout: time.Second}, Config{}, protocol.PublisherFunc(func(ecsmap.Event) {}))
	pair := func() {
		p.Datagram(&udpConn, protocol.FromClient, q, t0)
		p.Datagram(&udpConn, protocol.FromServer, r, t0)
	}
	pair() // warm the pending free list and the map
	allocs := testing.AllocsPerRun(200, pair)
	t.Logf("%.0f allocations per transaction", allocs)
	if allocs > 5 {
		t.Errorf("%.0f allocations per transaction, want at most 5", allocs)
	}
	queryOnly := testing.AllocsPerRun(200, func() {
		p.Datagram(&udpConn, protocol.FromClient, q, t0)
		p.order.remove(p.udp[txKey{udpConn.Client, udpConn.Server, 0x4242, 0}])
		p.recycle(p.udp[txKey{udpConn.Client, udpConn.Server, 0x4242, 0}])
		delete(p.udp, txKey{udpConn.Client, udpConn.Server, 0x4242, 0})
	})
	if queryOnly != 0 {
		t.Errorf("a query datagram allocates %.1f times", queryOnly)
	}
}

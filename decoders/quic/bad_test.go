package quic

import (
	"bytes"
	"math/rand"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

// TestUndecryptableInitials: the client's Initials of a real connection
// with one ciphertext byte changed fail to decrypt; they are counted, the
// server's side still decodes, and the event says the handshake is not
// known (status Error, no client fingerprint).
func TestUndecryptableInitials(t *testing.T) {
	ds := datagrams(t, "gov1.pcap")
	n := 0
	for i := range ds {
		if h, _, err := parseLong(ds[i].payload); err == nil && ds[i].dir == 0 && h.kind == kindInitial {
			ds[i].payload[len(h.pkt)-1] ^= 0x55 // the AEAD tag of the datagram's first packet, the Initial
			n++
		}
	}
	p, col := newProto(t, nil)
	feed(p, ds)
	p.Flush()
	if got := p.stats.DecryptErrors.Load(); got != int64(n) || n < 2 {
		t.Errorf("%d decrypt errors for %d changed Initials", got, n)
	}
	if len(col.Docs) != 1 {
		t.Fatalf("%d events", len(col.Docs))
	}
	protocoltest.ExpectFields(t, col.Docs[0], map[string]any{
		"status": "Error", "tls.client.ja4": nil, "tls.cipher": "TLS_AES_128_GCM_SHA256",
		"quic.undecryptable_packets": n, "quic.version": "1",
	}, "gov1 with bad client Initials")
}

// TestCryptoHoleNeverFills drops the client Initial that completes the
// ClientHello (quic-go spreads it over two): the hole never fills, the
// connection is published at transaction_timeout as far as it is known,
// the incomplete hello counted, and no state is left.
func TestCryptoHoleNeverFills(t *testing.T) {
	ds := datagrams(t, "gov1.pcap")
	var kept []dgram
	clientDgrams, initials := 0, 0
	for _, d := range ds {
		if d.dir == 0 {
			clientDgrams++
			if clientDgrams == 2 {
				continue // the second client datagram
			}
		}
		if d.dir == 0 && d.payload[0]&0xb0 == 0x80 {
			initials++
		}
		kept = append(kept, d)
	}
	p, col := newProto(t, map[string]any{"transaction_timeout": "5s"})
	feed(p, kept)
	if len(col.Docs) != 0 || len(p.conns) != 1 {
		t.Fatalf("%d events, %d connections before the timeout", len(col.Docs), len(p.conns))
	}
	p.Expire(kept[0].ts.Add(6 * time.Second))
	if len(p.conns) != 0 {
		t.Errorf("%d connections left after expiry", len(p.conns))
	}
	if p.stats.Incomplete.Load() != 1 || len(col.Docs) != 1 {
		t.Fatalf("incomplete %d, events %d", p.stats.Incomplete.Load(), len(col.Docs))
	}
	protocoltest.ExpectFields(t, col.Docs[0], map[string]any{
		"status": "Error", "tls.client.ja4": nil, "tls.cipher": "TLS_AES_128_GCM_SHA256",
		"quic.client.initial_packets": initials,
	}, "gov1 without its second Initial")
}

// TestMaxConnections: beyond max_connections new connections are counted
// and not decoded; the tracked one still is.
func TestMaxConnections(t *testing.T) {
	p, col := newProto(t, map[string]any{"max_connections": 1})
	feed(p, datagrams(t, "retry.pcap"))
	p.Flush()
	if p.stats.TableFull.Load() == 0 || len(col.Docs) != 1 {
		t.Errorf("table full %d, events %d", p.stats.TableFull.Load(), len(col.Docs))
	}
}

func TestOptions(t *testing.T) {
	for opts, want := range map[string]map[string]any{
		"quic: unknown option \"raw_ja4\"":                    {"raw_ja4": true},
		"quic: max_connections: must not be negative, got -1": {"max_connections": -1},
		"quic: max_connections: must be at least 1":           {"max_connections": 0},
	} {
		spec, _ := protocol.Lookup("quic")
		common, o, err := protocol.SplitCommon(spec, want)
		if err == nil {
			_, err = spec.New(common, o, nil)
		}
		if err == nil || err.Error() != opts {
			t.Errorf("%v: error %v, want %q", want, err, opts)
		}
	}
	// include_detailed_fields false drops tls.detailed, keeps the rest.
	p, col := newProto(t, map[string]any{"include_detailed_fields": false})
	feed(p, datagrams(t, "gov1.pcap"))
	if len(col.Docs) != 1 || protocoltest.Get(col.Docs[0], "tls.detailed") != nil || protocoltest.Get(col.Docs[0], "tls.client.ja4") == nil {
		t.Errorf("include_detailed_fields false: %v", col.Docs)
	}
	_ = p
}

// TestCryptoReassembly: a hello cut in overlapping pieces, shuffled and
// one repeated, comes out whole; the bounds hold.
func TestCryptoReassembly(t *testing.T) {
	msg := make([]byte, 4+3000)
	msg[0], msg[2], msg[3] = 1, 3000>>8, 3000&0xff
	for i := range msg[4:] {
		msg[4+i] = byte(i)
	}
	type piece struct{ off, end int }
	var pieces []piece
	for off := 0; off < len(msg); off += 400 {
		pieces = append(pieces, piece{off, min(off+413, len(msg))})
	}
	pieces = append(pieces, pieces[2])
	rand.New(rand.NewSource(1)).Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
	var s cryptoStream
	var got []byte
	for i, pc := range pieces {
		b, err := s.add(uint64(pc.off), msg[pc.off:pc.end], 1)
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			if got != nil || i < len(pieces)-2 && !s.done {
				t.Fatalf("hello out twice or early")
			}
			got = b
		}
	}
	if !bytes.Equal(got, msg[4:]) {
		t.Fatalf("reassembled %d bytes, want %d", len(got), len(msg)-4)
	}
	if !s.done || s.buf != nil {
		t.Error("buffer kept after the hello")
	}
	// Beyond the length bound.
	var s2 cryptoStream
	if _, err := s2.add(maxCryptoLen, []byte{1}, 1); err != errCryptoBound {
		t.Errorf("offset beyond bound: %v", err)
	}
	// A hello claiming more than the bound.
	var s5 cryptoStream
	if _, err := s5.add(0, []byte{1, 0xff, 0xff, 0xff}, 1); err != errCryptoBound {
		t.Errorf("huge hello length: %v", err)
	}
	// More holes than spans allowed.
	var s3 cryptoStream
	var err error
	for i := 0; i <= maxCryptoSpans && err == nil; i++ {
		_, err = s3.add(uint64(10+20*i), []byte{1, 2}, 1)
	}
	if err != errCryptoBound || !s3.done {
		t.Errorf("span storm: %v", err)
	}
	// Wrong first message.
	var s4 cryptoStream
	if _, err := s4.add(0, []byte{2, 0, 0, 1, 0}, 1); err != errHelloType {
		t.Errorf("ServerHello where a ClientHello belongs: %v", err)
	}
}

// TestAddressReuse: a new connection from the address and port of one
// already published (its Initial goes to a connection ID the old one never
// used) is decoded as a connection of its own.
func TestAddressReuse(t *testing.T) {
	first := datagrams(t, "gov1.pcap")
	second := datagrams(t, "retry.pcap")
	c := first[0].conn
	n := 0
	for i := range second {
		if second[i].conn.Client != second[0].conn.Client {
			break
		}
		second[i].conn = c
		n++
	}
	p, col := newProto(t, nil)
	feed(p, first)
	feed(p, second[:n])
	p.Flush()
	if len(col.Docs) != 2 {
		t.Fatalf("%d events, want 2", len(col.Docs))
	}
	for i, want := range []string{"q13d0313h3_55b375c5d22e_f902b76752af", "q13d0307h3_55b375c5d22e_1cecd519fee8"} {
		if got := protocoltest.Get(col.Docs[i], "tls.client.ja4"); got != want {
			t.Errorf("event %d: ja4 %v, want %s", i, got, want)
		}
	}
}

// TestClientHelloOverTwoInitials: quic-go's ClientHello (with its
// X25519MLKEM768 key share) does not fit one Initial; it is whole only
// after the second, whose CRYPTO frames come out of order.
func TestClientHelloOverTwoInitials(t *testing.T) {
	ds := datagrams(t, "gov1.pcap")
	var second int // the client's second datagram
	for i, n := 0, 0; i < len(ds); i++ {
		if ds[i].dir == 0 {
			if n++; n == 2 {
				second = i
				break
			}
		}
	}
	p, _ := newProto(t, nil)
	feed(p, ds[:second])
	var st *conn
	for _, s := range p.conns {
		st = s
	}
	if st == nil || st.hello[0] != nil || !st.crypto[0].pending() || len(st.crypto[0].spans) < 2 {
		t.Fatalf("after the first Initial: %+v", st)
	}
	feed(p, ds[second:second+1])
	if st.hello[0] == nil || len(st.hello[0]) < 1200 {
		t.Fatalf("ClientHello not whole after the second Initial")
	}
}

// TestCryptoBudget: the reassembly buffers of all connections share one
// bound; what a finished or failed stream took comes back.
func TestCryptoBudget(t *testing.T) {
	budget := 4096
	var a, b cryptoStream
	a.budget, b.budget = &budget, &budget
	if _, err := a.add(3000, []byte{1}, 1); err != nil || budget != 4096-4096 {
		t.Fatalf("first stream: %v, budget %d", err, budget)
	}
	if _, err := b.add(10, []byte{1}, 1); err != errCryptoBound {
		t.Errorf("second stream over the budget: %v", err)
	}
	a.fail()
	if budget != 4096 {
		t.Errorf("budget %d after release", budget)
	}
	// The real pipeline gives back everything once the connections end.
	p, _ := newProto(t, nil)
	feed(p, datagrams(t, "gov1.pcap"))
	p.Flush()
	if p.cryptoBudget != maxCryptoTotal {
		t.Errorf("budget %d after flush, want %d", p.cryptoBudget, maxCryptoTotal)
	}
}

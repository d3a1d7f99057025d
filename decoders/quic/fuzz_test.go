package quic

import (
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/tls"
	"github.com/network-traffic/network-traffic/ecsmap"
)

// FuzzDatagram feeds a real connection's first client Initial (so keys
// exist) and then an arbitrary datagram in either direction, and encodes
// whatever comes out. The seeds are every datagram of the captures.
func FuzzDatagram(f *testing.F) {
	var first dgram
	for _, name := range pcaps {
		for i, d := range datagrams(f, name) {
			if name == "gov1.pcap" && i == 0 {
				first = d
			}
			f.Add(uint8(d.dir), d.payload)
		}
	}
	f.Fuzz(func(t *testing.T, dir uint8, payload []byte) {
		var w ecsmap.Writer
		meta := ecsmap.Meta{Dataset: "quic"}
		p, _ := newProto(t, map[string]any{"include_raw_ja4": true})
		p.pub = protocol.PublisherFunc(func(ev ecsmap.Event) { ecsmap.Encode(&w, ev, &meta) })
		c := first.conn
		p.Datagram(&c, first.dir, first.payload, first.ts)
		p.Datagram(&c, protocol.Dir(dir&1), payload, first.ts)
		p.Datagram(&c, protocol.Dir(dir&1)^1, payload, first.ts)
		p.Flush()
	})
}

// FuzzFrames fuzzes what comes after decryption: the frames of an Initial
// payload, CRYPTO reassembly and the hello parsers behind it. The seeds are
// the decrypted payloads of the captures' Initials.
func FuzzFrames(f *testing.F) {
	for _, name := range pcaps {
		var ks [2]*keys
		for _, d := range datagrams(f, name) {
			h, _, err := parseLong(d.payload)
			if err != nil || h.kind != kindInitial {
				continue
			}
			if ks[0] == nil && d.dir == 0 {
				ks[0], ks[1], _ = initialKeys(paramsFor(h.version), h.dcid)
			}
			if ks[0] == nil {
				continue
			}
			pkt := append([]byte(nil), h.pkt...)
			if plain, _, err := decrypt(ks[d.dir&1], pkt, h.pnOffset, h.length, 0); err == nil {
				f.Add(uint8(d.dir), plain)
			}
		}
	}
	f.Fuzz(func(t *testing.T, dir uint8, plain []byte) {
		var s cryptoStream
		want := byte(1 + dir&1)
		var body []byte
		_ = frames(plain, func(off uint64, data []byte) error {
			b, err := s.add(off, data, want)
			if b != nil {
				body = b
			}
			return err
		})
		if body == nil {
			return
		}
		var base ecsmap.Base
		ch, sh := body, []byte(nil)
		if want == 2 {
			ch, sh = nil, body
		}
		h, err := tls.NewQUICHandshake(ch, sh, tls.HandshakeOptions{RawJA4: true, Detailed: true}, &base)
		if err != nil {
			return
		}
		var w ecsmap.Writer
		w.Reset()
		h.WriteFields(&w)
	})
}

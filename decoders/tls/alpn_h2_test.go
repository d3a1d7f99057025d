package tls

import (
	"path/filepath"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

// HTTP/2 inside TLS is counted by ALPN. tls12.pcap: curl offers
// "h2,http/1.1" and nginx chooses h2 on both connections (tshark:
// tls.handshake.extensions_alpn_str); tls13.pcap offers only http/1.1.
func TestH2ALPNCount(t *testing.T) {
	for name, want := range map[string]int64{"tls12.pcap": 2, "tls13.pcap": 0} {
		inst, _ := protocoltest.New(t, "tls", map[string]any{"ports": []any{443, 8443}})
		protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
		if got := inst.TCP.(*Protocol).stats.H2ALPN.Load(); got != want {
			t.Errorf("%s: %d HTTP/2-by-ALPN connections, want %d", name, got, want)
		}
	}
	// A TLS 1.3 server's choice is encrypted: the client's offer decides.
	offer := &hello{exts: []extension{{code: extALPN, data: []byte{0, 6, 2, 'h', '2', 2, 'h', '3'}}}}
	if !negotiatesH2(offer, &hello{}) || negotiatesH2(&hello{}, &hello{}) {
		t.Error("negotiatesH2 on the client's offer")
	}
}

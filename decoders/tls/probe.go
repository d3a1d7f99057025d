package tls

import "github.com/network-traffic/network-traffic/decoders/protocol"

// probe recognises a TLS handshake record carrying a ClientHello (client)
// or a ServerHello (server): content type 22, version 3.x, a record length
// within the TLS bound, then the handshake header with a 3.x version.
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	want := byte(1) // client_hello
	if dir == protocol.FromServer {
		want = 2 // server_hello
	}
	// record: type(1) version(2) length(2); handshake: type(1) length(3)
	// client_version(2). Each byte is checked as soon as it is there, so a
	// direction fed a byte at a time is refused as early as possible.
	for i := 0; i < 11; i++ {
		if i >= len(data) {
			return protocol.ProbeNeedMore
		}
		ok := true
		switch i {
		case 0:
			ok = data[0] == 22
		case 1, 9:
			ok = data[i] == 3
		case 2, 10:
			ok = data[i] <= 4
		case 4:
			l := int(data[3])<<8 | int(data[4])
			ok = l >= 4 && l <= 16384+2048
		case 5:
			ok = data[5] == want
		case 6:
			ok = data[6] == 0 // a hello is under 64 KiB
		case 8:
			ok = int(data[7])<<8|int(data[8]) >= 38 // version, random, session id length
		}
		if !ok {
			return protocol.ProbeNo
		}
	}
	return protocol.ProbeYes
}

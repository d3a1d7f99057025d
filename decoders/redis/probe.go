package redis

import "github.com/network-traffic/network-traffic/decoders/protocol"

// probe recognises a client command in RESP: an array header "*<n>\r\n"
// followed by a bulk string header "$<len>\r\n" (every client library sends
// commands this way; inline commands are too loose to claim).
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		return protocol.ProbeNo
	}
	rest, r := respHeader(data, '*')
	if r != protocol.ProbeYes {
		return r
	}
	_, r = respHeader(rest, '$')
	return r
}

// respHeader checks "<kind><digits>\r\n" at the start of b (1 to 9 digits)
// and returns what follows it.
func respHeader(b []byte, kind byte) ([]byte, protocol.ProbeResult) {
	if len(b) == 0 {
		return nil, protocol.ProbeNeedMore
	}
	if b[0] != kind {
		return nil, protocol.ProbeNo
	}
	i := 1
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i > 9 {
			return nil, protocol.ProbeNo
		}
	}
	if i == len(b) {
		return nil, protocol.ProbeNeedMore
	}
	if i == 1 || b[i] != '\r' {
		return nil, protocol.ProbeNo
	}
	if i+1 == len(b) {
		return nil, protocol.ProbeNeedMore
	}
	if b[i+1] != '\n' {
		return nil, protocol.ProbeNo
	}
	return b[i+2:], protocol.ProbeYes
}

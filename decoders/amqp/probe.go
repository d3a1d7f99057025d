package amqp

import "github.com/network-traffic/network-traffic/decoders/protocol"

// probe recognises the protocol header a client sends first: "AMQP" and
// four version bytes (0-9-1 is 0,0,9,1; older brokers' 0-9 and 0-8 headers
// differ only there).
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		return protocol.ProbeNo
	}
	const magic = "AMQP"
	n := min(len(data), len(magic))
	if string(data[:n]) != magic[:n] {
		return protocol.ProbeNo
	}
	if len(data) < 8 {
		return protocol.ProbeNeedMore
	}
	if data[4] > 3 || data[5] > 1 || data[6] > 9 || data[7] > 9 {
		return protocol.ProbeNo
	}
	return protocol.ProbeYes
}

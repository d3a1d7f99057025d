package sip

import (
	"bytes"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

var probeMethods = []string{"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK",
	"SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"}

// probe recognises a SIP request line ("INVITE sip:bob@example.com
// SIP/2.0") from the client or a status line ("SIP/2.0 200 OK") from a
// server joined mid-stream.
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		const p = "SIP/2.0 "
		n := min(len(data), len(p))
		if string(data[:n]) != p[:n] {
			return protocol.ProbeNo
		}
		if n < len(p) {
			return protocol.ProbeNeedMore
		}
		return protocol.ProbeYes
	}
	sp := bytes.IndexByte(data, ' ')
	if sp < 0 {
		if len(data) > len("SUBSCRIBE") {
			return protocol.ProbeNo
		}
		for _, m := range probeMethods {
			if len(data) <= len(m) && m[:len(data)] == string(data) {
				return protocol.ProbeNeedMore
			}
		}
		return protocol.ProbeNo
	}
	known := false
	for _, m := range probeMethods {
		known = known || string(data[:sp]) == m
	}
	if !known {
		return protocol.ProbeNo
	}
	end := bytes.IndexByte(data, '\n')
	if end < 0 {
		if len(data) >= protocol.MaxProbeBytes {
			return protocol.ProbeNo
		}
		return protocol.ProbeNeedMore
	}
	line := bytes.TrimSuffix(data[sp+1:end], []byte("\r"))
	if !bytes.HasSuffix(line, []byte(" SIP/2.0")) {
		return protocol.ProbeNo
	}
	return protocol.ProbeYes
}

// resyncProbe recognises a SIP start line anywhere in a TCP stream, for
// protocol.Resync.ScanLines after a gap: a line that parses as a request
// line or a status line. Either side of a SIP connection may send
// requests and responses, so the direction is not used. SIP over TCP
// publishes each message on its own (no pairing), so a resynchronised
// direction cannot mis-pair.
func resyncProbe(_ protocol.Dir, data []byte) protocol.ProbeResult {
	if len(data) == 0 {
		return protocol.ProbeNeedMore
	}
	if c := data[0]; c < 'A' || c > 'Z' {
		return protocol.ProbeNo
	}
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return protocol.ProbeNeedMore
	}
	var m Message
	if m.startLine(trimCR(data[:nl])) != nil {
		return protocol.ProbeNo
	}
	return protocol.ProbeYes
}

package pgsql

import "github.com/network-traffic/network-traffic/decoders/protocol"

// resyncProbe recognises a message start in the middle of a connection,
// for protocol.Resync after a gap (the detection probe only knows the
// untyped startup messages, which never come again). From the client: a
// typed frontend message header with a bounded length, a Query also ending
// with the NUL its length puts there; inside message text this needs a
// letter followed by two NUL bytes, rare in SQL. From the server: only
// ReadyForQuery ('Z', length 5, status I, T or E), whose six bytes are all
// but fixed, and after which the next batch starts clean: a gap in results
// is skipped to the end of its batch rather than guessed at.
func resyncProbe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if len(data) == 0 {
		return protocol.ProbeNeedMore
	}
	if dir == protocol.FromServer {
		const ready = "Z\x00\x00\x00\x05"
		n := min(len(data), len(ready))
		if string(data[:n]) != ready[:n] {
			return protocol.ProbeNo
		}
		if len(data) <= len(ready) {
			return protocol.ProbeNeedMore
		}
		switch data[len(ready)] {
		case 'I', 'T', 'E':
			return protocol.ProbeYes
		}
		return protocol.ProbeNo
	}
	if !clientType(data[0]) {
		return protocol.ProbeNo
	}
	if len(data) < headerLen {
		// The length's high byte is 0 (bounded): refuse at once if not.
		if len(data) > 1 && data[1] != 0 {
			return protocol.ProbeNo
		}
		return protocol.ProbeNeedMore
	}
	t, l, err := header(0, data)
	if err != nil || l > maxResyncLen {
		return protocol.ProbeNo
	}
	if t == 'Q' {
		switch {
		case len(data) > l:
			if data[l] != 0 {
				return protocol.ProbeNo
			}
		case 1+l <= protocol.MaxProbeBytes:
			return protocol.ProbeNeedMore
		}
	}
	return protocol.ProbeYes
}

package mysql

import "github.com/network-traffic/network-traffic/decoders/protocol"

// commandProbe recognises a client command packet in the middle of a
// connection, for protocol.Resync after a gap (the detection probe only
// knows the server greeting). A command starts a sequence (id 0) with a
// known command byte; its length is bounded (a command that long after a
// gap is not worth the risk), and the commands whose payload is text
// (COM_QUERY, COM_INIT_DB, COM_STMT_PREPARE) must be printable as far as
// the window shows, the fixed-size ones must have their size. Server
// packets are not probed: MySQL clients wait for each response, so the
// server direction resynchronises at the next command instead.
func commandProbe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		return protocol.ProbeNo
	}
	if len(data) >= 3 && data[2] != 0 { // longer than 64 KiB
		return protocol.ProbeNo
	}
	if len(data) >= 4 && data[3] != 0 {
		return protocol.ProbeNo
	}
	if len(data) >= 5 && (data[4] < comQuit || data[4] > comLast) {
		return protocol.ProbeNo
	}
	if len(data) < 5 {
		return protocol.ProbeNeedMore
	}
	plen := le24(data)
	switch data[4] {
	case comQuit, comPing, 0x09 /* COM_STATISTICS */, 0x1f /* COM_RESET_CONNECTION */ :
		if plen != 1 {
			return protocol.ProbeNo
		}
	case comStmtClose:
		if plen != 5 {
			return protocol.ProbeNo
		}
	case comQuery, 0x02 /* COM_INIT_DB */, comStmtPrepare:
		if plen < 2 {
			return protocol.ProbeNo
		}
		text := data[5:min(len(data), 4+plen)]
		for _, c := range text {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return protocol.ProbeNo
			}
		}
		if len(data) < 4+plen && len(data) < protocol.MaxProbeBytes {
			return protocol.ProbeNeedMore
		}
	}
	return protocol.ProbeYes
}

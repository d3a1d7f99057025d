package http

import (
	"bytes"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

var probeMethods = []string{"GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH",
	"CONNECT", "TRACE", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH"}

// probe recognises an HTTP/1.x request line ("GET /x HTTP/1.1\r\n") from the
// client, or a status line ("HTTP/1.1 200") from a server joined mid-stream.
func probe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromServer {
		return probePrefix(data, "HTTP/1.")
	}
	// The method is at most 9 bytes: look for its space only there, so a
	// probe asked at every offset of a body (resynchronisation) costs a few
	// bytes per offset, not the rest of the body.
	sp := bytes.IndexByte(data[:min(len(data), maxProbeMethod+1)], ' ')
	if sp < 0 {
		if len(data) > 10 || !methodPrefix(data) {
			return protocol.ProbeNo
		}
		return protocol.ProbeNeedMore
	}
	if !isMethod(data[:sp]) {
		return protocol.ProbeNo
	}
	line := data[sp+1:]
	if len(line) == 0 {
		return protocol.ProbeNeedMore
	}
	if c := line[0]; c != '/' && c != '*' && !isAlnum(c) {
		return protocol.ProbeNo
	}
	end := bytes.IndexByte(line, '\n')
	if end < 0 {
		for _, c := range line {
			if c < 0x20 && c != '\r' || c == 0x7f {
				return protocol.ProbeNo
			}
		}
		if len(data) >= protocol.MaxProbeBytes {
			return protocol.ProbeYes // a long URL, printable so far
		}
		return protocol.ProbeNeedMore
	}
	line = bytes.TrimSuffix(line[:end], []byte("\r"))
	v := bytes.LastIndexByte(line, ' ')
	if v < 0 || !bytes.HasPrefix(line[v+1:], []byte("HTTP/1.")) || len(line)-v-1 != len("HTTP/1.1") {
		return protocol.ProbeNo
	}
	return protocol.ProbeYes
}

const maxProbeMethod = len("PROPPATCH")

func isMethod(b []byte) bool {
	for _, m := range probeMethods {
		if string(b) == m {
			return true
		}
	}
	return false
}

func methodPrefix(b []byte) bool {
	for _, m := range probeMethods {
		if len(b) <= len(m) && m[:len(b)] == string(b) {
			return true
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// probePrefix answers Yes when data starts with p, NeedMore while data is a
// prefix of p.
func probePrefix(data []byte, p string) protocol.ProbeResult {
	n := min(len(data), len(p))
	if string(data[:n]) != p[:n] {
		return protocol.ProbeNo
	}
	if n < len(p) {
		return protocol.ProbeNeedMore
	}
	return protocol.ProbeYes
}

// resyncProbe is the message-start probe after a gap (protocol.Resync):
// a request line as probe checks it, or a whole status-line prefix
// ("HTTP/1.1 200 ", version digit, three-digit code, then a space or the
// line end), stricter than probe's, since bodies are scanned too.
func resyncProbe(dir protocol.Dir, data []byte) protocol.ProbeResult {
	if dir == protocol.FromClient {
		return probe(dir, data)
	}
	if r := probePrefix(data, "HTTP/1."); r != protocol.ProbeYes {
		return r
	}
	const n = len("HTTP/1.1 200 ")
	for i := len("HTTP/1."); i < min(len(data), n); i++ {
		c := data[i]
		var ok bool
		switch i {
		case 7:
			ok = c == '0' || c == '1'
		case 8:
			ok = c == ' '
		case 9, 10, 11:
			ok = c >= '0' && c <= '9'
		case 12:
			ok = c == ' ' || c == '\r'
		}
		if !ok {
			return protocol.ProbeNo
		}
	}
	if len(data) < n {
		return protocol.ProbeNeedMore
	}
	return protocol.ProbeYes
}

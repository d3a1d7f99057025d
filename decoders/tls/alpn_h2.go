package tls

// negotiatesH2 reports whether a connection is, by its ALPN, HTTP/2 inside
// TLS: the server chose "h2", or its choice is not visible (TLS 1.3 sends
// it encrypted) and the client offered "h2". Such traffic cannot be
// decoded without the session keys; the count tells how much of it went
// by (Stats.H2ALPN).
func negotiatesH2(ch, sh *hello) bool {
	if d, ok := sh.ext(extALPN); ok {
		p := protocolNames(d)
		return len(p) > 0 && p[0] == "h2"
	}
	if d, ok := ch.ext(extALPN); ok {
		for _, p := range protocolNames(d) {
			if p == "h2" {
				return true
			}
		}
	}
	return false
}

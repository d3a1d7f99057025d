package capture

import (
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/tcp"
)

// Bounds of tables that hold a whole capture's state (TCP connections and
// their buffered bytes, flows, ICMP requests, pending IP fragments, and
// the protocols' UDP transaction tables through protocol.Common.Share) are
// per capture: with N shards each shard gets 1/N of them, so a capture
// holds what one shard held before, whatever N. Traffic that is not spread
// evenly (one busy host pair) reaches its shard's share sooner: evictions
// then start before the capture as a whole is full, and are counted as
// always.

// shareOf divides a per-capture bound among n shards, at least 1 each.
func shareOf(bound, n int) int {
	if n <= 1 {
		return bound
	}
	return max(1, bound/n)
}

// tcpConfig is the assembler configuration of one of n shards.
func tcpConfig(n int) tcp.Config {
	return tcp.Config{
		MaxConnections: shareOf(tcp.DefaultMaxConnections, n),
		MaxTotalBuffer: shareOf(tcp.DefaultMaxTotalBuffer, n),
	}
}

// Fragment-table defaults of the link decoder (link.Options), divided.
const (
	fragDatagrams = 256
	fragBytes     = 4 << 20
)

func shareLink(o link.Options, n int) link.Options {
	if n > 1 {
		o.MaxFragDatagrams = shareOf(fragDatagrams, n)
		o.MaxFragBytes = shareOf(fragBytes, n)
	}
	return o
}

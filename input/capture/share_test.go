package capture

import (
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/tcp"
	"github.com/network-traffic/network-traffic/input/config"
)

// The per-capture bounds of N shards add up to (at most) the bound of one,
// and never reach 0.
func TestBoundsAreDividedAmongShards(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 64} {
		c := tcpConfig(n)
		if c.MaxConnections*n > tcp.DefaultMaxConnections || c.MaxConnections < tcp.DefaultMaxConnections/n ||
			c.MaxTotalBuffer*n > tcp.DefaultMaxTotalBuffer {
			t.Errorf("%d shards: tcp %+v", n, c)
		}
		o := shareLink(linkOptions(config.Interface{}), n)
		if n > 1 && (o.MaxFragDatagrams != fragDatagrams/n || o.MaxFragBytes != fragBytes/n) {
			t.Errorf("%d shards: fragments %+v", n, o)
		}
		if got := (protocol.Common{Shards: n}).Share(65536); got != 65536/n {
			t.Errorf("%d shards: Common.Share(65536) = %d", n, got)
		}
	}
	if got := shareOf(3, 4); got != 1 {
		t.Errorf("shareOf(3, 4) = %d, want at least 1", got)
	}
	if got := (protocol.Common{}).Share(100); got != 100 {
		t.Errorf("no shards: Share(100) = %d", got)
	}
}

package pkgbuild

import (
	"slices"
	"testing"
)

// The data streams come from the protocol registry: every protocol's own
// (memcache's is memcached), plus flow and icmp, and each has a package
// folder.
func TestDataStreamsFromRegistry(t *testing.T) {
	for _, want := range []string{"flow", "icmp", "memcached", "dns", "quic"} {
		if !slices.Contains(DataStreams, want) {
			t.Errorf("%s missing from %v", want, DataStreams)
		}
	}
	if slices.Contains(DataStreams, "memcache") {
		t.Errorf("memcache listed under its stream type: %v", DataStreams)
	}
}

package agent

import (
	"reflect"
	"testing"

	"github.com/network-traffic/network-traffic/input/capture"
)

// DEGRADED names the interface of a capture of several that drops, with
// its own figures since the last evaluation; a restarted counter is no drop.
func TestInterfaceDropsNameTheInterface(t *testing.T) {
	prev := []capture.RingInfo{{Device: "eth0", KernelReceived: 1000, KernelDropped: 0}, {Device: "eth1", KernelReceived: 500, KernelDropped: 10}}
	cur := []capture.RingInfo{{Device: "eth0", KernelReceived: 1500}, {Device: "eth1", KernelReceived: 900, KernelDropped: 70}, {Device: "eth2", KernelReceived: 5, KernelDropped: 3}}
	got := interfaceDrops(prev, cur)
	want := []string{"interface eth1: the kernel dropped 60 of 400 packets", "interface eth2: the kernel dropped 3 of 5 packets"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := interfaceDrops(cur, prev); len(got) != 0 {
		t.Errorf("restarted counters: %q", got)
	}
}

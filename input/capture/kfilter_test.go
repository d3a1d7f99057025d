package capture

import (
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
	"golang.org/x/net/bpf"
)

// A filter compiled for the cooked header is moved to what a SOCK_DGRAM
// socket's filter sees: the EtherType load becomes the protocol metadata
// load, payload loads lose the 16-byte header, and the result is the
// program libpcap itself would have attached.
func TestUncook(t *testing.T) {
	prog, err := kernelFilter(nil, "udp dst port 53", layers.LinkTypeLinuxSLL, 65535, true)
	if err != nil {
		t.Fatal(err)
	}
	var sawProto, sawPayload bool
	for _, ri := range prog {
		if ri.Op&0x07 > 1 || (ri.Op&0xe0 != 0x20 && ri.Op&0xe0 != 0x40 && ri.Op&0xe0 != 0xa0) {
			continue // not a packet load
		}
		switch {
		case ri.K == skfAdOff+uint32(bpf.ExtProto):
			sawProto = true
		case ri.K >= skfAdOff:
			t.Errorf("unexpected metadata load %+v", ri)
		default:
			sawPayload = true
		}
	}
	if !sawProto || !sawPayload {
		t.Fatalf("protocol load %v, payload loads %v: %+v", sawProto, sawPayload, prog)
	}
	// The IPv4 protocol byte is at 9 behind the network header.
	found := false
	for _, ri := range prog {
		if ri.Op == 0x30 && ri.K == 9 { // ldb [9]
			found = true
		}
	}
	if !found {
		t.Errorf("no ldb [9] (IP protocol) in %+v", prog)
	}
	if _, err := uncook(bpf.RawInstruction{Op: 0x28, K: 6}); err == nil || !strings.Contains(err.Error(), "cooked header") {
		t.Errorf("load of the cooked address: err %v", err)
	}
}

// The outgoing prefix falls through to the program behind it.
func TestOutgoingFilterAssembles(t *testing.T) {
	for _, pre := range [][]bpf.Instruction{outgoingFilter(true, 0), outgoingFilter(false, 1)} {
		prog, err := kernelFilter(pre, "", layers.LinkTypeEthernet, 1500, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(prog) != len(pre)+1 || prog[len(prog)-1].K != 1500 {
			t.Fatalf("%+v", prog)
		}
	}
	if outgoingFilter(false, 0) != nil {
		t.Error("no loopback: no prefix")
	}
}

// Ring capacity: a 30 MiB TPACKET_V3 ring of 256 KiB blocks holds three
// 64 KiB frames a block, and about 1900 a block of 60-byte frames.
func TestV3Capacity(t *testing.T) {
	mac := v3MacOffset(false, 14)
	if mac != 86 {
		t.Fatalf("mac offset %d", mac)
	}
	if got := v3Capacity(256<<10, 120, mac, 65535); got != 360 {
		t.Errorf("full frames: %d", got)
	}
	if got := v3Capacity(256<<10, 120, mac, 60); got != 120*((256<<10-48)/160) {
		t.Errorf("small frames: %d", got)
	}
}

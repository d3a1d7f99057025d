package sip

import (
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

func mustSpec(t testing.TB) *protocol.Spec {
	spec, ok := protocol.Lookup("sip")
	if !ok {
		t.Fatal("sip not registered")
	}
	return spec
}

func splitCommon(spec *protocol.Spec, m map[string]any) (protocol.Common, protocol.Options, error) {
	return protocol.SplitCommon(spec, m)
}

package tls

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

func TestDump(t *testing.T) {
	if os.Getenv("TLS_DUMP") == "" {
		t.Skip()
	}
	for _, f := range []string{"tls12.pcap", "tls13.pcap", "mtls.pcap", "alert.pcap"} {
		inst, col := protocoltest.New(t, "tls", map[string]any{})
		protocoltest.Replay(t, filepath.Join("../../_dev/pcaps/tls", f), inst)
		for _, r := range col.Raw {
			fmt.Println(string(r))
		}
	}
}

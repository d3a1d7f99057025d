package hostmeta

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestDirection(t *testing.T) {
	local := NewAddrs([]netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1"), netip.MustParseAddr("127.0.0.1")})
	a := netip.MustParseAddr
	for _, c := range []struct {
		src, dst string
		want     string
	}{
		{"192.0.2.7", "10.0.0.1", "ingress"},
		{"10.0.0.1", "192.0.2.7", "egress"},
		{"::ffff:10.0.0.1", "192.0.2.7", "egress"}, // mapped form of a local address
		{"2001:db8::9", "fd00::1", "ingress"},
		{"127.0.0.1", "127.0.0.1", "ingress"}, // both local: this host serves it
		{"192.0.2.7", "198.51.100.1", ""},     // passing by (a mirror port)
	} {
		if got := Direction(local, a(c.src), a(c.dst)); got != c.want {
			t.Errorf("%s -> %s: %q, want %q", c.src, c.dst, got, c.want)
		}
	}
	if got := Direction(nil, a("10.0.0.1"), a("10.0.0.2")); got != "" {
		t.Errorf("no local addresses: %q", got)
	}
	if got := Direction(local, netip.Addr{}, a("10.0.0.1")); got != "" {
		t.Errorf("no source: %q", got)
	}
}

func TestParseAddrs(t *testing.T) {
	s, err := ParseAddrs([]string{"10.0.0.1", " fd00::1 "})
	if err != nil || s.Len() != 2 || !s.Contains(netip.MustParseAddr("fd00::1")) {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := ParseAddrs([]string{"10.0.0.0/8"}); err == nil || !strings.Contains(err.Error(), "10.0.0.0/8") {
		t.Errorf("a network is not an address: %v", err)
	}
}

// The default source reads this machine: the values are compared with what
// the OS says directly, and a refresh with nothing changed keeps the same
// snapshot (publishers re-render only on a new pointer).
func TestDefaultReadsThisHost(t *testing.T) {
	src := Default()
	snap := src.Current()
	var doc map[string]map[string]any
	if err := json.Unmarshal([]byte("{"+string(snap.Doc)+"}"), &doc); err != nil {
		t.Fatalf("%v: %s", err, snap.Doc)
	}
	hn, _ := os.Hostname()
	ag, host := doc["agent"], doc["host"]
	if ag["name"] != hn || ag["type"] != "packetbeat" || ag["version"] != Version || ag["id"] == "" || ag["ephemeral_id"] == "" {
		t.Errorf("agent %v", ag)
	}
	if host["name"] != hn || host["hostname"] != hn || host["os"].(map[string]any)["type"] != "linux" {
		t.Errorf("host %v", host)
	}
	if raw, err := os.ReadFile("/etc/machine-id"); err == nil && host["id"] != strings.TrimSpace(string(raw)) {
		t.Errorf("host.id %v, /etc/machine-id %q", host["id"], raw)
	}
	if _, ok := host["containerized"].(bool); !ok {
		t.Errorf("host.containerized %v", host["containerized"])
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.(*net.IPNet).IP)
		if !snap.Addrs.Contains(ip) {
			t.Errorf("local addresses miss %s", ip)
		}
	}
	src.Refresh()
	if src.Current() != snap {
		t.Error("a refresh with nothing changed swapped the snapshot")
	}
	// Under Elastic Agent: its id and version, the rest unchanged.
	src.SetAgent(Agent{ID: "agent-1", Version: "9.1.0"})
	defer src.SetAgent(Agent{})
	if s := src.Current(); s == snap || !strings.Contains(string(s.Doc), `"id":"agent-1"`) || !strings.Contains(string(s.Doc), `"version":"9.1.0"`) {
		t.Errorf("after SetAgent: %s", s.Doc)
	}
}

func TestStandaloneIDStable(t *testing.T) {
	h := map[string]any{"id": "3d1219c7c4c5404aaa1f6d2a48adfda4"}
	a, b := standaloneID(h), standaloneID(h)
	if a != b || len(a) != 36 || a[14] != '4' {
		t.Errorf("%q %q", a, b)
	}
	if newUUID() == newUUID() {
		t.Error("ephemeral ids repeat")
	}
}

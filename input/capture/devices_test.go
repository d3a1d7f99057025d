package capture

import (
	"strings"
	"testing"
)

// Route tables as the kernel prints them: the usable default route with
// the lowest metric wins; rejected, down and non-default routes do not.
const route4 = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth1	00000000	0100000A	0003	0	0	200	00000000	0	0	0
eth0	00000000	010200C0	0003	0	0	100	00000000	0	0	0
eth2	00000000	00000000	0201	0	0	1	00000000	0	0	0
eth3	0002000A	00000000	0001	0	0	0	00FFFFFF	0	0	0
`

const route6 = `00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003  wlan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000100 00000001 00000000 00000003  eth0
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001  eth1
`

func TestParseRoutes(t *testing.T) {
	if dev, ok := parseRoute4(strings.NewReader(route4)); !ok || dev != "eth0" {
		t.Errorf("ipv4 default route: %q %v", dev, ok)
	}
	if dev, ok := parseRoute6(strings.NewReader(route6)); !ok || dev != "eth0" {
		t.Errorf("ipv6 default route: %q %v", dev, ok)
	}
	if dev, ok := parseRoute4(strings.NewReader(strings.SplitN(route4, "\n", 2)[0])); ok {
		t.Errorf("header only: %q", dev)
	}
}

// The route parsers read text from the kernel; whatever they get, they
// return a name from it or nothing, and never panic.
func FuzzParseRoutes(f *testing.F) {
	f.Add(route4)
	f.Add(route6)
	f.Add("eth0 00000000 0 zz 0 0 1 00000000")
	f.Fuzz(func(t *testing.T, s string) {
		if dev, ok := parseRoute4(strings.NewReader(s)); ok && !strings.Contains(s, dev) {
			t.Fatalf("ipv4: %q not in input", dev)
		}
		if dev, ok := parseRoute6(strings.NewReader(s)); ok && !strings.Contains(s, dev) {
			t.Fatalf("ipv6: %q not in input", dev)
		}
	})
}

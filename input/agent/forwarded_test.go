package agent

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-client/v7/pkg/proto"
	"github.com/network-traffic/network-traffic/internal/pkgbuild"
	"gopkg.in/yaml.v3"
)

// A stream tagged "forwarded" captures other hosts' traffic (a SPAN port, a
// tap): Fleet's template then gives it add_observer_metadata instead of
// add_host_metadata, so its documents say who observed them (observer.*) and
// carry no host.* of the capturing machine. A stream without the tag keeps
// host.* and has no observer. Both rendered from the package's template, run
// by the real binary under the mock agent.
func TestE2EForwardedStreamIsObserved(t *testing.T) {
	bin := componentBinary(t)
	pcap := filepath.Join(repoRoot(t), "_dev/pcaps/icmp/lo_ping.pcap")
	if _, err := os.Stat(pcap); err != nil {
		t.Skipf("capture %s not present", pcap)
	}
	want := tsharkCount(t, pcap, "icmp.type == 8 || icmpv6.type == 128")
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	a := newFakeAgent(t)
	startComponent(t, a, bin)
	dir := t.TempDir()
	out := filepath.Join(dir, "events.ndjson")
	a.setUnit("packet-default", proto.UnitType_OUTPUT, map[string]any{"type": "file", "path": dir, "filename": "events.ndjson"}, proto.UnitLogLevel_INFO)

	fwd := pcapInput(t, "fwd", "default", pcap, "icmp")
	plain := pcapInput(t, "plain", "default", pcap, "icmp")
	// Rendered again with the tag, as Fleet does when the user adds it.
	fwd["streams"] = []any{renderedStream(t, "fwd", "icmp", map[string]any{"interface": pcap, "tags": []any{"forwarded"}})}
	a.setUnit("packet-default-fwd", proto.UnitType_INPUT, fwd, proto.UnitLogLevel_INFO)
	a.setUnit("packet-default-plain", proto.UnitType_INPUT, plain, proto.UnitLogLevel_INFO)
	a.waitUnit("packet-default-fwd", proto.State_HEALTHY, 20*time.Second)
	a.waitUnit("packet-default-plain", proto.State_HEALTHY, 20*time.Second)

	var tagged, untagged []map[string]any
	waitFor(t, "icmp documents of both units", 20*time.Second, func() (bool, string) {
		tagged, untagged = nil, nil
		for _, d := range byType(readNDJSON(t, out), "icmp") {
			if tags, _ := d["tags"].([]any); len(tags) == 1 && tags[0] == "forwarded" {
				tagged = append(tagged, d)
			} else {
				untagged = append(untagged, d)
			}
		}
		return len(tagged) == want && len(untagged) == want, fmt.Sprintf("tagged %d, untagged %d, want %d each", len(tagged), len(untagged), want)
	})
	for _, d := range tagged {
		if d["host"] != nil {
			t.Fatalf("forwarded document has host: %v", d["host"])
		}
		if got := dig(d, "observer.hostname"); got != hostname {
			t.Fatalf("observer.hostname = %v, want %s", got, hostname)
		}
		// add_observer_metadata lists the addresses of the interfaces that
		// are up and not loopback: none on a host (or network namespace)
		// with only lo.
		ips, _ := dig(d, "observer.ip").([]any)
		if hostIPs := upNonLoopbackAddrs(t); (len(ips) == 0) != (len(hostIPs) == 0) {
			t.Fatalf("observer.ip %v, host has %v", ips, hostIPs)
		}
		if dig(d, "agent.id") != "agent-id-1234" {
			t.Fatalf("agent.id = %v", dig(d, "agent.id"))
		}
	}
	for _, d := range untagged {
		if d["observer"] != nil {
			t.Fatalf("untagged document has observer: %v", d["observer"])
		}
		if got := dig(d, "host.hostname"); got != hostname {
			t.Fatalf("host.hostname = %v, want %s", got, hostname)
		}
	}
}

// renderedStream is one stream as Fleet compiles it: the package's template
// rendered with the default vars and the given ones, plus id and data_stream.
func renderedStream(t *testing.T, id, typ string, vars map[string]any) any {
	t.Helper()
	all, err := pkgbuild.DefaultVars(pkgbuild.SourceRoot(), typ)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vars {
		all[k] = v
	}
	rendered, err := pkgbuild.RenderStream(typ, all)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := yaml.Unmarshal([]byte(rendered), &s); err != nil {
		t.Fatalf("rendered %s stream: %v\n%s", typ, err, rendered)
	}
	s["id"] = fmt.Sprintf("packet-network_traffic.%s-%s", typ, id)
	s["data_stream"] = map[string]any{"dataset": "network_traffic." + typ, "type": "logs"}
	return jsonShape(t, s)
}

// upNonLoopbackAddrs is what add_observer_metadata reports as observer.ip.
func upNonLoopbackAddrs(t *testing.T) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			out = append(out, a.String())
		}
	}
	return out
}

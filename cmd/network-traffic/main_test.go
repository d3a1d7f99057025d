package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const samplePcap = "../../_dev/pcaps/sample.pcap"

// runCLI runs the command in-process and returns the NDJSON documents.
func runCLI(t *testing.T, args ...string) (docs []map[string]any, stderr string, code int) {
	t.Helper()
	outFile := filepath.Join(t.TempDir(), "out.ndjson")
	var so, se bytes.Buffer
	code = run(append(args, "-o", outFile), &so, &se)
	raw, err := os.ReadFile(outFile)
	if err != nil && code == 0 {
		t.Fatalf("no output file: %v (stderr: %s)", err, se.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("invalid JSON line %q: %v", sc.Text(), err)
		}
		docs = append(docs, m)
	}
	return docs, se.String(), code
}

func get(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func needTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark is required in CI (.ci/setup installs it)")
		}
		t.Skip("tshark not installed")
	}
}

func tshark(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	return string(out)
}

func byType(docs []map[string]any) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, d := range docs {
		typ, _ := d["type"].(string)
		out[typ] = append(out[typ], d)
	}
	return out
}

// Flow records must agree with tshark's conversation table: same
// conversations, same packet and byte counts per direction.
func TestSampleFlowsMatchTshark(t *testing.T) {
	needTshark(t)
	docs, stderr, code := runCLI(t, "-I", samplePcap, "-t")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	flows := byType(docs)["flow"]
	type conv struct{ aPk, aBy, bPk, bBy int64 }
	want := map[string]conv{} // "ip:port-ip:port" with the client (first) side first
	line := regexp.MustCompile(`^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+) bytes\s+(\d+)\s+(\d+) bytes`)
	for _, proto := range []string{"tcp", "udp"} {
		for _, l := range strings.Split(tshark(t, "-r", samplePcap, "-q", "-z", "conv,"+proto), "\n") {
			m := line.FindStringSubmatch(strings.TrimSpace(l))
			if m == nil {
				continue
			}
			// tshark: "<-" is frames from B to A, "->" from A to B.
			bPk, _ := strconv.ParseInt(m[3], 10, 64)
			bBy, _ := strconv.ParseInt(m[4], 10, 64)
			aPk, _ := strconv.ParseInt(m[5], 10, 64)
			aBy, _ := strconv.ParseInt(m[6], 10, 64)
			want[m[1]+"-"+m[2]] = conv{aPk, aBy, bPk, bBy}
		}
	}
	if len(want) == 0 {
		t.Fatal("tshark found no conversations")
	}
	got := map[string]conv{}
	for _, f := range flows {
		if get(f, "network.transport") == "icmp" {
			continue
		}
		if get(f, "flow.final") != true {
			t.Errorf("flow at end of file not final: %v", f)
		}
		key := fmt.Sprintf("%s:%d-%s:%d", get(f, "source.ip"), num(get(f, "source.port")), get(f, "destination.ip"), num(get(f, "destination.port")))
		got[key] = conv{num(get(f, "source.packets")), num(get(f, "source.bytes")), num(get(f, "destination.packets")), num(get(f, "destination.bytes"))}
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("flow %s missing (got %v)", k, got)
		} else if g != w {
			t.Errorf("flow %s: got %+v, tshark says %+v", k, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d TCP/UDP flows, tshark has %d conversations", len(got), len(want))
	}
}

// Every document's network.community_id equals tshark's communityid for
// the same packets.
func TestSampleCommunityIDMatchesTshark(t *testing.T) {
	needTshark(t)
	docs, stderr, code := runCLI(t, "-I", samplePcap, "-t")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ids := map[string]bool{}
	for _, l := range strings.Split(tshark(t, "-r", samplePcap, "--enable-protocol", "communityid", "-T", "fields", "-e", "communityid"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ids[l] = true
		}
	}
	if len(ids) == 0 {
		t.Fatal("tshark printed no community ids")
	}
	for _, d := range docs {
		id, _ := get(d, "network.community_id").(string)
		if !ids[id] {
			t.Errorf("%s document has community_id %q, not among tshark's %v", d["type"], id, ids)
		}
	}
}

func TestSampleICMPPairs(t *testing.T) {
	docs, stderr, code := runCLI(t, "-I", samplePcap, "-t")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	icmp := byType(docs)["icmp"]
	if len(icmp) != 2 {
		t.Fatalf("want 2 ping transactions, got %d", len(icmp))
	}
	for _, d := range icmp {
		if get(d, "icmp.request.type") != 8.0 || get(d, "icmp.response.type") != 0.0 || d["status"] != "OK" {
			t.Errorf("unexpected icmp doc %v", d)
		}
		if get(d, "data_stream.dataset") != "network_traffic.icmp" || get(d, "event.dataset") != "network_traffic.icmp" {
			t.Errorf("dataset fields wrong: %v", d)
		}
	}
}

// A config file of the input unit's shape selects streams and their
// data streams; flows off means only the listed protocol's events.
func TestConfigFileSelectsStreams(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(cfg, []byte(`
id: laptop
type: packet
data_stream: {namespace: testns}
streams:
  - {id: icmp-1, type: icmp, tags: [lab], data_stream: {dataset: network_traffic.icmp}}
`), 0o644)
	docs, stderr, code := runCLI(t, "-c", cfg, "-I", samplePcap, "-t")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(docs) != 2 {
		t.Fatalf("want the 2 icmp docs only, got %d", len(docs))
	}
	for _, d := range docs {
		if get(d, "data_stream.namespace") != "testns" {
			t.Errorf("namespace not applied: %v", d["data_stream"])
		}
		if tags, _ := d["tags"].([]any); len(tags) != 1 || tags[0] != "lab" {
			t.Errorf("tags not applied: %v", d["tags"])
		}
	}
}

func TestBadInputsGiveClearErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, config string
		args         []string
		want         string
	}{
		{"missing pcap", "", []string{"-I", filepath.Join(dir, "nope.pcap")}, "no such file"},
		{"unreadable yaml", "streams: [ {", nil, "config"},
		{"unknown interface", "", []string{"-i", "nosuchif0"}, `unknown interface "nosuchif0"`},
		{"no streams", "id: x\ntype: packet\n", nil, "no streams"},
		{"bad BPF", "", []string{"-I", samplePcap, "-f", "port port"}, "BPF filter"},
		{"fanout with pcap", "type: packet\nstreams:\n  - {id: f, type: flow, interface: {device: lo, fanout_group: 3}}\n", nil, "fanout_group: needs type: af_packet"},
		{"device index", "", []string{"-i", "999"}, "interface index 999"},
		{"any among devices", "", []string{"-i", "lo,any"}, "device: any captures every interface and cannot be listed with others"},
		{"unknown in a list", "", []string{"-i", "lo,nosuchif0"}, `device lo,nosuchif0: unknown interface "nosuchif0"`},
		{"fanout on any less exclusions", "type: packet\nstreams:\n  - {id: f, type: flow, interface: {device: any, exclude_devices: [lo], type: af_packet, fanout_group: 3}}\n", nil, "fanout_group: a PACKET_FANOUT group is bound to one socket"},
		{"empty device set", "type: packet\nstreams:\n  - {id: f, type: flow, interface: {device: [lo], exclude_devices: [\"l*\"]}}\n", nil, "device lo selects no interface once exclude_devices l* are taken out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.config != "" {
				p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".yml")
				os.WriteFile(p, []byte(c.config), 0o644)
				args = append(args, "-c", p)
			}
			_, stderr, code := runCLI(t, args...)
			if code == 0 {
				t.Fatalf("want failure, got exit 0")
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not mention %q", stderr, c.want)
			}
		})
	}
}

// A pcap cut mid-record still yields every event before the cut.
func TestTruncatedPcapKeepsGoodPackets(t *testing.T) {
	raw, err := os.ReadFile(samplePcap)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	os.WriteFile(cut, raw[:len(raw)-30], 0o644)
	full, _, _ := runCLI(t, "-I", samplePcap, "-t")
	part, stderr, code := runCLI(t, "-I", cut, "-t")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(byType(part)["icmp"]) < 1 || len(part) < len(full)-2 {
		t.Errorf("cut file lost events: %d vs %d (stderr %s)", len(part), len(full), stderr)
	}
}

// Unit and stream processors run in order on every document: add_fields
// from the unit, drop_event with a condition on the stream.
func TestProcessorsFromConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(cfg, []byte(`
type: packet
processors:
  - add_fields: {target: lab, fields: {site: bench}}
streams:
  - id: flow-1
    type: flow
    processors:
      - drop_event:
          when: {equals: {network.transport: udp}}
`), 0o644)
	docs, stderr, code := runCLI(t, "-c", cfg, "-I", samplePcap, "-t")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(docs) == 0 {
		t.Fatal("no documents")
	}
	for _, d := range docs {
		if get(d, "network.transport") == "udp" {
			t.Errorf("udp flow not dropped: %v", d)
		}
		if get(d, "lab.site") != "bench" {
			t.Errorf("add_fields not applied: %v", d)
		}
	}
}

// HTTP transactions of the sample agree with tshark: one per request, same
// client port, URI, method and status code.
func TestSampleHTTPMatchesTshark(t *testing.T) {
	needTshark(t)
	docs, stderr, code := runCLI(t, "-I", samplePcap, "-t")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := map[string]string{} // client port -> "METHOD uri"
	for _, l := range strings.Split(tshark(t, "-r", samplePcap, "-Y", "http.request", "-T", "fields", "-e", "tcp.srcport", "-e", "http.request.method", "-e", "http.request.uri"), "\n") {
		f := strings.Split(strings.TrimSpace(l), "\t")
		if len(f) == 3 {
			want[f[0]] = f[1] + " " + f[2]
		}
	}
	status := map[string]int64{}
	for _, l := range strings.Split(tshark(t, "-r", samplePcap, "-Y", "http.response", "-T", "fields", "-e", "tcp.dstport", "-e", "http.response.code"), "\n") {
		f := strings.Split(strings.TrimSpace(l), "\t")
		if len(f) == 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			status[f[0]] = n
		}
	}
	httpDocs := byType(docs)["http"]
	if len(httpDocs) != len(want) || len(want) == 0 {
		t.Fatalf("got %d http events, tshark has %d requests", len(httpDocs), len(want))
	}
	for _, d := range httpDocs {
		port := strconv.FormatInt(num(get(d, "client.port")), 10)
		if got := strings.ToUpper(get(d, "http.request.method").(string)) + " " + get(d, "url.path").(string); got != want[port] {
			t.Errorf("client port %s: %q, tshark %q", port, got, want[port])
		}
		if got := num(get(d, "http.response.status_code")); got != status[port] {
			t.Errorf("client port %s: status %d, tshark %d", port, got, status[port])
		}
		if (status[port] >= 400) != (d["status"] == "Error") {
			t.Errorf("client port %s: status field %v for code %d", port, d["status"], status[port])
		}
	}
}

// pcapng files decode like pcap files (editcap, from tshark's package,
// converts the sample).
func TestPcapngInput(t *testing.T) {
	if _, err := exec.LookPath("editcap"); err != nil {
		needTshark(t) // same package; fails in CI, skips elsewhere
		t.Skip("editcap not installed")
	}
	ng := filepath.Join(t.TempDir(), "sample.pcapng")
	if out, err := exec.Command("editcap", "-F", "pcapng", samplePcap, ng).CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v %s", err, out)
	}
	want, _, _ := runCLI(t, "-I", samplePcap, "-t")
	got, stderr, code := runCLI(t, "-I", ng, "-t")
	if code != 0 || len(got) != len(want) || len(want) == 0 {
		t.Fatalf("pcapng: exit %d, %d events, pcap gave %d (%s)", code, len(got), len(want), stderr)
	}
}

func TestVersionAndDevices(t *testing.T) {
	var so, se bytes.Buffer
	if code := run([]string{"--version"}, &so, &se); code != 0 || !strings.HasPrefix(so.String(), "network-traffic ") {
		t.Errorf("--version: %d %q", code, so.String())
	}
	so.Reset()
	if code := run([]string{"devices"}, &so, &se); code != 0 || !strings.Contains(so.String(), "lo") {
		t.Errorf("devices: %d %q %q", code, so.String(), se.String())
	}
}

// internal_networks turns network.direction from unknown into
// internal/external: everything in the sample is 127.0.0.1 to 127.0.0.1.
func TestInternalNetworksSetDirection(t *testing.T) {
	for _, c := range []struct{ nets, want string }{
		{"[loopback]", "internal"},
		{"[192.0.2.0/24, private]", "external"},
	} {
		cfg := filepath.Join(t.TempDir(), "c.yml")
		os.WriteFile(cfg, []byte("streams:\n  - {id: http, type: http, ports: [8080], interface: {internal_networks: "+c.nets+"}}\n  - {id: dns, type: dns}\n"), 0o644)
		docs, stderr, code := runCLI(t, "-c", cfg, "-I", samplePcap, "-t")
		if code != 0 || len(docs) != 9 {
			t.Fatalf("%s: exit %d, %d docs: %s", c.nets, code, len(docs), stderr)
		}
		for _, d := range docs {
			if got := get(d, "network.direction"); got != c.want {
				t.Errorf("%s: %s document direction %v, want %s", c.nets, d["type"], got, c.want)
			}
		}
	}
	_, stderr, code := runCLI(t, "-c", writeTemp(t, "streams: [{id: x, type: http, interface: {internal_networks: [nowhere]}}]"), "-I", samplePcap, "-t")
	if code == 0 || !strings.Contains(stderr, `"nowhere" is neither a CIDR nor one of`) {
		t.Errorf("bad internal network: exit %d, %s", code, stderr)
	}
}

func writeTemp(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Processors Fleet users write, end to end on the sample capture: a
// multi-function script, dissect (failing on "/", which has one part), and
// the failures counted in the summary while every event is still written.
func TestProcessorsScriptAndDissect(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yml")
	os.WriteFile(cfg, []byte(`
type: packet
streams:
  - id: http-1
    type: http
    ports: [80, 8080]
    processors:
      - script:
          lang: javascript
          source: |
            function verb(e) { return (e.Get("http.request.method") || "none").toUpperCase(); }
            function process(event) {
                event.Put("labels.verb", verb(event));
                if (event.Get("url.path") === "/missing") { event.Tag("missing"); }
            }
      - dissect:
          field: url.path
          tokenizer: "/%{name}.%{ext}"
          target_prefix: file
  - id: dns-1
    type: dns
    processors:
      - drop_event: {}
`), 0o644)
	docs, stderr, code := runCLI(t, "-c", cfg, "-I", samplePcap, "-t")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	byPath := map[string]map[string]any{}
	for _, d := range docs {
		if d["type"] == "dns" {
			t.Fatalf("dns not dropped: %v", d)
		}
		if d["type"] == "http" {
			byPath[get(d, "url.path").(string)+" "+get(d, "http.request.method").(string)] = d
		}
	}
	big := byPath["/big.txt get"]
	if big == nil || get(big, "file.name") != "big" || get(big, "file.ext") != "txt" || get(big, "labels.verb") != "GET" {
		t.Errorf("/big.txt: %v", big)
	}
	miss := byPath["/missing get"]
	if miss == nil || !strings.Contains(fmt.Sprint(miss["tags"]), "missing") || !strings.Contains(fmt.Sprint(get(miss, "error.message")), "(dissect)") {
		t.Errorf("/missing: %v", miss)
	}
	if len(byPath) != 4 {
		t.Errorf("%d http events, want 4: %v", len(byPath), byPath)
	}
	// "/", "/" and "/missing" have no dot: three events kept with the error.
	if !strings.Contains(stderr, "processors: 3 events failed a processor") {
		t.Errorf("summary: %s", stderr)
	}
}

// Whose capture a file is: -local-ips (or local_ips) names the host, and
// network.direction is ingress to it, egress from it; without it a file
// has no direction. 11 queries from 127.0.0.1 to the resolver 127.0.0.35,
// each answered (tshark counts the same).
func TestLocalIPsSetDirection(t *testing.T) {
	const pcap = "../../_dev/pcaps/dns/dnssec.pcap"
	dnsOnly := writeTemp(t, "streams: [{id: dns, type: dns}]")
	for _, c := range []struct{ local, want string }{
		{"", "unknown"},
		{"127.0.0.35", "ingress"},        // the resolver's capture
		{"127.0.0.1,10.0.0.9", "egress"}, // the client's
	} {
		args := []string{"-c", dnsOnly, "-I", pcap, "-t"}
		if c.local != "" {
			args = append(args, "-local-ips", c.local)
		}
		docs, stderr, code := runCLI(t, args...)
		if code != 0 || len(docs) != 11 {
			t.Fatalf("-local-ips %q: exit %d, %d docs: %s", c.local, code, len(docs), stderr)
		}
		for _, d := range docs {
			if got := get(d, "network.direction"); got != c.want || get(d, "dns.response_code") == nil {
				t.Errorf("-local-ips %q: direction %v, want %s (response code %v)", c.local, got, c.want, get(d, "dns.response_code"))
			}
		}
	}
	// ignore_outgoing on the client's capture: its queries were initiated
	// there, so nothing is published; on the resolver's, all of them are.
	for _, c := range []struct {
		local string
		want  int
	}{{"127.0.0.1", 0}, {"127.0.0.35", 11}} {
		cfg := writeTemp(t, "streams: [{id: dns, type: dns, ignore_outgoing: true, interface: {local_ips: ["+c.local+"]}}]")
		docs, stderr, code := runCLI(t, "-c", cfg, "-I", pcap, "-t")
		if code != 0 || len(docs) != c.want {
			t.Errorf("ignore_outgoing, local %s: exit %d, %d docs, want %d: %s", c.local, code, len(docs), c.want, stderr)
		}
	}
	_, stderr, code := runCLI(t, "-c", dnsOnly, "-I", pcap, "-t", "-local-ips", "10.0.0.0/8")
	if code == 0 || !strings.Contains(stderr, "local_ips") || !strings.Contains(stderr, `"10.0.0.0/8" is not an IP address`) {
		t.Errorf("bad -local-ips: exit %d, %s", code, stderr)
	}
}

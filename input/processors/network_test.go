package processors

import (
	"net/netip"
	"testing"

	"github.com/network-traffic/network-traffic/ecsmap"
)

func TestCommunityID(t *testing.T) {
	// The Community ID specification's example flow, seed 0 and 1; and the
	// decoder's own value for the ping of icmp/veth.pcap.
	c := chainFromYAML(t, `
processors:
  - community_id:
  - community_id: {seed: 1, target: seeded}
`)
	m, err := process(t, c, `{"source":{"ip":"128.232.110.120","port":34855},"destination":{"ip":"66.35.250.204","port":80},"network":{"transport":"tcp"}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"network.community_id": "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "seeded": "1:3V71V58M3Ksw/yuFALMcW0LAHvc="})

	icmp := chainFromYAML(t, `
processors:
  - drop_fields: {fields: [network.community_id]}
  - community_id:
      fields:
        icmp_type: icmp.request.type
        icmp_code: icmp.request.code
`)
	m, _ = process(t, icmp, echoDoc)
	wantFields(t, m, map[string]any{"network.community_id": "1:VlLN3Gxeh89WWmstlJ0cfMdpqPg="})

	// Same as the capture's encoder on both directions of a UDP flow.
	a, b := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1")
	want := string(ecsmap.AppendCommunityID(nil, 17, a, b, 5353, 53, 0, 0, false))
	for _, doc := range []string{
		`{"source":{"ip":"10.0.0.2","port":5353},"destination":{"ip":"10.0.0.1","port":53},"network":{"iana_number":"17"}}`,
		`{"source":{"ip":"10.0.0.1","port":53},"destination":{"ip":"10.0.0.2","port":5353},"network":{"transport":"udp"}}`,
	} {
		m, _ = process(t, c, doc)
		wantFields(t, m, map[string]any{"network.community_id": want})
	}
	// Without ports on TCP the event is left alone.
	m, _ = process(t, c, `{"source":{"ip":"10.0.0.2"},"destination":{"ip":"10.0.0.1"},"network":{"transport":"tcp"}}`)
	wantFields(t, m, map[string]any{"network.community_id": nil})
	wantConfigError(t, `processors: [{community_id: {fields: {src_ip: a}}}]`, "(community_id)", `unknown option "src_ip"`)
}

func TestAddNetworkDirectionDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - add_network_direction:
      source: source.ip
      destination: destination.ip
      target: network.direction
      internal_networks: [ private ]
`)
	for doc, want := range map[string]string{
		`{"source":{"ip":"10.0.0.1"},"destination":{"ip":"192.168.1.1"}}`: "internal",
		`{"source":{"ip":"10.0.0.1"},"destination":{"ip":"8.8.8.8"}}`:     "outbound",
		`{"source":{"ip":"8.8.8.8"},"destination":{"ip":"fd00::1"}}`:      "inbound",
		`{"source":{"ip":"8.8.8.8"},"destination":{"ip":"1.1.1.1"}}`:      "external",
	} {
		m, _ := process(t, c, doc)
		wantFields(t, m, map[string]any{"network.direction": want})
	}
	m, _ := process(t, c, `{"source":{"ip":"8.8.8.8"}}`)
	wantFields(t, m, map[string]any{"network": nil})
	wantConfigError(t, `processors: [{add_network_direction: {source: a, destination: b, target: c, internal_networks: [10.0.0.0/33]}}]`, "(add_network_direction)", "internal_networks")
}

func TestRegisteredDomainDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - registered_domain:
      field: dns.question.name
      target_field: dns.question.registered_domain
      target_etld_field: dns.question.top_level_domain
      target_subdomain_field: dns.question.subdomain
      ignore_missing: true
      ignore_failure: true
`)
	m, err := process(t, c, `{"dns":{"question":{"name":"www.google.co.uk"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"dns.question.registered_domain": "google.co.uk",
		"dns.question.top_level_domain": "co.uk", "dns.question.subdomain": "www"})
	m, _ = process(t, c, `{"dns":{"question":{"name":"elastic.co."}}}`)
	wantFields(t, m, map[string]any{"dns.question.registered_domain": "elastic.co", "dns.question.top_level_domain": "co", "dns.question.subdomain": nil})
	strict := chainFromYAML(t, `
processors:
  - registered_domain: {field: url.domain, target_field: url.registered_domain}
`)
	m, err = process(t, strict, `{"url":{"domain":"co.uk"}}`)
	if err == nil {
		t.Fatal("a bare public suffix has a registered domain?")
	}
	wantFields(t, m, map[string]any{"url.registered_domain": nil})
}

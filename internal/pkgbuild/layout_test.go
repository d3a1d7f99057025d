package pkgbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testLayoutNames(t *testing.T, srcRoot string, explicit map[string]string) *layoutNames {
	t.Helper()
	ecs, err := newFieldIndex(srcRoot, "on", IndexedFields)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := newFieldIndex(srcRoot, "off", PacketbeatFields)
	if err != nil {
		t.Fatal(err)
	}
	return &layoutNames{ecs: ecs, pb: pb, explicit: explicit, used: map[string]bool{}, renames: map[string][]compatRename{}}
}

// Field names for map_to_ecs off come from the compatibility pipelines' renames: a field moved
// from F (or from under F) is F, one not moved keeps its name, and what the renames cannot
// decide is an error naming the way out.
func TestPacketbeatNames(t *testing.T) {
	l := testLayoutNames(t, SourceRoot(), map[string]string{"network_traffic.mysql.query": "query"})
	for _, tc := range []struct {
		f    string
		dss  []string
		want string
	}{
		{"network_traffic.status", []string{"mysql"}, "status"},                          // status -> network_traffic.status
		{"network_traffic.status", []string{"amqp", "dns", "http", "sip"}, "status"},     // the same in every stream
		{"network_traffic.mysql.num_rows", []string{"mysql"}, "mysql.num_rows"},          // under mysql -> network_traffic.mysql
		{"network_traffic.mysql.method", []string{"mysql"}, "method"},                    // method -> network_traffic.mysql.method
		{"network_traffic.mysql.query", []string{"mysql"}, "query"},                      // explicit: mysql.query is declared too
		{"network_traffic.flow.conn_state", []string{"flow", "icmp"}, "flow.conn_state"}, // icmp lacks it: not asked there
		{"network_traffic.dns.flags.authoritative", []string{"dns"}, "dns.flags.authoritative"},
		{"network_traffic.http.grpc.method", []string{"http"}, "grpc.method"},
		{"network_traffic.dhcpv4.client_mac", []string{"dhcpv4"}, "dhcpv4.client_mac"},
		{"network_traffic.memcached.request.command", []string{"memcached"}, "memcache.request.command"},
		{"dns.question.name", []string{"dns"}, "dns.question.name"}, // ECS, not moved
		{"client.ip", []string{"amqp", "flow", "tls"}, "client.ip"},
		{"network_traffic.http.request.headers.authorization", []string{"http"}, "network_traffic.http.request.headers.authorization"}, // set by default.yml: both layouts
	} {
		got, err := l.name(tc.f, tc.dss)
		if err != nil || got != tc.want {
			t.Errorf("%s in %v: %q, %v; want %q", tc.f, tc.dss, got, err, tc.want)
		}
	}
	if !l.used["network_traffic.mysql.query"] {
		t.Error("explicit entry not marked used")
	}
	for _, tc := range []struct {
		f        string
		dss      []string
		explicit map[string]string
		err      string
	}{
		// Two renames land on it and both sources are declared.
		{"network_traffic.mongodb.query", []string{"mongodb"}, nil, "moves each of [mongodb.query query] to it"},
		// Only the compatibility pipeline's script writes it.
		{"network_traffic.nfs.host.hostname", []string{"nfs"}, nil, "moves [nfs.host.hostname] to it, and none of them is a field of nfs"},
		// An explicit name must be one the pipeline moves from, and a field of the layout.
		{"network_traffic.mongodb.query", []string{"mongodb"}, map[string]string{"network_traffic.mongodb.query": "resource"}, "moves it from [mongodb.query query], not from resource"},
		{"network_traffic.mongodb.query", []string{"mongodb"}, map[string]string{"network_traffic.mongodb.query": "mongodb.qry"}, "mongodb.qry is not a field of mongodb with map_to_ecs off"},
	} {
		l := testLayoutNames(t, SourceRoot(), tc.explicit)
		_, err := l.name(tc.f, tc.dss)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s with %v: error %v, want one containing %q", tc.f, tc.explicit, err, tc.err)
		}
	}
	// "" leaves the field out of the layout.
	l = testLayoutNames(t, SourceRoot(), map[string]string{"network_traffic.nfs.host.hostname": ""})
	if got, err := l.name("network_traffic.nfs.host.hostname", []string{"nfs"}); err != nil || got != "" {
		t.Errorf("left-out field: %q, %v", got, err)
	}
}

// The Packetbeat layout's fields: what the binary publishes plus what the default pipeline
// writes, without what only the compatibility pipeline writes.
func TestPacketbeatFields(t *testing.T) {
	ecs, err := ECSTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ds, field, typ string // typ "" = must be absent
	}{
		{"mysql", "mysql.num_rows", "long"},
		{"mysql", "query", "keyword"},
		{"mysql", "status", "keyword"},
		{"mysql", "network_traffic.mysql.num_rows", ""},
		{"mysql", "network_traffic.status", ""},
		{"flow", "flow.conn_state", "keyword"},
		{"nfs", "network_traffic.nfs.host.hostname", ""}, // the compatibility pipeline's script writes it
		{"http", "network_traffic.http.request.headers.authorization", "keyword"},
		{"http", "url.path", "wildcard"},
		{"dns", "dns.question.name", "keyword"},
	} {
		m, err := PacketbeatFields(SourceRoot(), tc.ds, ecs)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := m[tc.field]
		switch {
		case tc.typ == "" && ok:
			t.Errorf("%s: %s is in the Packetbeat layout (%s), want it absent", tc.ds, tc.field, got)
		case tc.typ != "" && got != tc.typ:
			t.Errorf("%s: %s type %q (present %v), want %s", tc.ds, tc.field, got, ok, tc.typ)
		}
	}
}

// A panel on a field that exists only with map_to_ecs on fails the build until
// packetbeat_layout.fields says what to do with it; "" leaves the panel out of that set only.
func TestBuildNeedsDecisionForOneLayoutField(t *testing.T) {
	src := copySources(t)
	spec := filepath.Join(src, "package", "kibana", "dashboards.yml")
	replaceIn(t, spec, "      - {kind: top, title: Top users (uid), field: network_traffic.nfs.rpc.cred.uid}",
		"      - {kind: top, title: Top users (uid), field: network_traffic.nfs.rpc.cred.uid}\n"+
			"      - {kind: top, title: Top caller hosts, field: network_traffic.nfs.host.hostname}")
	_, err := Build(src, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "network_traffic-nfs panel 11 (Top caller hosts): network_traffic.nfs.host.hostname: the compatibility pipeline of nfs moves [nfs.host.hostname] to it, and none of them is a field of nfs; settle it in packetbeat_layout.fields") {
		t.Fatalf("want the undecided field named, got %v", err)
	}
	replaceIn(t, spec, "  fields:\n", "  fields:\n    network_traffic.nfs.host.hostname: \"\"\n")
	pkgDir, err := Build(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"network_traffic-nfs": true, "network_traffic-nfs-packetbeat": false} {
		b, err := os.ReadFile(filepath.Join(pkgDir, "kibana", "dashboard", id+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(b), "Top caller hosts"); got != want {
			t.Errorf("%s has the panel: %v, want %v", id, got, want)
		}
	}
	// A stale entry is an error too.
	replaceIn(t, spec, "\n      - {kind: top, title: Top caller hosts, field: network_traffic.nfs.host.hostname}", "")
	if _, err := Build(src, t.TempDir()); err == nil || !strings.Contains(err.Error(), "packetbeat_layout.fields: network_traffic.nfs.host.hostname is used by no dashboard") {
		t.Fatalf("want the stale entry named, got %v", err)
	}
	// Without its explicit entry, the saved search on network_traffic.mongodb.query names both
	// sources the mongodb pipeline moves there.
	replaceIn(t, spec, "    network_traffic.mongodb.query: mongodb.query\n", "")
	if _, err := Build(src, t.TempDir()); err == nil || !strings.Contains(err.Error(), "network_traffic-mongodb-transactions-with-write-concern-0 column: network_traffic.mongodb.query: the compatibility pipeline of mongodb moves each of [mongodb.query query] to it") {
		t.Fatalf("want the ambiguous field named, got %v", err)
	}
}

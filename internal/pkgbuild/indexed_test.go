package pkgbuild

import "testing"

// IndexedFields is the layout a document has once the compatibility pipeline ran: fields it
// renames under network_traffic.* are gone from their old names, the copies are there, and ECS
// references carry their ECS type.
func TestIndexedFields(t *testing.T) {
	ecs, err := ECSTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ds, field, typ string // typ "" = must be absent
	}{
		{"flow", "flow.conn_state", ""},
		{"flow", "network_traffic.flow.conn_state", "keyword"},
		{"mysql", "mysql.num_rows", ""},
		{"mysql", "query", ""},
		{"mysql", "network_traffic.mysql.query", "keyword"},
		{"mysql", "network_traffic.mysql.num_rows", "long"},
		{"mysql", "status", ""},
		{"mysql", "network_traffic.status", "keyword"},
		{"mysql", "client.ip", "ip"},
		{"mysql", "event.duration", "long"},
		{"dns", "dns.question.name", "keyword"}, // ECS dns.* stays
		{"http", "url.path", "wildcard"},
		{"tls", "tls.established", "boolean"},
	} {
		m, err := IndexedFields(SourceRoot(), tc.ds, ecs)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := m[tc.field]
		switch {
		case tc.typ == "" && ok:
			t.Errorf("%s: %s is indexed (%s), want it moved away", tc.ds, tc.field, got)
		case tc.typ != "" && got != tc.typ:
			t.Errorf("%s: %s type %q (present %v), want %s", tc.ds, tc.field, got, ok, tc.typ)
		}
	}
}

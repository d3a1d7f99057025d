package kafka

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A document as the capture writes it (from _dev/pcaps/sample.pcap, cut).
const httpDoc = `{"@timestamp":"2026-11-26T00:56:03.584667Z","type":"http","status":"OK","event":{"kind":"event","dataset":"network_traffic.http","duration":119000},` +
	`"network":{"transport":"tcp","community_id":"1:2hnZFKBpiuhd40KUtGXgCQf6Wos="},"source":{"ip":"127.0.0.1","port":60874},` +
	`"http":{"response":{"status_code":200}},"fields":{"x":"blue","esc\"aped":"q"},"labels.flat":"dotted",` +
	`"tags":["a","b"],"nothing":null,"data_stream":{"dataset":"network_traffic.http","namespace":"default","type":"logs"}}` + "\n"

func TestFormatStrings(t *testing.T) {
	cases := []struct {
		format, want string
		missing      bool
	}{
		{"%{[data_stream.type]}-%{[data_stream.dataset]}", "logs-network_traffic.http", false},
		{"%{[fields.x]}", "blue", false},
		{"nt-%{[http.response.status_code]}", "nt-200", false},
		{"%{[source][port]}", "60874", false},
		{"%{[labels.flat]}", "dotted", false},
		{`%{[fields.esc"aped]}`, "q", false},
		{"%{[tags]}", `["a","b"]`, false},
		{"static", "static", false},
		{"%{[fields.y]:fallback}", "fallback", false},
		{"%{[nothing]:was-null}", "was-null", false},
		{"%{[fields.y]}", "", true},
		{"%{[event]}x", `{"kind":"event","dataset":"network_traffic.http","duration":119000}x`, false},
	}
	for _, c := range cases {
		f, err := parseFmt(c.format)
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		got, err := f.appendTo(nil, []byte(httpDoc))
		if c.missing {
			if err == nil {
				t.Errorf("%s: want a missing-field error, got %q", c.format, got)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.format, got, err, c.want)
		}
	}
	for _, bad := range []string{"%{[a}", "%{+yyyy.MM.dd}", "%{a}", "%{[]}", "%{[a]x}", "x%{"} {
		if _, err := parseFmt(bad); err == nil {
			t.Errorf("%q: want a parse error", bad)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	doc := []byte(httpDoc)
	n := testing.AllocsPerRun(100, func() {
		if _, ok := lookup(doc, "data_stream.dataset"); !ok {
			t.Fatal("not found")
		}
	})
	if n != 0 {
		t.Fatalf("lookup allocates %v times", n)
	}
}

func TestTopicRules(t *testing.T) {
	s, err := newRuleSelector("default-%{[data_stream.namespace]}", []any{
		map[string]any{"topic": "errors", "when": map[string]any{"range": map[string]any{"http.response.status_code": map[string]any{"gte": 500}}}},
		map[string]any{"topic": "%{[type]}", "mappings": map[string]any{"dns": "names"}, "default": "other-proto",
			"when": map[string]any{"equals": map[string]any{"network.transport": "udp"}}},
		map[string]any{"topic": "%{[type]}", "mappings": map[string]any{"http": "web"}},
		map[string]any{"topic": "%{[fields.missing]}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ doc, want string }{
		{httpDoc, "web"},
		{strings.Replace(httpDoc, `"status_code":200`, `"status_code":503`, 1), "errors"},
		{`{"type":"dns","network":{"transport":"udp"}}`, "names"},
		{`{"type":"sip","network":{"transport":"udp"}}`, "other-proto"},
		{`{"type":"tls","network":{"transport":"tcp"},"data_stream":{"namespace":"prod"}}`, "default-prod"},
	}
	for _, c := range cases {
		got, err := s.topic([]byte(c.doc))
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.doc, got, err, c.want)
		}
	}
	if got, err := s.topic([]byte(`{"type":"tls"}`)); err == nil {
		t.Errorf("no namespace: want an error, got %q", got)
	}
	for _, bad := range []any{
		[]any{map[string]any{"topic": "x", "colour": "red"}},
		[]any{map[string]any{"when": map[string]any{"equals": map[string]any{"a": 1}}}},
		[]any{map[string]any{"topic": "x", "when": map[string]any{"sounds_like": map[string]any{"a": 1}}}},
		"not a list",
	} {
		if _, err := newRuleSelector(nil, bad); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestParseConfigFleet(t *testing.T) {
	// The shape Fleet's Kafka output form sends, numbers as float64 as they
	// arrive from the agent's protobuf Struct.
	c, err := ParseConfig(map[string]any{
		"type": "kafka", "hosts": []any{"127.0.0.1:19092", "kafka2"}, "client_id": "Elastic", "version": "1.0.0",
		"compression": "gzip", "compression_level": float64(6), "username": "nt", "password": "x",
		"sasl":      map[string]any{"mechanism": "SCRAM-SHA-512"},
		"partition": map[string]any{"round_robin": map[string]any{"group_events": float64(3)}},
		"topic":     "%{[data_stream.type]}-%{[data_stream.dataset]}",
		"headers":   []any{map[string]any{"key": "env", "value": "prod"}},
		"timeout":   float64(30), "broker_timeout": float64(10), "required_acks": float64(-1),
		"key": "%{[network.community_id]}", "bulk_max_size": float64(100), "bulk_flush_frequency": "50ms",
		"max_message_bytes": float64(50000),
		"ssl":               map[string]any{"enabled": false, "verification_mode": "full"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Hosts[1] != "kafka2:9092" || c.ClientID != "Elastic" || c.Mechanism != "SCRAM-SHA-512" ||
		c.Partition.kind != partRoundRobin || c.Partition.group != 3 || c.RequiredAcks != -1 ||
		c.Timeout != 30*time.Second || c.BrokerTimeout != 10*time.Second || c.BulkMaxSize != 100 ||
		c.FlushFrequency != 50*time.Millisecond || c.MaxMessageBytes != 50000 || c.TLS != nil ||
		c.codec != kgo.GzipCompression().WithLevel(6) || len(c.Headers) != 1 || c.Headers[0].Key != "env" {
		t.Fatalf("%+v", c)
	}
	d, err := ParseConfig(map[string]any{"hosts": "k:1", "topic": "t", "username": "u", "password": "p"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseConfig(map[string]any{"hosts": "k:1", "topic": "t", "sasl": nil, "partition": nil, "backoff": nil, "metadata": nil, "ssl": nil, "headers": nil, "key": nil}); err != nil {
		t.Fatalf("empty sections: %v", err)
	}
	if d.Mechanism != "PLAIN" || d.codec != kgo.GzipCompression().WithLevel(4) || d.Partition.kind != partHash || !d.Partition.hashRandom {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestParseConfigRefusesWhatItCannotHonour(t *testing.T) {
	base := func() map[string]any { return map[string]any{"hosts": []any{"k:9092"}, "topic": "t"} }
	cases := map[string]func(m map[string]any){
		"kerberos": func(m map[string]any) { m["kerberos"] = map[string]any{"enabled": true} },
		"codec": func(m map[string]any) {
			m["codec"] = map[string]any{"format": map[string]any{"string": "%{[message]}"}}
		},
		"metadata":            func(m map[string]any) { m["metadata"] = map[string]any{"full": true} },
		"worker":              func(m map[string]any) { m["worker"] = 2 },
		"channel_buffer_size": func(m map[string]any) { m["channel_buffer_size"] = 256 },
		"compression_level":   func(m map[string]any) { m["compression"] = "snappy"; m["compression_level"] = 3 },
		"compression:":        func(m map[string]any) { m["compression"] = "brotli" },
		"zstd needs version":  func(m map[string]any) { m["compression"] = "zstd"; m["version"] = "1.0.0" },
		"required_acks":       func(m map[string]any) { m["required_acks"] = 2 },
		"sasl.mechanism": func(m map[string]any) {
			m["username"] = "u"
			m["password"] = "p"
			m["sasl"] = map[string]any{"mechanism": "GSSAPI"}
		},
		"username":             func(m map[string]any) { m["username"] = "u" },
		"partition":            func(m map[string]any) { m["partition"] = map[string]any{"sticky": nil} },
		"hash.group_events":    func(m map[string]any) { m["partition"] = map[string]any{"hash": map[string]any{"group_events": 2}} },
		"ssl: cipher_suites":   func(m map[string]any) { m["ssl"] = map[string]any{"cipher_suites": []any{"X"}} },
		"version":              func(m map[string]any) { m["version"] = "banana" },
		"hosts":                func(m map[string]any) { m["hosts"] = []any{"kafka://k:9092"} },
		"topic":                func(m map[string]any) { delete(m, "topic") },
		"topics[0]":            func(m map[string]any) { m["topics"] = []any{map[string]any{"topic": "%{+yyyy}"}} },
		"enabled":              func(m map[string]any) { m["enabled"] = false },
		"bulk_flush_frequency": func(m map[string]any) { m["bulk_flush_frequency"] = "2m" },
	}
	for want, mod := range cases {
		m := base()
		mod(m)
		_, err := ParseConfig(m)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

func TestPartitioners(t *testing.T) {
	rr := (&partitioner{kind: partRoundRobin, group: 2}).ForTopic("t")
	var got []int
	for range 7 {
		got = append(got, rr.Partition(&kgo.Record{}, 3))
	}
	// Two per partition, in order, from wherever it started.
	for i := 2; i < len(got); i += 2 {
		if got[i] != (got[i-2]+1)%3 || got[i-1] != got[i-2] {
			t.Fatalf("round robin: %v", got)
		}
	}
	rnd := (&partitioner{kind: partRandom, group: 4}).ForTopic("t")
	first := rnd.Partition(&kgo.Record{}, 1000)
	for range 3 {
		if p := rnd.Partition(&kgo.Record{}, 1000); p != first {
			t.Fatalf("random group_events 4: %d then %d", first, p)
		}
	}
	h := (&partitioner{kind: partHash}).ForTopic("t")
	var f fnv32a = newFNV()
	f.write([]byte("key-1"))
	// The same arithmetic sarama's hash partitioner uses.
	want := int32(uint32(f)) % 7
	if want < 0 {
		want = -want
	}
	if p := h.Partition(&kgo.Record{Offset: int64(uint32(f))}, 7); p != int(want) {
		t.Fatalf("hash: %d, want %d", p, want)
	}
	if h.RequiresConsistency(&kgo.Record{}) != true {
		t.Fatal("hash without reachable_only must keep the mapping")
	}
	if (&partitioner{kind: partHash, reachableOnly: true}).ForTopic("t").RequiresConsistency(&kgo.Record{}) {
		t.Fatal("reachable_only: only writable partitions")
	}
}

// codec.json.pretty re-indents the document; the key and the record time
// come from the document; a document with no topic is counted as failed.
func TestPrepare(t *testing.T) {
	o, err := FromMap(map[string]any{"hosts": "k:1", "topic": "%{[data_stream.dataset]}", "key": "%{[source.ip]}:%{[source.port]}",
		"codec": map[string]any{"json": map[string]any{"pretty": true}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var rec kgo.Record
	it, ok := o.prepare(&rec, []byte(httpDoc))
	if !ok || rec.Topic != "network_traffic.http" || string(rec.Key) != "127.0.0.1:60874" ||
		!strings.HasPrefix(string(rec.Value), "{\n  \"@timestamp\": \"2026-11-26T00:56:03.584667Z\",\n") ||
		rec.Timestamp != time.Date(2026, 11, 26, 0, 56, 3, 584667000, time.UTC) || it.hash == noHash {
		t.Fatalf("record %+v, hash %d", rec, it.hash)
	}
	if _, ok := o.prepare(&rec, []byte(`{"type":"x"}`)); ok || o.Stats().Failed != 1 || !strings.Contains(o.Stats().LastError, "data_stream.dataset") {
		t.Fatalf("no topic: %+v", o.Stats())
	}
}

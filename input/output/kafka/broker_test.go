package kafka

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	_ "github.com/network-traffic/network-traffic/decoders/all"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/publish"
	"github.com/network-traffic/network-traffic/internal/outtest"
)

// The broker is _dev/kafka (start.sh): Apache Kafka 4.1 in KRaft mode with
// plaintext, SASL, TLS and SASL over TLS listeners on consecutive ports.
func kafkaPort(t *testing.T, off int) string {
	t.Helper()
	base := 19092
	if s := os.Getenv("NT_KAFKA_PORT"); s != "" {
		base, _ = strconv.Atoi(s)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(base+off))
}

const (
	offPlain   = 0
	offSASL    = 1
	offSSL     = 2
	offSASLSSL = 4
	offProxied = 5
	offProxy   = 6
)

// broker returns the plaintext listener, or skips when the broker is down
// and NT_REQUIRE_KAFKA is unset.
func broker(t *testing.T) string {
	t.Helper()
	addr := kafkaPort(t, offPlain)
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return addr
	}
	if os.Getenv("NT_REQUIRE_KAFKA") != "" {
		t.Fatalf("Kafka at %s: %v (NT_REQUIRE_KAFKA is set)", addr, err)
	}
	t.Skipf("no Kafka broker at %s (%v); start one with _dev/kafka/start.sh", addr, err)
	return ""
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

func certFile(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "_dev/kafka/run/certs", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("broker certificate %s: %v (made by _dev/kafka/start.sh)", name, err)
	}
	return p
}

// prefix makes this run's topic names unique, so tests can rerun against
// the same broker.
func prefix(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	return "nt-" + name + "-" + hex.EncodeToString(b[:])
}

type tee struct {
	mu   sync.Mutex
	docs [][]byte
	next capture.Sink
}

func (s *tee) Send(d output.Doc) {
	s.mu.Lock()
	s.docs = append(s.docs, bytes.Clone(bytes.TrimRight(d.Body, "\n")))
	s.mu.Unlock()
	s.next.Send(d)
}

// replay runs a capture file through the production pipeline (capture
// worker, publish queue) into out, and returns every document the capture
// produced, as sent.
func replay(t *testing.T, pcap string, loop int, out output.Output) [][]byte {
	t.Helper()
	// Every protocol with its default ports, plus ICMP and flows, as the
	// standalone binary runs without -c.
	streams := []any{
		map[string]any{"id": "flow", "type": "flow", "timeout": "30s", "period": "10s"},
		map[string]any{"id": "icmp", "type": "icmp"},
	}
	for _, name := range protocol.Names() {
		streams = append(streams, map[string]any{"id": name, "type": name})
	}
	for _, s := range streams {
		s.(map[string]any)["interface"] = map[string]any{"file": pcap, "top_speed": true, "loop": loop}
	}
	in, err := config.Parse(map[string]any{"id": "kafka-test", "type": "packet", "streams": streams})
	if err != nil {
		t.Fatal(err)
	}
	q := publish.NewQueue(out, 4096)
	sink := &tee{next: q}
	w, err := capture.New(in, sink, capture.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(qctx)
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	q.Close()
	if len(sink.docs) == 0 {
		t.Fatal("the capture produced no documents")
	}
	return sink.docs
}

func samplePcap(t *testing.T) string { return filepath.Join(repoRoot(t), "_dev/pcaps/sample.pcap") }

func newOut(t *testing.T, m map[string]any) *Output {
	t.Helper()
	o, err := FromMap(m, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// consume reads every record of the topics matching re until want records
// arrived (then a little longer, to catch extras) or the deadline.
func consume(t *testing.T, addr, re string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeRegex(), kgo.ConsumeTopics(re),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(100*time.Millisecond),
		kgo.MetadataMaxAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	deadline := time.Now().Add(60 * time.Second)
	extra := time.Time{}
	for time.Now().Before(deadline) {
		if len(recs) >= want {
			if extra.IsZero() {
				extra = time.Now().Add(500 * time.Millisecond)
			} else if time.Now().After(extra) {
				break
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				t.Logf("fetch %s/%d: %v", topic, p, err)
			}
		})
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func sortedStrings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	sort.Strings(out)
	return out
}

func field(t *testing.T, doc []byte, path string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	if cur == nil {
		return ""
	}
	return fmt.Sprint(cur)
}

func saramaHash(parts ...string) func(n int) int32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return func(n int) int32 {
		p := int32(h.Sum32()) % int32(n)
		if p < 0 {
			p = -p
		}
		return p
	}
}

// Every document of a real capture, through capture and queue, arrives once,
// in the topic its data stream names, keyed, hashed to the key's partition,
// with the configured headers and the event's time.
func TestBrokerEveryDocument(t *testing.T) {
	addr := broker(t)
	pre := prefix(t)
	o := newOut(t, map[string]any{
		"type": "kafka", "hosts": []any{addr}, "client_id": "nt-test", "version": "3.6.0",
		"topic":         pre + "-%{[data_stream.type]}-%{[data_stream.dataset]}",
		"key":           "%{[network.community_id]}",
		"partition":     map[string]any{"hash": map[string]any{}},
		"headers":       []any{map[string]any{"key": "env", "value": "ci"}, map[string]any{"key": "team", "value": "net"}},
		"required_acks": float64(-1), "compression": "gzip", "compression_level": float64(6),
		"bulk_max_size": float64(50),
	})
	sent := replay(t, samplePcap(t), 10, o)
	recs := consume(t, addr, "^"+regexp.QuoteMeta(pre)+"-.*", len(sent))
	if len(recs) != len(sent) {
		t.Fatalf("read back %d records, sent %d", len(recs), len(sent))
	}
	var got [][]byte
	byTopic := map[string]int{}
	for _, r := range recs {
		got = append(got, r.Value)
		wantTopic := pre + "-" + field(t, r.Value, "data_stream.type") + "-" + field(t, r.Value, "data_stream.dataset")
		if r.Topic != wantTopic {
			t.Fatalf("record in %s, want %s", r.Topic, wantTopic)
		}
		byTopic[r.Topic]++
		cid := field(t, r.Value, "network.community_id")
		if string(r.Key) != cid {
			t.Fatalf("key %q, want community_id %q", r.Key, cid)
		}
		if cid != "" {
			if want := saramaHash(cid)(4); r.Partition != want {
				t.Fatalf("key %s in partition %d, want %d", cid, r.Partition, want)
			}
		}
		if len(r.Headers) != 2 || r.Headers[0].Key != "env" || string(r.Headers[0].Value) != "ci" || r.Headers[1].Key != "team" {
			t.Fatalf("headers %v", r.Headers)
		}
		ts, _ := time.Parse(time.RFC3339Nano, field(t, r.Value, "@timestamp"))
		if !r.Timestamp.Equal(ts.Truncate(time.Millisecond)) { // Kafka keeps milliseconds
			t.Fatalf("record time %s, event @timestamp %s", r.Timestamp, ts)
		}
		if r.Attrs.CompressionType() != 1 {
			t.Fatalf("compression type %d, want gzip (1)", r.Attrs.CompressionType())
		}
	}
	gs, ss := sortedStrings(got), sortedStrings(sent)
	for i := range gs {
		if gs[i] != ss[i] {
			t.Fatalf("document %d differs:\n got %s\nsent %s", i, gs[i], ss[i])
		}
	}
	st := o.Stats()
	if st.Published != uint64(len(sent)) || st.Failed != 0 {
		t.Fatalf("stats %+v for %d documents", st, len(sent))
	}
	if len(byTopic) != 4 {
		t.Fatalf("topics %v: want flow, dns, http, icmp", byTopic)
	}
	t.Logf("%d documents in %v", len(sent), byTopic)
}

// seqDocs are the sample capture's documents, each with a "seq" field
// added, for tests that check order, partitions and exactly-once.
func seqDocs(t *testing.T, n int) []output.Doc {
	t.Helper()
	var base [][]byte
	cl := &collect{}
	base = replay(t, samplePcap(t), 1, cl)
	docs := make([]output.Doc, n)
	for i := range docs {
		b := base[i%len(base)]
		body := fmt.Appendf(nil, `{"seq":%d,%s`, i, b[1:])
		docs[i] = output.Doc{Index: "x", Body: body}
	}
	return docs
}

type collect struct{}

func (collect) Publish(context.Context, []output.Doc) error { return nil }
func (collect) Close() error                                { return nil }

func seqOf(t *testing.T, r *kgo.Record) int {
	n, err := strconv.Atoi(field(t, r.Value, "seq"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBrokerPartitioners(t *testing.T) {
	addr := broker(t)
	docs := seqDocs(t, 64)
	run := func(name string, part map[string]any, check func(recs []*kgo.Record)) {
		t.Run(name, func(t *testing.T) {
			topic := prefix(t)
			o := newOut(t, map[string]any{"hosts": []any{addr}, "topic": topic, "partition": part, "compression": "none"})
			if err := o.Publish(context.Background(), docs); err != nil {
				t.Fatal(err)
			}
			recs := consume(t, addr, "^"+topic+"$", len(docs))
			if len(recs) != len(docs) {
				t.Fatalf("%d records of %d", len(recs), len(docs))
			}
			sort.Slice(recs, func(i, j int) bool { return seqOf(t, recs[i]) < seqOf(t, recs[j]) })
			check(recs)
		})
	}
	run("round_robin", map[string]any{"round_robin": map[string]any{"group_events": 2}}, func(recs []*kgo.Record) {
		p0 := recs[0].Partition
		for i, r := range recs {
			if want := (p0 + int32(i/2)) % 4; r.Partition != want {
				t.Fatalf("seq %d in partition %d, want %d", i, r.Partition, want)
			}
		}
	})
	run("random", map[string]any{"random": map[string]any{"group_events": 4}}, func(recs []*kgo.Record) {
		used := map[int32]bool{}
		for i, r := range recs {
			used[r.Partition] = true
			if i%4 != 0 && r.Partition != recs[i-1].Partition {
				t.Fatalf("seq %d left its group of 4", i)
			}
		}
		if len(used) < 2 {
			t.Fatalf("16 random groups all in partitions %v", used)
		}
	})
	run("hash fields", map[string]any{"hash": map[string]any{"hash": []any{"source.ip", "source.port"}, "reachable_only": true}}, func(recs []*kgo.Record) {
		used := map[int32]bool{}
		for _, r := range recs {
			ip, port := field(t, r.Value, "source.ip"), field(t, r.Value, "source.port")
			var want int32
			switch {
			case ip == "" && port == "":
				continue // nothing to hash: random
			case port == "":
				want = saramaHash(ip)(4)
			default:
				want = saramaHash(ip, port)(4)
			}
			if r.Partition != want {
				t.Fatalf("%s %s in partition %d, want %d", ip, port, r.Partition, want)
			}
			used[r.Partition] = true
		}
		if len(used) < 2 {
			t.Fatalf("every document in %v", used)
		}
	})
}

// Topic rules with conditions and mappings, as Fleet users write them.
func TestBrokerTopicRules(t *testing.T) {
	addr := broker(t)
	pre := prefix(t)
	o := newOut(t, map[string]any{
		"hosts": []any{addr}, "topic": pre + "-other",
		"topics": []any{
			map[string]any{"topic": pre + "-dns", "when": map[string]any{"equals": map[string]any{"type": "dns"}}},
			map[string]any{"topic": "%{[network.transport]}", "mappings": map[string]any{"icmp": pre + "-icmp", "ipv6-icmp": pre + "-icmp"},
				"when": map[string]any{"not": map[string]any{"equals": map[string]any{"type": "flow"}}}},
			map[string]any{"topic": pre + "-flows-%{[network.transport]}", "when": map[string]any{"equals": map[string]any{"type": "flow"}}},
		},
	})
	sent := replay(t, samplePcap(t), 1, o)
	recs := consume(t, addr, "^"+regexp.QuoteMeta(pre)+"-.*", len(sent))
	if len(recs) != len(sent) {
		t.Fatalf("%d records of %d", len(recs), len(sent))
	}
	count := map[string]int{}
	for _, r := range recs {
		typ, transport := field(t, r.Value, "type"), field(t, r.Value, "network.transport")
		var want string
		switch {
		case typ == "dns":
			want = pre + "-dns"
		case typ == "flow":
			want = pre + "-flows-" + transport
		case typ == "icmp":
			want = pre + "-icmp"
		default:
			want = pre + "-other"
		}
		if r.Topic != want {
			t.Fatalf("%s document in %s, want %s", typ, r.Topic, want)
		}
		count[strings.TrimPrefix(r.Topic, pre)]++
	}
	if count["-dns"] == 0 || count["-icmp"] == 0 || count["-other"] == 0 || count["-flows-tcp"] == 0 {
		t.Fatalf("routing %v", count)
	}
	t.Logf("routed %v", count)
}

func TestBrokerCompression(t *testing.T) {
	addr := broker(t)
	docs := seqDocs(t, 40)
	for codec, attr := range map[string]uint8{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4} {
		t.Run(codec, func(t *testing.T) {
			topic := prefix(t)
			m := map[string]any{"hosts": []any{addr}, "topic": topic, "compression": codec}
			if codec == "zstd" || codec == "lz4" {
				m["compression_level"] = 9
			}
			o := newOut(t, m)
			start := time.Now()
			if err := o.Publish(context.Background(), docs); err != nil {
				t.Fatal(err)
			}
			t.Logf("publish %v", time.Since(start))
			recs := consume(t, addr, "^"+topic+"$", len(docs))
			if len(recs) != len(docs) {
				t.Fatalf("%d records of %d", len(recs), len(docs))
			}
			for _, r := range recs {
				if r.Attrs.CompressionType() != attr {
					t.Fatalf("compression type %d, want %d", r.Attrs.CompressionType(), attr)
				}
				if !bytes.Equal(r.Value, docs[seqOf(t, r)].Body) {
					t.Fatalf("record %d differs", seqOf(t, r))
				}
			}
		})
	}
}

func TestBrokerSASL(t *testing.T) {
	addr := broker(t)
	docs := seqDocs(t, 10)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			topic := prefix(t)
			o := newOut(t, map[string]any{"hosts": []any{kafkaPort(t, offSASL)}, "topic": topic,
				"username": "nt", "password": "nt-secret", "sasl": map[string]any{"mechanism": mech}})
			if err := o.Publish(context.Background(), docs); err != nil {
				t.Fatal(err)
			}
			if n := len(consume(t, addr, "^"+topic+"$", len(docs))); n != len(docs) {
				t.Fatalf("%d records of %d", n, len(docs))
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		o := newOut(t, map[string]any{"hosts": []any{kafkaPort(t, offSASL)}, "topic": prefix(t),
			"username": "nt", "password": "wrong", "sasl": map[string]any{"mechanism": "SCRAM-SHA-256"},
			"timeout": 2, "broker_timeout": 2, "backoff": map[string]any{"init": "100ms", "max": "200ms"}})
		st, err := publishUntil(t, o, docs, "SASL")
		if err == nil || st.Published != 0 || st.Retries == 0 || !strings.Contains(st.LastError, "SASL") {
			t.Fatalf("err %v, stats %+v", err, st)
		}
		t.Logf("reported: %s", st.LastError)
	})
}

func TestBrokerTLS(t *testing.T) {
	addr := broker(t)
	docs := seqDocs(t, 10)
	ca := certFile(t, "ca.pem")
	ok := func(name string, m map[string]any) {
		t.Run(name, func(t *testing.T) {
			topic := prefix(t)
			m["topic"] = topic
			o := newOut(t, m)
			if err := o.Publish(context.Background(), docs); err != nil {
				t.Fatal(err)
			}
			if n := len(consume(t, addr, "^"+topic+"$", len(docs))); n != len(docs) {
				t.Fatalf("%d records of %d", n, len(docs))
			}
		})
	}
	client := func(m map[string]any) map[string]any {
		m["certificate"], m["key"] = certFile(t, "client.pem"), certFile(t, "client-key.pem")
		return m
	}
	ok("verified, client certificate", map[string]any{"hosts": []any{kafkaPort(t, offSSL)},
		"ssl": client(map[string]any{"certificate_authorities": []any{ca}, "verification_mode": "full"})})
	pemCA, _ := os.ReadFile(ca)
	ok("inline CA, keep_alive", map[string]any{"hosts": []any{kafkaPort(t, offSSL)}, "keep_alive": "30s",
		"ssl": client(map[string]any{"certificate_authorities": []any{string(pemCA)}})})
	ok("SCRAM over TLS", map[string]any{"hosts": []any{kafkaPort(t, offSASLSSL)},
		"username": "nt", "password": "nt-secret", "sasl": map[string]any{"mechanism": "SCRAM-SHA-512"},
		"ssl": map[string]any{"certificate_authorities": []any{ca}}})
	t.Run("no client certificate", func(t *testing.T) {
		o := newOut(t, map[string]any{"hosts": []any{kafkaPort(t, offSSL)}, "topic": prefix(t),
			"timeout": 2, "broker_timeout": 2, "ssl": map[string]any{"certificate_authorities": []any{ca}}})
		st, err := publishUntil(t, o, docs, "tls")
		if err == nil || st.Published != 0 || st.Retries == 0 || !strings.Contains(st.LastError, "tls") {
			t.Fatalf("err %v, stats %+v", err, st)
		}
		t.Logf("reported: %s", st.LastError)
	})
	t.Run("unknown CA", func(t *testing.T) {
		o := newOut(t, map[string]any{"hosts": []any{kafkaPort(t, offSSL)}, "topic": prefix(t),
			"timeout": 2, "broker_timeout": 2, "backoff": map[string]any{"init": "100ms", "max": "200ms"},
			"ssl": client(map[string]any{"verification_mode": "full"})})
		st, err := publishUntil(t, o, docs, "certificate")
		if err == nil || st.Published != 0 || !strings.Contains(st.LastError, "certificate") {
			t.Fatalf("err %v, stats %+v", err, st)
		}
		t.Logf("reported: %s", st.LastError)
	})
}

// Documents over max_message_bytes and a topic the broker refuses are
// counted and reported; the rest of the batch is delivered.
func TestBrokerRefusals(t *testing.T) {
	addr := broker(t)
	docs := seqDocs(t, 20)
	sizes := 0
	for _, d := range docs {
		sizes = max(sizes, len(d.Body))
	}
	big := output.Doc{Body: fmt.Appendf(nil, `{"seq":99,"pad":"%s"}`, strings.Repeat("x", sizes+100))}
	topic := prefix(t)
	o := newOut(t, map[string]any{"hosts": []any{addr}, "topic": topic, "max_message_bytes": sizes + 50})
	if err := o.Publish(context.Background(), append(docs, big)); err != nil {
		t.Fatal(err)
	}
	st := o.Stats()
	if st.Published != uint64(len(docs)) || st.Failed != 1 || !strings.Contains(st.LastError, "max_message_bytes") {
		t.Fatalf("stats %+v", st)
	}
	if n := len(consume(t, addr, "^"+topic+"$", len(docs))); n != len(docs) {
		t.Fatalf("%d records of %d", n, len(docs))
	}

	bad := newOut(t, map[string]any{"hosts": []any{addr}, "topic": "%{[type]}", "topics": []any{
		map[string]any{"topic": "bad topic!", "when": map[string]any{"equals": map[string]any{"type": "dns"}}},
		map[string]any{"topic": topic}}})
	if err := bad.Publish(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	st = bad.Stats()
	dns := 0
	for _, d := range docs {
		if field(t, d.Body, "type") == "dns" {
			dns++
		}
	}
	if dns == 0 || st.Failed != uint64(dns) || st.Published != uint64(len(docs)-dns) || !strings.Contains(st.LastError, "bad topic!") {
		t.Fatalf("stats %+v (%d dns documents)", st, dns)
	}
	t.Logf("reported: %s", st.LastError)
}

// required_acks 0 and 1, and the protocol capped at Fleet's default 1.0.0.
func TestBrokerAcksAndVersion(t *testing.T) {
	addr := broker(t)
	docs := seqDocs(t, 30)
	for _, c := range []struct {
		name string
		m    map[string]any
	}{
		{"acks 0", map[string]any{"required_acks": 0}},
		{"acks 1, version 1.0.0", map[string]any{"required_acks": 1, "version": "1.0.0", "compression": "snappy"}},
		{"acks -1, version 4.0", map[string]any{"required_acks": -1, "version": "4.0", "compression": "zstd"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := prefix(t)
			c.m["hosts"], c.m["topic"] = []any{addr}, topic
			o := newOut(t, c.m)
			if err := o.Publish(context.Background(), docs); err != nil {
				t.Fatal(err)
			}
			if n := len(consume(t, addr, "^"+topic+"$", len(docs))); n != len(docs) || o.Stats().Published != uint64(len(docs)) {
				t.Fatalf("%d records of %d, stats %+v", n, len(docs), o.Stats())
			}
		})
	}
}

// proxy forwards a listener to the broker's PROXIED listener, which the
// broker advertises at the proxy's port, so every connection of the client
// goes through it; cut closes the listener and every connection.
type proxy struct {
	t       *testing.T
	listen  string
	backend string
	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
}

func (p *proxy) start() {
	ln, err := net.Listen("tcp", p.listen)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(b, c); b.Close() }()
			go func() { _, _ = io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// The broker unreachable for 60s (NT_OUTAGE) in the middle of a capture
// replay through the production pipeline (capture, a script processor
// numbering each stream's documents, the publish queue, this output with
// Fleet's default settings but required_acks -1): a proxy in front of the broker's PROXIED
// listener, which advertises the proxy's port, is cut. Nothing is
// published while cut, the capture is held back, and once the broker is
// back every numbered document is in the topic exactly once (idempotent
// writes with required_acks -1), the output publishing again within
// seconds.
func TestBrokerOutage(t *testing.T) {
	addr := broker(t)
	p := &proxy{t: t, listen: kafkaPort(t, offProxy), backend: kafkaPort(t, offProxied)}
	p.start()
	defer p.cut()
	topic := prefix(t)
	// required_acks -1 (not Fleet's default 1): only then are writes
	// idempotent, so that a batch resent after a cut that lost its
	// acknowledgement is dropped by the broker. With acks 1 a resend is a
	// duplicate (at least once), as in Beats; CI saw one batch of 69 so.
	o := newOut(t, map[string]any{"hosts": []any{kafkaPort(t, offProxy)}, "topic": topic, "required_acks": -1})
	r := outtest.SeqReplay(t, outtest.SamplePcap(), 500, 512, o)
	length := outtest.OutageLength(t)
	oc := outtest.CutDuring(t, r, o, 500, length, p.cut, p.start)
	produced := r.Wait(t, 30*time.Second) // normally a few seconds: a stall after the restore fails
	total := oc.Check(t, produced, 10*time.Second)
	recs := consume(t, addr, "^"+topic+"$", total)
	docs := make([]map[string]any, 0, len(recs))
	for _, rec := range recs {
		var m map[string]any
		if err := json.Unmarshal(rec.Value, &m); err != nil {
			t.Fatalf("%v: %.200s", err, rec.Value)
		}
		docs = append(docs, m)
	}
	outtest.CheckSeq(t, produced, docs)
	if st := o.Stats(); st.Published != uint64(total) || st.Failed != 0 {
		t.Fatalf("stats %+v for %d documents", st, total)
	}
	t.Logf("cut %v after %d of %d documents sent by the capture (%d published); publishing again %v after the restore; all %d exactly once; retries %d, last error while cut: %s",
		length, oc.SentAtCut, total, oc.AtCut.Published, oc.Resumed.Round(time.Millisecond), total, oc.BeforeRestore.Retries-oc.AtCut.Retries, oc.BeforeRestore.LastError)
}

// batchCounter records produce requests and the records of each batch.
type batchCounter struct {
	mu       sync.Mutex
	requests int
	batches  []int
}

func (c *batchCounter) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key == 0 && e2e.Err() == nil { // Produce
		c.mu.Lock()
		c.requests++
		c.mu.Unlock()
	}
}

func (c *batchCounter) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	c.mu.Lock()
	c.batches = append(c.batches, m.NumRecords)
	c.mu.Unlock()
}

// bulk_max_size bounds the records of one produce request;
// bulk_flush_frequency lets them gather first.
func TestBrokerBulkMaxSize(t *testing.T) {
	addr := broker(t)
	docs := seqDocs(t, 60)
	c := &batchCounter{}
	testHooks = []kgo.Hook{c}
	defer func() { testHooks = nil }()
	topic := prefix(t)
	o := newOut(t, map[string]any{"hosts": []any{addr}, "topic": topic, "bulk_max_size": 10, "bulk_flush_frequency": "20ms",
		"partition": map[string]any{"round_robin": nil}})
	if err := o.Publish(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	// The client's hooks run just after the promises: wait for the last.
	total := 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		total = 0
		for _, n := range c.batches {
			total += n
		}
		c.mu.Unlock()
		if total >= len(docs) {
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Each request of at most 10 records, spread over 4 partitions: at
	// least 6 requests, every batch at most 10 records (3 with round robin
	// over 4 partitions, as 10 records split 3+3+2+2).
	if c.requests < 6 || total != len(docs) {
		t.Fatalf("%d requests, batches %v", c.requests, c.batches)
	}
	for _, n := range c.batches {
		if n > 3 {
			t.Fatalf("batch of %d records: %v", n, c.batches)
		}
	}
	if n := len(consume(t, addr, "^"+topic+"$", len(docs))); n != len(docs) {
		t.Fatalf("%d records of %d", n, len(docs))
	}
}

// createTopic makes a topic with topic-level configs through the admin API.
func createTopic(t *testing.T, addr, topic string, partitions int32, configs map[string]string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// An event time the broker refuses (here more than an hour ahead, with
// message.timestamp.after.max.ms) is sent again with the time of sending,
// not lost and not retried forever.
func TestBrokerRefusedTimestamp(t *testing.T) {
	addr := broker(t)
	topic := prefix(t)
	createTopic(t, addr, topic, 1, map[string]string{"message.timestamp.after.max.ms": "3600000"})
	o := newOut(t, map[string]any{"hosts": []any{addr}, "topic": topic, "backoff": map[string]any{"init": "100ms", "max": "200ms"}})
	docs := []output.Doc{
		{Body: []byte(`{"@timestamp":"2099-01-01T00:00:00Z","seq":0}`)},
		{Body: []byte(`{"@timestamp":"2026-01-01T00:00:00.5Z","seq":1}`)},
	}
	before := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// One at a time: the broker refuses a whole batch, and every record of
	// a refused batch is sent again with the time of sending.
	for _, d := range docs {
		if err := o.Publish(ctx, []output.Doc{d}); err != nil {
			t.Fatalf("%v, stats %+v", err, o.Stats())
		}
	}
	recs := consume(t, addr, "^"+topic+"$", 2)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		switch seqOf(t, r) {
		case 0:
			if r.Timestamp.Before(before.Add(-time.Minute)) || r.Timestamp.After(time.Now().Add(time.Minute)) {
				t.Fatalf("future event sent with time %s", r.Timestamp)
			}
		case 1:
			if !r.Timestamp.Equal(time.Date(2026, 1, 1, 0, 0, 0, 5e8, time.UTC)) {
				t.Fatalf("event time %s", r.Timestamp)
			}
		}
	}
	if st := o.Stats(); st.Published != 2 || st.Failed != 0 || !strings.Contains(st.LastError, "INVALID_TIMESTAMP") {
		t.Fatalf("stats %+v", st)
	}
}

// publishUntil runs a Publish that cannot succeed until Stats reports an
// error containing want (at most 20 s), then cancels it: the batch must be
// held, not dropped, and the reason visible. It returns the stats at that
// point and Publish's error.
func publishUntil(t *testing.T, o *Output, docs []output.Doc, want string) (output.Stats, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- o.Publish(ctx, docs) }()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(o.Stats().LastError, want) {
			break
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Publish returned before it was cancelled: %v, stats %+v", err, o.Stats())
	default:
	}
	cancel()
	err := <-done
	return o.Stats(), err
}

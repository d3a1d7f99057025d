package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-client/v7/pkg/proto"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaBroker is the plaintext listener of _dev/kafka, or skips when it is
// down and NT_REQUIRE_KAFKA is unset.
func kafkaBroker(t *testing.T) (plain, sasl string) {
	t.Helper()
	plain, sasl = "127.0.0.1:19092", "127.0.0.1:19093"
	c, err := net.DialTimeout("tcp", plain, 2*time.Second)
	if err == nil {
		c.Close()
		return plain, sasl
	}
	if os.Getenv("NT_REQUIRE_KAFKA") != "" {
		t.Fatalf("Kafka at %s: %v (NT_REQUIRE_KAFKA is set)", plain, err)
	}
	t.Skipf("no Kafka broker at %s (%v); start one with _dev/kafka/start.sh", plain, err)
	return "", ""
}

// Tags of the documents in a topic, read from the start until want arrived
// or 20 s passed.
func kafkaTags(t *testing.T, addr, topic string, want int) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tags := map[string]int{}
	n := 0
	for deadline := time.Now().Add(20 * time.Second); n < want && time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			var d map[string]any
			if err := json.Unmarshal(r.Value, &d); err != nil {
				t.Fatalf("record %s: %v", r.Value, err)
			}
			tag, _ := d["tag"].(string)
			tags[tag]++
			n++
		})
	}
	return tags
}

// The kafka output unit under the agent protocol: hot swaps between the file
// output and Kafka keep the capture worker, documents land in the topic the
// policy names, and a wrong password turns the output unit DEGRADED with
// the broker's reason while the documents wait in the queue.
func TestKafkaOutputUnit(t *testing.T) {
	plain, sasl := kafkaBroker(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	topic := "nt-agent-" + hex.EncodeToString(b[:])
	h := startHarness(t, nil)
	a := h.agent
	h.fileOutput("one.ndjson")
	a.setUnit("u1", proto.UnitType_INPUT, packetInput("nt-1", stream("http-1", "nttest", "ports", []any{80.0})), proto.UnitLogLevel_INFO)
	a.waitUnit("u1", proto.State_HEALTHY, 5*time.Second)
	h.waitDocs("one.ndjson", func(d []map[string]any) bool { return countTag(d, "start") == 1 })
	w := h.factory.get("nt-1")

	// As Fleet sends it: numbers as float64, a format-string topic.
	kafkaOut := map[string]any{"type": "kafka", "hosts": []any{plain}, "topic": topic + "-%{[type]}",
		"client_id": "Elastic", "version": "1.0.0", "compression": "gzip", "compression_level": 4.0,
		"partition":     map[string]any{"round_robin": map[string]any{"group_events": 1.0}},
		"required_acks": 1.0, "timeout": 30.0, "broker_timeout": 10.0, "headers": []any{}}
	a.setUnit("packet-default", proto.UnitType_OUTPUT, kafkaOut, proto.UnitLogLevel_INFO)
	o := a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second)
	if !strings.Contains(o.Message, "kafka") {
		t.Fatalf("output message %q", o.Message)
	}
	w.emit("to-kafka")
	w.emit("to-kafka")
	if tags := kafkaTags(t, plain, topic+"-nttest", 2); tags["to-kafka"] != 2 || len(tags) != 1 {
		t.Fatalf("topic %s-nttest holds %v", topic, tags)
	}

	// Wrong password: the output unit says why; the documents wait.
	bad := map[string]any{"type": "kafka", "hosts": []any{sasl}, "topic": topic + "-auth",
		"username": "nt", "password": "wrong", "sasl": map[string]any{"mechanism": "SCRAM-SHA-256"}}
	a.setUnit("packet-default", proto.UnitType_OUTPUT, bad, proto.UnitLogLevel_INFO)
	a.waitUnit("packet-default", proto.State_HEALTHY, 5*time.Second) // configured
	w.emit("held")
	o = a.waitUnit("packet-default", proto.State_DEGRADED, 15*time.Second)
	if !strings.Contains(o.Message, "SASL") || !strings.Contains(o.Message, "check username, password") {
		t.Fatalf("output message %q", o.Message)
	}

	// Fixed credentials: what was held arrives.
	good := map[string]any{"type": "kafka", "hosts": []any{sasl}, "topic": topic + "-auth",
		"username": "nt", "password": "nt-secret", "sasl": map[string]any{"mechanism": "SCRAM-SHA-256"}}
	a.setUnit("packet-default", proto.UnitType_OUTPUT, good, proto.UnitLogLevel_INFO)
	if tags := kafkaTags(t, plain, topic+"-auth", 1); tags["held"] != 1 {
		t.Fatalf("topic %s-auth holds %v", topic, tags)
	}

	// Back to a file: the capture worker was never rebuilt.
	h.fileOutput("two.ndjson")
	w.emit("after")
	h.waitDocs("two.ndjson", func(d []map[string]any) bool { return countTag(d, "after") == 1 })
	if h.factory.created.Load() != 1 {
		t.Fatalf("workers created %d", h.factory.created.Load())
	}
}

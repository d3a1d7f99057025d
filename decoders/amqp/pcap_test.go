package amqp

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/amqp"

func replay(t *testing.T, name string, opts map[string]any) []map[string]any {
	t.Helper()
	stream := map[string]any{}
	for k, v := range opts {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "amqp", stream)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	p := inst.TCP.(*Protocol)
	if n := p.stats.ParseErrors.Load(); n != 0 {
		t.Errorf("%s: %d parse errors", name, n)
	}
	if n := p.stats.UnknownMethods.Load(); n != 0 {
		t.Errorf("%s: %d unknown methods", name, n)
	}
	return col.Docs
}

func str(v any) string {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	if v == nil {
		return "<nil>"
	}
	return fmt.Sprint(v)
}

// expect compares fields by dotted path; nil means "absent".
func expect(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got := str(protocoltest.Get(doc, k)); got != str(want[k]) {
			t.Errorf("%v %s = %s, want %v", doc["method"], k, got, str(want[k]))
		}
	}
}

func methodsOf(docs []map[string]any) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d["method"].(string))
	}
	return out
}

func TestSession(t *testing.T) {
	docs := replay(t, "session.pcap", map[string]any{"send_request": true, "send_response": true})
	want := []string{
		"exchange.declare", "queue.declare", "queue.bind",
		"basic.publish", "basic.publish", "basic.get", "basic.ack", "basic.get", "basic.get-empty",
		"basic.publish", "basic.consume", "basic.deliver", "basic.ack", "basic.cancel",
		"basic.publish", "basic.get", "basic.nack", "basic.publish", "basic.get", "basic.reject",
		"basic.publish", "queue.purge", "queue.unbind",
		"tx.select", "basic.publish", "tx.commit", "tx.rollback",
		"confirm.select", "basic.publish", "basic.ack",
		"queue.delete", "exchange.delete", "queue.declare", "queue.declare", "channel.close", "queue.delete",
	}
	if got := methodsOf(docs); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("methods:\n got %v\nwant %v", got, want)
	}
	for _, d := range docs {
		expect(t, d, map[string]any{"type": "amqp", "network.protocol": "amqp", "network.transport": "tcp",
			"event.action": "amqp." + d["method"].(string), "event.dataset": "amqp"})
	}

	expect(t, docs[0], map[string]any{
		"status": "OK", "amqp.exchange": "orders.topic", "amqp.exchange-type": "topic",
		"amqp.durable": true, "amqp.passive": false, "amqp.no-wait": false,
		"amqp.arguments.alternate-exchange": "orders.unrouted",
		"source.port":                       56346, "destination.port": 5672,
		"source.bytes": 77, "destination.bytes": 12,
		"request": "exchange.declare orders.topic", "response": "OK",
	})
	expect(t, docs[1], map[string]any{
		"amqp.queue": "orders", "amqp.durable": false, "amqp.exclusive": false, "amqp.auto-delete": false,
		"amqp.arguments.x-message-ttl": 60000, "amqp.arguments.x-max-length": 100,
		"amqp.message-count": 0, "amqp.consumer-count": 0,
		"event.duration": 1747000,
	})
	if docs[1]["event"].(map[string]any)["end"] == nil {
		t.Error("queue.declare has no event.end")
	}
	expect(t, docs[2], map[string]any{
		"amqp.queue": "orders", "amqp.exchange": "orders.topic", "amqp.routing-key": "order.*",
		"request": "queue.bind orders orders.topic",
	})
	// The published message with every property and header type pika writes.
	pub := docs[3]
	expect(t, pub, map[string]any{
		"amqp.exchange": "orders.topic", "amqp.routing-key": "order.created",
		"amqp.mandatory": false, "amqp.immediate": false,
		"amqp.content-type": "text/plain", "amqp.delivery-mode": "persistent", "amqp.priority": 5,
		"amqp.correlation-id": "corr-42", "amqp.reply-to": "replies", "amqp.expiration": "60000",
		"amqp.message-id": "msg-1", "amqp.timestamp": "November 26 01:30:00 2026",
		"amqp.type": "order.created", "amqp.user-id": "guest", "amqp.app-id": "capture",
		"amqp.headers.tenant": "acme", "amqp.headers.retries": 3, "amqp.headers.big": 5000000000,
		"amqp.headers.urgent": true, "amqp.headers.price": "12.5",
		"amqp.headers.sent":       "November 26 01:30:00 2026",
		"amqp.headers.trace.span": "ab12", "amqp.headers.trace.depth": 2,
		"amqp.headers.tags.0": "a", "amqp.headers.tags.1": "b", "amqp.headers.tags.2": 7,
		"amqp.headers.raw": "[1, 2, 255]", "amqp.headers.none": nil,
		"source.bytes": 15, "destination.bytes": nil, "event.end": nil,
		"request": "order 1 created", "response": nil, "status": "OK",
	})
	// A JSON body is text too; a body without content type is written as
	// byte values.
	expect(t, docs[4], map[string]any{"request": `{"id":2}`, "amqp.delivery-mode": "non-persistent", "amqp.exchange": nil})
	expect(t, docs[14], map[string]any{"request": "110 97 99 107 32 109 101"}) // "nack me"
	// basic.get + get-ok: one transaction with the message.
	expect(t, docs[5], map[string]any{
		"amqp.queue": "orders", "amqp.no-ack": false, "amqp.delivery-tag": 1, "amqp.redelivered": false,
		"amqp.exchange": "orders.topic", "amqp.routing-key": "order.created", "amqp.message-count": 1,
		"amqp.headers.tenant": "acme", "request": "basic.get orders", "response": "order 1 created",
		"source.bytes": 22, "destination.bytes": 15,
	})
	expect(t, docs[8], map[string]any{"amqp.queue": "orders", "request": "basic.get-empty orders", "response": "OK"})
	expect(t, docs[10], map[string]any{"amqp.queue": "orders", "amqp.consumer-tag": "ctag-1", "amqp.no-ack": false})
	expect(t, docs[11], map[string]any{
		"amqp.consumer-tag": "ctag-1", "amqp.delivery-tag": 3, "amqp.routing-key": "orders",
		"response": "to consumer", "destination.bytes": 11, "source.bytes": nil,
	})
	expect(t, docs[12], map[string]any{"amqp.delivery-tag": 3, "amqp.multiple": false, "status": "OK"})
	expect(t, docs[16], map[string]any{"amqp.delivery-tag": 4, "amqp.requeue": false})
	expect(t, docs[19], map[string]any{"amqp.delivery-tag": 5, "amqp.requeue": false, "status": "Error", "request": "basic.reject 5"})
	expect(t, docs[21], map[string]any{"amqp.queue": "orders", "amqp.message-count": 1})
	expect(t, docs[23], map[string]any{"status": "OK", "source.bytes": 12, "destination.bytes": 12})
	// The broker's publisher confirm is server-sent: the server is the source.
	expect(t, docs[29], map[string]any{"amqp.delivery-tag": 1, "source.port": 5672})
	expect(t, docs[30], map[string]any{"amqp.queue": "orders", "amqp.message-count": 2, "amqp.if-unused": false})
	// The conflicting declare: the request never gets its reply; the
	// server's channel.close carries the error.
	expect(t, docs[33], map[string]any{
		"status": "Error", "amqp.queue": "strict", "amqp.arguments.x-max-length": 20,
		"error.message": "No reply: the channel was closed by the peer",
	})
	expect(t, docs[34], map[string]any{
		"status": "Error", "amqp.reply-code": 406,
		"amqp.reply-text": "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'strict' in vhost '/': received '20' but current is '10'",
		"amqp.class-id":   50, "amqp.method-id": 10,
		"source.port": 5672, "destination.port": 56346, "client.port": 5672,
	})
}

func TestSessionOptions(t *testing.T) {
	docs := replay(t, "session.pcap", map[string]any{"parse_headers": false, "parse_arguments": false})
	for _, d := range docs {
		for _, k := range []string{"amqp.arguments", "amqp.headers", "amqp.content-type", "request", "response"} {
			if v := protocoltest.Get(d, k); v != nil {
				t.Errorf("%v: %s = %v with parse_headers/parse_arguments off", d["method"], k, v)
			}
		}
	}
	if len(docs) != 36 {
		t.Errorf("%d events, want 36", len(docs))
	}
	shown := replay(t, "session.pcap", map[string]any{"hide_connection_information": false})
	got := methodsOf(shown)
	want := []string{"connection.start", "connection.tune", "connection.open", "channel.open", "exchange.declare"}
	if strings.Join(got[:5], " ") != strings.Join(want, " ") {
		t.Errorf("with connection information: %v", got[:5])
	}
	count := map[string]int{}
	for _, m := range got {
		count[m]++
	}
	// 3 clean channel closes and the connection close, plus the 406 one.
	if count["channel.close"] != 4 || count["connection.close"] != 1 || count["channel.open"] != 4 {
		t.Errorf("closes/opens: %v", count)
	}
	expect(t, shown[0], map[string]any{
		"amqp.version-major": 0, "amqp.version-minor": 9, "amqp.mechanisms": "AMQPLAIN PLAIN",
		"amqp.locales": "en_US", "amqp.server-properties.product": "RabbitMQ",
		"amqp.mechanism": "PLAIN", "amqp.locale": "en_US", "amqp.client-properties.product": "Pika Python Client Library",
		"source.port": 5672,
	})
	expect(t, shown[1], map[string]any{"amqp.channel-max": 2047, "amqp.frame-max": 131072, "amqp.heartbeat": 0})
	expect(t, shown[2], map[string]any{"amqp.virtual-host": "/", "source.port": 56346})
}

func TestLargeBody(t *testing.T) {
	docs := replay(t, "large.pcap", map[string]any{"send_request": true, "send_response": true, "max_body_length": 10000})
	want := []string{"queue.declare", "basic.publish", "basic.consume", "basic.deliver", "basic.publish", "channel.close"}
	if got := methodsOf(docs); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("methods %v, want %v", got, want)
	}
	var body strings.Builder
	for i := range 10000 {
		if i > 0 {
			body.WriteByte(' ')
		}
		body.WriteString(strconv.Itoa(i % 251))
	}
	expect(t, docs[1], map[string]any{"source.bytes": 10000, "request": body.String(), "amqp.content-type": "application/octet-stream"})
	expect(t, docs[3], map[string]any{"destination.bytes": 10000, "response": body.String()})
	expect(t, docs[5], map[string]any{
		"status": "Error", "amqp.reply-code": 404, "amqp.reply-text": "NOT_FOUND - no exchange 'no.such.exchange' in vhost '/'",
		"amqp.class-id": 60, "amqp.method-id": 40,
	})

	cut := replay(t, "large.pcap", map[string]any{"send_request": true, "max_body_length": 5})
	expect(t, cut[1], map[string]any{"request": "0 1 2 3 4 [...]", "source.bytes": 10000})
	expect(t, cut[3], map[string]any{"response": nil, "destination.bytes": 10000})
}

// tsharkPDUs returns every AMQP frame tshark dissects in the pcap, in
// order, flattened: type, channel, length, class, method and the argument
// and property fields with tshark's names.
func tsharkPDUs(t *testing.T, name string) []map[string]string {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	out, err := exec.Command("tshark", "-r", filepath.Join(pcapDir, name), "-Y", "amqp",
		"-T", "json", "--no-duplicate-keys", "-j", "amqp").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var pkts []struct {
		Source struct {
			Layers map[string]json.RawMessage `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatal(err)
	}
	var pdus []map[string]string
	for _, p := range pkts {
		raw := p.Source.Layers["amqp"]
		var list []map[string]any
		if err := json.Unmarshal(raw, &list); err != nil {
			var one map[string]any
			if err := json.Unmarshal(raw, &one); err != nil {
				t.Fatal(err)
			}
			list = []map[string]any{one}
		}
		for _, l := range list {
			flat := map[string]string{}
			var walk func(m map[string]any)
			walk = func(m map[string]any) {
				for k, v := range m {
					switch x := v.(type) {
					case map[string]any:
						walk(x)
					case string:
						flat[k[strings.LastIndexByte(k, '.')+1:]] = x
					}
				}
			}
			walk(l)
			pdus = append(pdus, flat)
		}
	}
	return pdus
}

// TestTsharkAgrees walks tshark's frames and checks each event against the
// frame that starts it: the method, the names, tags, codes and counts, the
// byte counts (frame length + 8 for methods, body size for messages) and
// the content properties.
func TestTsharkAgrees(t *testing.T) {
	for _, name := range []string{"session.pcap", "large.pcap"} {
		t.Run(name, func(t *testing.T) {
			pdus := tsharkPDUs(t, name)
			docs := replay(t, name, map[string]any{"hide_connection_information": false})
			var starts []map[string]string // frames that begin an event
			for i, p := range pdus {
				if p["type"] != "1" {
					continue
				}
				id, _ := strconv.Atoi(p["class"])
				mid, _ := strconv.Atoi(p["method"])
				info, ok := methods[uint32(id)<<16|uint32(mid)]
				if !ok {
					t.Fatalf("tshark frame with unknown method %d.%d", id, mid)
				}
				if info.kind == kindReply || (info.kind == kindContent && info.name == "basic.get-ok") {
					continue
				}
				p["name"] = info.name
				// Attach the content header that follows on the same channel.
				for _, q := range pdus[i+1:] {
					if q["type"] == "2" && q["channel"] == p["channel"] {
						for k, v := range q {
							if _, dup := p[k]; !dup {
								p[k] = v
							}
						}
						break
					}
				}
				starts = append(starts, p)
			}
			if len(starts) != len(docs) {
				t.Fatalf("tshark has %d starting methods, we have %d events", len(starts), len(docs))
			}
			fields := map[string]string{ // tshark name -> amqp.* key
				"queue": "queue", "routing_key": "routing-key", "consumer_tag": "consumer-tag",
				"delivery_tag": "delivery-tag", "reply_code": "reply-code", "reply_text": "reply-text",
				"class_id": "class-id", "content_type": "content-type", "priority": "priority",
				"correlation_id": "correlation-id", "reply_to": "reply-to", "expiration": "expiration",
				"message_id": "message-id", "user_id": "user-id", "app_id": "app-id",
			}
			for i, p := range starts {
				d := docs[i]
				if d["method"] != p["name"] && !(p["name"] == "basic.get" && d["method"] == "basic.get-empty") {
					t.Fatalf("event %d: %v, tshark %s", i, d["method"], p["name"])
				}
				for tk, ok := range fields {
					if v, has := p[tk]; has {
						if got := str(protocoltest.Get(d, "amqp."+ok)); got != v {
							t.Errorf("event %d %s: amqp.%s = %s, tshark %s", i, p["name"], ok, got, v)
						}
					}
				}
				if ex, has := p["exchange"]; has && ex != "" {
					if got := str(protocoltest.Get(d, "amqp.exchange")); got != ex {
						t.Errorf("event %d %s: exchange %s, tshark %s", i, p["name"], got, ex)
					}
				}
				if dm, has := p["delivery_mode"]; has {
					want := map[string]string{"1": "non-persistent", "2": "persistent"}[dm]
					if got := str(protocoltest.Get(d, "amqp.delivery-mode")); got != want {
						t.Errorf("event %d: delivery-mode %s, tshark %s", i, got, dm)
					}
				}
				l, _ := strconv.Atoi(p["length"])
				switch {
				case p["name"] == "basic.publish":
					if got := str(protocoltest.Get(d, "source.bytes")); got != p["body-size"] {
						t.Errorf("event %d publish: source.bytes %s, tshark body size %s", i, got, p["body-size"])
					}
				case p["name"] == "basic.deliver" || p["name"] == "basic.return":
					if got := str(protocoltest.Get(d, "destination.bytes")); got != p["body-size"] {
						t.Errorf("event %d deliver: destination.bytes %s, tshark body size %s", i, got, p["body-size"])
					}
				default:
					if got := str(protocoltest.Get(d, "source.bytes")); got != strconv.Itoa(l+8) {
						t.Errorf("event %d %s: source.bytes %s, tshark length %d + 8", i, p["name"], got, l)
					}
				}
			}
		})
	}
}

var headerLine = regexp.MustCompile(`^ {12}(\S+) \(([a-z ]+)\)(?:: (.*))?$`)

// TestTsharkHeaders compares the message header table with tshark's
// verbose dissection of the same content header frame.
func TestTsharkHeaders(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	out, err := exec.Command("tshark", "-r", filepath.Join(pcapDir, "session.pcap"), "-O", "amqp",
		"-Y", "amqp.header.property-flags == 0xbff8 && tcp.dstport == 5672").Output()
	if err != nil {
		t.Fatal(err)
	}
	docs := replay(t, "session.pcap", nil)
	h := protocoltest.Get(docs[3], "amqp.headers").(map[string]any)
	seen := 0
	for _, line := range strings.Split(string(out), "\n") {
		m := headerLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key, typ, val := m[1], m[2], m[3]
		seen++
		got := h[key]
		switch typ {
		case "field table", "array":
			if _, ok := got.(map[string]any); !ok {
				t.Errorf("header %s: %v, tshark %s", key, got, typ)
			}
		case "void":
			if got != nil {
				t.Errorf("header %s: %v, want absent", key, got)
			}
		case "decimal":
			a, _ := strconv.ParseFloat(str(got), 64)
			b, _ := strconv.ParseFloat(val, 64)
			if a != b {
				t.Errorf("header %s: %v, tshark %s", key, got, val)
			}
		case "timestamp":
			// tshark: "Nov 26, 2026 01:30:00.000000000 UTC"
			if !strings.HasPrefix(val, str(got)[:3]) || !strings.Contains(val, "01:30:00") {
				t.Errorf("header %s: %v, tshark %s", key, got, val)
			}
		case "byte array":
			if str(got) != "[1, 2, 255]" || val != "0102ff" {
				t.Errorf("header %s: %v, tshark %s", key, got, val)
			}
		default:
			if str(got) != val {
				t.Errorf("header %s (%s): %v, tshark %s", key, typ, str(got), val)
			}
		}
	}
	// Top-level entries only (12-space indent): 10 headers.
	if seen != 10 {
		t.Errorf("tshark listed %d headers, want 10", seen)
	}
}

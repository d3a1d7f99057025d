package thrift

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/thrift"

func replay(t *testing.T, name string, opts map[string]any) ([]map[string]any, *Protocol) {
	t.Helper()
	stream := map[string]any{}
	for k, v := range opts {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "thrift", stream)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return col.Docs, inst.TCP.(*Protocol)
}

// expect compares fields by dotted path; nil means absent.
func expect(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	protocoltest.ExpectFields(t, doc, want, protocoltest.Get(doc, "query"))
}

func find(t *testing.T, docs []map[string]any, query string) map[string]any {
	t.Helper()
	for _, d := range docs {
		if protocoltest.Get(d, "query") == query {
			return d
		}
	}
	t.Fatalf("no event with query %q", query)
	return nil
}

// checkCalculator asserts the events of client.py's call sequence; hdr is
// the header size difference to the strict socket capture (-3 for the
// unversioned header: no version word, one type byte).
func checkCalculator(t *testing.T, docs []map[string]any, hdr int64, full bool) {
	t.Helper()
	expect(t, find(t, docs, "ping()"), map[string]any{
		"type": "thrift", "method": "ping", "status": "OK", "thrift.params": "()", "thrift.return_value": "",
		"thrift.exceptions": nil, "source.bytes": 17 + hdr, "destination.bytes": 17 + hdr, "server.port": 9090,
		"network.transport": "tcp", "network.protocol": "thrift", "event.end": protocoltest.Get(find(t, docs, "ping()"), "event.end"),
	})
	expect(t, find(t, docs, "add(1: 1, 2: 2)"), map[string]any{
		"method": "add", "status": "OK", "thrift.params": "(1: 1, 2: 2)", "thrift.return_value": "3",
		"source.bytes": 30 + hdr, "destination.bytes": 23 + hdr,
	})
	expect(t, find(t, docs, `calculate(1: 1, 2: (1: 7, 2: 6, 3: 3, 4: "times"))`), map[string]any{
		"status": "OK", "thrift.return_value": "42",
	})
	// A declared exception: result field 1 is the InvalidOperation struct.
	expect(t, find(t, docs, "calculate(1: 2, 2: (1: 1, 2: 0, 3: 4))"), map[string]any{
		"status": "Error", "thrift.return_value": "", "thrift.exceptions": `(1: (1: 4, 2: "Cannot divide by 0"))`,
		"source.bytes": 54 + hdr, "destination.bytes": 58 + hdr,
	})
	expect(t, find(t, docs, `echo(1: "héllo \"thrift\"")`), map[string]any{
		"thrift.return_value": `"héllo \"thrift\""`,
	})
	// Oneway: no reply, published alone and OK.
	expect(t, find(t, docs, "zip(1: 5)"), map[string]any{
		"status": "OK", "thrift.return_value": nil, "destination.bytes": nil, "source.bytes": 23 + hdr, "event.end": nil,
	})
	if !full {
		return
	}
	// Set order is the sender's (Python's set iteration varies by run).
	var rt map[string]any
	for _, d := range docs {
		if q, _ := protocoltest.Get(d, "query").(string); strings.HasPrefix(q, "roundtrip(") {
			rt = d
		}
	}
	q, _ := protocoltest.Get(rt, "query").(string)
	for _, want := range []string{`(1: (1: true, 2: -7, 3: -300, 4: 123456, 5: -9876543210, 6: 0.25, 7: "sample", 8: 0001feff, ` +
		`9: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, ...], 10: {`, `}, 11: {"x": 1}, 12: (1: 1, 2: 2, 3: 1)))`} {
		if !strings.Contains(q, want) {
			t.Errorf("roundtrip query %q lacks %q", q, want)
		}
	}
	if rv, _ := protocoltest.Get(rt, "thrift.return_value").(string); !strings.HasPrefix(rv, "(1: true, 2: -7,") || !strings.HasSuffix(rv, "12: (1: 1, 2: 2, 3: 1))") {
		t.Errorf("roundtrip return_value %q", rv)
	}
	expect(t, find(t, docs, `names(1: {"k1": 1, "k2": 2}, 2: {1, 3})`), map[string]any{
		"thrift.return_value": `["k1", "k2", "1", "3"]`,
	})
	expect(t, find(t, docs, "big(1: 1099511627776, 2: 1.5, 3: false, 4: 127)"), map[string]any{
		"thrift.return_value": "2199023255552",
	})
	long := `"` + strings.Repeat("x", 200) + `..."`
	expect(t, find(t, docs, "echo(1: "+long+")"), map[string]any{
		"thrift.return_value": long, "source.bytes": 5024, "destination.bytes": 5024,
	})
	// An undeclared exception: TApplicationException(message, type 6).
	expect(t, find(t, docs, `fail(1: "boom")`), map[string]any{
		"status": "Error", "thrift.exceptions": `(1: "Internal error", 2: 6)`, "thrift.return_value": "",
	})
}

func TestSocketCapture(t *testing.T) {
	docs, p := replay(t, "socket.pcap", nil)
	if len(docs) != 11 {
		t.Fatalf("%d events, want 11", len(docs))
	}
	checkCalculator(t, docs, 0, true)
	if n := p.stats.ParseErrors.Load(); n != 0 {
		t.Errorf("%d parse errors", n)
	}
	if n := p.stats.Oneways.Load(); n != 1 {
		t.Errorf("%d oneway calls, want 1", n)
	}
}

func TestFramedCapture(t *testing.T) {
	docs, p := replay(t, "framed.pcap", map[string]any{"transport_type": "framed"})
	if len(docs) != 11 {
		t.Fatalf("%d events, want 11", len(docs))
	}
	// Bytes are the frame length, as Packetbeat counts them: the same as
	// the unframed message.
	checkCalculator(t, docs, 0, true)
	if n := p.stats.ParseErrors.Load(); n != 0 {
		t.Errorf("%d parse errors", n)
	}
	// Read as unframed, a frame length looks like an unversioned header
	// naming a 17-byte method and garbage follows: counted as parse errors,
	// then the parser resynchronises on the next strict header (4 bytes
	// into the next frame) and publishes what it can pair.
	docs, p = replay(t, "framed.pcap", nil)
	if p.stats.ParseErrors.Load() == 0 {
		t.Errorf("framed read as socket: no parse errors")
	}
	known := "ping add calculate echo zip roundtrip names big fail"
	for _, d := range docs {
		if m, _ := protocoltest.Get(d, "method").(string); m == "" || !strings.Contains(known, m) {
			t.Errorf("framed read as socket: event for method %q", m)
		}
	}
}

func TestNonStrictCapture(t *testing.T) {
	docs, _ := replay(t, "nonstrict.pcap", nil)
	if len(docs) != 6 {
		t.Fatalf("%d events, want 6", len(docs))
	}
	checkCalculator(t, docs, -3, false)
}

func TestOptions(t *testing.T) {
	docs, _ := replay(t, "socket.pcap", map[string]any{
		"string_max_size": 3, "collection_max_size": 2, "obfuscate_strings": false,
		"send_request": true, "send_response": true,
	})
	d := find(t, docs, `echo(1: "héllo \"thrift\"")`[:0]+`echo(1: "hé...")`)
	expect(t, d, map[string]any{"request": `echo(1: "hé...")`, "response": `"hé..."`})
	d = find(t, docs, "calculate(1: 1, 2: (1: 7, 2: 6, ...))")
	expect(t, d, map[string]any{"thrift.return_value": "42"})
	expect(t, find(t, docs, "calculate(1: 2, 2: (1: 1, 2: 0, ...))"), map[string]any{
		"response": `Exceptions: (1: (1: 4, 2: "Can..."))`,
	})

	docs, _ = replay(t, "socket.pcap", map[string]any{"obfuscate_strings": true, "capture_reply": false})
	d = find(t, docs, `echo(1: "*")`)
	// capture_reply false: the reply is measured, not decoded.
	expect(t, d, map[string]any{"thrift.return_value": "", "destination.bytes": 39, "status": "OK"})
	expect(t, find(t, docs, `fail(1: "*")`), map[string]any{"status": "OK", "thrift.exceptions": nil})
}

// tsharkMessages lists (port, message type, method) of every Thrift message
// tshark's dissector finds.
func tsharkMessages(t *testing.T, name string) []string {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	out, err := exec.Command("tshark", "-r", filepath.Join(pcapDir, name), "-d", "tcp.port==9090,thrift",
		"-Y", "thrift", "-T", "fields", "-E", "occurrence=a", "-e", "tcp.dstport", "-e", "thrift.mtype", "-e", "thrift.method",
		"-e", "thrift.seq_id", "-e", "thrift.string").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 5 || f[1] == "" {
			continue
		}
		msgs = append(msgs, strings.Join(f, "\t"))
	}
	return msgs
}

// TestTsharkAgrees checks every message tshark dissects against the
// events: each call is an event's method, each reply follows its call,
// strings tshark decodes appear quoted in our text.
func TestTsharkAgrees(t *testing.T) {
	for _, tc := range []struct {
		pcap string
		opts map[string]any
	}{{"socket.pcap", nil}, {"framed.pcap", map[string]any{"transport_type": "framed"}}} {
		t.Run(tc.pcap, func(t *testing.T) {
			docs, _ := replay(t, tc.pcap, tc.opts)
			msgs := tsharkMessages(t, tc.pcap)
			if len(msgs) != 21 {
				t.Fatalf("tshark found %d messages, want 21", len(msgs))
			}
			ev := 0
			for i := 0; i < len(msgs); i++ {
				f := strings.Split(msgs[i], "\t")
				if f[0] != "9090" {
					t.Fatalf("message %d is not a call: %q", i, msgs[i])
				}
				if ev >= len(docs) {
					t.Fatalf("more calls than events")
				}
				d := docs[ev]
				ev++
				if protocoltest.Get(d, "method") != f[2] {
					t.Errorf("event %d method %v, tshark %q", ev, protocoltest.Get(d, "method"), f[2])
				}
				text := fmt.Sprint(protocoltest.Get(d, "thrift.params"))
				mtype, _ := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 8)
				if mtype == mOneway {
					if protocoltest.Get(d, "thrift.return_value") != nil {
						t.Errorf("oneway %s has a reply", f[2])
					}
				} else {
					i++
					r := strings.Split(msgs[i], "\t")
					if r[0] == "9090" || r[2] != f[2] || r[3] != f[3] {
						t.Fatalf("call %q answered by %q", msgs[i-1], msgs[i])
					}
					rmt, _ := strconv.ParseUint(strings.TrimPrefix(r[1], "0x"), 16, 8)
					wantStatus := "OK"
					if rmt == mException || f[2] == "calculate" && strings.Contains(r[4], "Cannot") {
						wantStatus = "Error"
					}
					if protocoltest.Get(d, "status") != wantStatus {
						t.Errorf("%s: status %v, want %s", f[2], protocoltest.Get(d, "status"), wantStatus)
					}
					words := strings.Split(r[4], ",")
					for _, s := range words {
						if s != "" && !strings.Contains(fmt.Sprint(protocoltest.Get(d, "thrift.return_value"), protocoltest.Get(d, "thrift.exceptions")), strconv.Quote(s)[:min(len(s)+1, 201)]) {
							t.Errorf("%s: reply string %q not in %v%v", f[2], s, protocoltest.Get(d, "thrift.return_value"), protocoltest.Get(d, "thrift.exceptions"))
						}
					}
				}
				for _, s := range strings.Split(f[4], ",") {
					if s != "" && !strings.Contains(text, strconv.Quote(s)[:min(len(s)+1, 201)]) {
						t.Errorf("%s: string %q not in %s", f[2], s, text)
					}
				}
			}
			if ev != len(docs) {
				t.Errorf("%d events, tshark has %d calls", len(docs), ev)
			}
		})
	}
}

package thrift

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestIDLCapture(t *testing.T) {
	docs, _ := replay(t, "socket.pcap", map[string]any{"idl_files": []any{"../../_dev/capture/thrift/calc.thrift"}})
	if len(docs) != 11 {
		t.Fatalf("%d events", len(docs))
	}
	expect(t, find(t, docs, "add(num1: 1, num2: 2)"), map[string]any{
		"path": "Calculator", "thrift.service": "Calculator", "thrift.params": "(num1: 1, num2: 2)", "thrift.return_value": "3",
	})
	// Only the top level is named (nested structs by id), as Packetbeat.
	expect(t, find(t, docs, "calculate(logid: 2, w: (1: 1, 2: 0, 3: 4))"), map[string]any{
		"status": "Error", "thrift.exceptions": `(ouch: (1: 4, 2: "Cannot divide by 0"))`,
	})
	// The TApplicationException is not the method's declared exception.
	expect(t, find(t, docs, `fail(why: "boom")`), map[string]any{
		"thrift.exceptions": `(1: "Internal error", 2: 6)`,
	})
	expect(t, find(t, docs, "ping()"), map[string]any{"path": "Calculator"})
}

func TestParseIDL(t *testing.T) {
	src := `
namespace go x // comment
include "other.thrift"
/* service Fake { void no() } */
# service Hash { void no() }
const list<i32> L = [1, 2]
struct S { 1: required map<string, list<i32>> m = {"a": [1]}, 2: optional string s = "x" }
service Base { void base(1: i32 a) }
service Svc extends Base {
  oneway void fire(1: S s);
  map<string,i32> get(1: string key = "d", -2: i64 neg (py.name = "n"), 3: list<S> items) throws (1: E e, 2: F f)
  i32 noSep(1: i32 a 2: i32 b)
  void base(1: i32 other),
}
`
	dir := t.TempDir()
	f := filepath.Join(dir, "svc.thrift")
	if err := os.WriteFile(f, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := parseIDL([]string{f})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*idlMethod{
		"base":  {service: "Base", params: map[int16]string{1: "a"}},
		"fire":  {service: "Svc", params: map[int16]string{1: "s"}},
		"get":   {service: "Svc", params: map[int16]string{1: "key", -2: "neg", 3: "items"}, exceptions: map[int16]string{1: "e", 2: "f"}},
		"noSep": {service: "Svc", params: map[int16]string{1: "a", 2: "b"}},
	}
	if !reflect.DeepEqual(m, want) {
		for k, v := range m {
			t.Logf("%s: %+v", k, *v)
		}
		t.Fatal("parsed IDL differs")
	}
	if err := os.WriteFile(f, []byte("service S { void f(1 i32 a) }"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseIDL([]string{f}); err == nil {
		t.Fatal("broken IDL accepted")
	}
}

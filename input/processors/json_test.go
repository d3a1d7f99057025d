package processors

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func stdDecode(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errJSONSyntax
	}
	rest := b[d.InputOffset():]
	if len(bytes.TrimLeft(rest, " \t\r\n")) > 0 {
		return nil, errJSONSyntax
	}
	return m, nil
}

func stdEncode(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// FuzzJSONMatchesStdlib: the document decoder and encoder accept, reject
// and produce exactly what encoding/json does.
func FuzzJSONMatchesStdlib(f *testing.F) {
	for _, s := range []string{echoDoc, flowDoc, ipv6Doc, `{"a":"\u00e9\ud83d\ude00\ud800x\u2028<>&","b":[1,-0.5e-7,1E+30,true,null,{}],"c":"\xff\x80"}`,
		`{"a":1} x`, `{"a":01}`, `{"a":"\x01"}`, `[1]`, `null`, `{"a":1,"a":2}`, `{"a":"\ud800\ud800"}`, ` {"x":[[[]]]} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := stdDecode(b)
		got, gerr := decodeDocument(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: stdlib error %v, ours %v", b, werr, gerr)
		}
		if werr != nil {
			return
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%q: decoded\nstd  %#v\nours %#v", b, want, got)
		}
		we, _ := stdEncode(want)
		ge, err := appendJSON(nil, got)
		if err != nil || !bytes.Equal(we, ge) {
			t.Fatalf("%q: encoded\nstd  %s\nours %s (%v)", b, we, ge, err)
		}
	})
}

func TestAppendJSONValues(t *testing.T) {
	for _, v := range []any{int64(-3), 3, 0.1, 1e21, 1e-7, 123456789.0, -0.0, "tab\there", []string{"a"}, map[string]string{"k": "<v>"}, json.Number("12.5e3")} {
		want, _ := stdEncode(v)
		got, err := appendJSON(nil, v)
		if err != nil || !bytes.Equal(want, got) {
			t.Errorf("%#v: got %s (%v), want %s", v, got, err, want)
		}
	}
	for _, bad := range []any{json.Number("1x"), json.Number(" 1")} {
		if _, err := appendJSON(nil, bad); err == nil {
			t.Errorf("%#v encoded", bad)
		}
	}
}

func BenchmarkDocumentJSON(b *testing.B) {
	doc := []byte(echoDoc)
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m, _ := stdDecode(doc)
			stdEncode(m)
		}
	})
	b.Run("own", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := 0; i < b.N; i++ {
			m, _ := decodeDocument(doc)
			buf, _ = appendJSON(buf[:0], m)
		}
	})
}

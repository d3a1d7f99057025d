package processors

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"testing"
)

func TestAppendDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - append:
      target_field: "my-target-field"
      fields:
        - concat.field.1
        - concat.field.2
      values:
        - my-custom-value-1
        - my-custom-value-2
      allow_duplicate: false
`)
	m, err := process(t, c, `{"my-target-field":"a","concat":{"field":{"1":["b","a"],"2":"c"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"my-target-field": []any{"a", "b", "c", "my-custom-value-1", "my-custom-value-2"}})
}

func TestMoveFieldsDocExamples(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - move_fields:
      from: "app"
      fields: ["method", "elapsed_time"]
      to: "rpc."
`)
	in := `{"app":{"method":"a","elapsed_time":100,"user_id":100,"message":"i'm a message"}}`
	m, err := process(t, c, in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"app":{"message":"i'm a message","user_id":100},"rpc":{"elapsed_time":100,"method":"a"}}`
	if js(m) != want {
		t.Errorf("got  %s\nwant %s", js(m), want)
	}
	root := chainFromYAML(t, `
processors:
  - move_fields:
      from: "app"
      to: ""
      exclude: ["message"]
`)
	m, _ = process(t, root, in)
	want = `{"app":{"message":"i'm a message"},"elapsed_time":100,"method":"a","user_id":100}`
	if js(m) != want {
		t.Errorf("got  %s\nwant %s", js(m), want)
	}
}

func TestDecodeDurationDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - decode_duration:
      field: "app.rpc.cost"
      format: "milliseconds"
`)
	m, err := process(t, c, `{"app":{"rpc":{"cost":"30s"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"app.rpc.cost": 30000})
}

func TestDecompressGzipField(t *testing.T) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte("decompressed data"))
	zw.Close()
	// Raw bytes cannot travel in a JSON document, but they can between two
	// processors of one chain: base64 first, then gzip.
	c := chainFromYAML(t, `
processors:
  - decode_base64_field: {field: {from: b64, to: field1}}
  - decompress_gzip_field:
      field:
        from: "field1"
        to: "field2"
      ignore_missing: false
      fail_on_error: true
`)
	m, err := process(t, c, `{"b64":"`+base64.StdEncoding.EncodeToString(b.Bytes())+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"field2": "decompressed data"})
	if _, err := process(t, c, `{"b64":"cGxhaW4="}`); err == nil {
		t.Error("plain text decompressed")
	}
}

func TestDecodeCSVFieldsDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - decode_csv_fields:
      fields:
        message: decoded.csv
      separator: ","
      ignore_missing: false
      overwrite_keys: true
      trim_leading_space: false
      fail_on_error: true
`)
	m, err := process(t, c, `{"message":"a,\"b,c\", d"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"decoded.csv": []any{"a", "b,c", " d"}})
}

func TestTimestampDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - timestamp:
      field: start_time
      layouts:
        - '2006-01-02T15:04:05Z'
        - '2006-01-02T15:04:05.999Z'
        - '2006-01-02T15:04:05.999-07:00'
      test:
        - '2019-06-22T16:33:51Z'
        - '2019-11-18T04:59:51.123Z'
        - '2020-08-03T07:10:20.123456+02:00'
`)
	for in, want := range map[string]string{
		"2019-06-22T16:33:51Z":             "2019-06-22T16:33:51Z",
		"2019-11-18T04:59:51.123Z":         "2019-11-18T04:59:51.123Z",
		"2020-08-03T07:10:20.123456+02:00": "2020-08-03T05:10:20.123456Z",
	} {
		m, err := process(t, c, `{"start_time":"`+in+`"}`)
		if err != nil {
			t.Fatal(err)
		}
		wantFields(t, m, map[string]any{"@timestamp": want})
	}
	unix := chainFromYAML(t, "processors: [{timestamp: {field: t, layouts: [UNIX_MS], target_field: ts}}]")
	m, _ := process(t, unix, `{"t":1700000000123}`)
	wantFields(t, m, map[string]any{"ts": "2023-11-14T22:13:20.123Z"})
	wantConfigError(t, "processors: [{timestamp: {field: t, layouts: ['2006-01-02'], test: ['yesterday']}}]", "(timestamp)", `test: "yesterday"`)
	wantConfigError(t, "processors: [{translate_sid: {field: x}}]", "(translate_sid): not supported here")
}

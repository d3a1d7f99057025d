package processors

import "testing"

func TestDecodeJSONFieldsDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - decode_json_fields:
      fields: ["field1", "field2"]
      process_array: false
      max_depth: 1
      target: ""
      overwrite_keys: false
      add_error_key: true
`)
	m, err := process(t, c, `{"type":"http","field1":"{\"a\":1,\"type\":\"x\",\"inner\":\"{\\\"b\\\":2}\"}","field2":"not json"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"a": 1, "type": "http", "inner": `{"b":2}`,
		"error.message": "parsing input as JSON: invalid character 'o' in literal null (expecting 'u')", "error.type": "json"})

	deep := chainFromYAML(t, `
processors:
  - decode_json_fields: {fields: [msg], max_depth: 2, target: parsed, expand_keys: true, document_id: id}
`)
	m, err = process(t, deep, `{"msg":"{\"id\":\"doc-1\",\"a.b\":1,\"inner\":\"{\\\"c\\\":true}\"}"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"parsed.a.b": 1, "parsed.inner.c": true, "parsed.id": nil, "@metadata": nil})

	inPlace := chainFromYAML(t, `
processors:
  - decode_json_fields: {fields: [msg], process_array: true}
`)
	m, _ = process(t, inPlace, `{"msg":"[1,{\"x\":2}]"}`)
	wantFields(t, m, map[string]any{"msg": []any{1, map[string]any{"x": 2}}})
}

// The catalog example of Beats' decode_xml documentation.
func TestDecodeXMLDocExample(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - decode_xml:
      field: message
      target_field: xml
`)
	msg := `<?xml version=\"1.0\"?>\n<catalog>\n  <book seq=\"1\">\n    <author>William H. Gaddis</author>\n    <title>The Recognitions</title>\n    <review>One of the great seminal American novels of the 20th century.</review>\n  </book>\n</catalog>`
	m, err := process(t, c, `{"message":"`+msg+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"xml": map[string]any{"catalog": map[string]any{"book": map[string]any{
		"author": "William H. Gaddis", "review": "One of the great seminal American novels of the 20th century.",
		"seq": "1", "title": "The Recognitions"}}}})

	// Repeated elements become a list; to_lower: false keeps case; bad XML
	// keeps the event with error.message.
	c2 := chainFromYAML(t, `
processors:
  - decode_xml: {field: message, target_field: "", to_lower: false}
`)
	m, err = process(t, c2, `{"message":"<Catalog><Book>A</Book><Book id=\"2\">B</Book></Catalog>"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"Catalog.Book": []any{"A", map[string]any{"id": "2", "#text": "B"}}})
	m, err = process(t, c2, `{"message":"<a><b></a>"}`)
	if err == nil {
		t.Fatal("malformed XML accepted")
	}
	wantFields(t, m, map[string]any{"message": "<a><b></a>",
		"error.message": `processors[0] (decode_xml): failed in decode_xml on the "message" field: XML syntax error on line 1: element <b> closed by </a>`})
}

// "target_field:" with no value replaces the field, as when it is absent.
func TestDecodeXMLNullTarget(t *testing.T) {
	c := chainFromYAML(t, `
processors:
  - decode_xml:
      field: message
      target_field:
`)
	m, err := process(t, c, `{"message":"<a><b>1</b></a>"}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"message.a.b": "1", "a": nil})
}

func FuzzDecodeXML(f *testing.F) {
	f.Add("<catalog><book seq=\"1\"><author>x</author></book></catalog>")
	f.Add("<a><b>1</b><b>2</b></a>")
	f.Fuzz(func(t *testing.T, s string) { _, _ = decodeXMLText(s, true) })
}

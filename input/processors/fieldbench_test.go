package processors

import "testing"

// BenchmarkFieldProcessors runs the field processors that share fieldOpts
// (convert, replace, truncate_fields, urldecode, copy_fields, rename, with
// fail_on_error's snapshot) over a small event.
func BenchmarkFieldProcessors(b *testing.B) {
	c := chainFromYAML(b, `
processors:
  - convert:
      fields: [{from: http.response.status_code, type: long}]
  - replace:
      fields: [{field: url.path, pattern: "/+", replacement: "/"}]
  - truncate_fields:
      fields: [user_agent.original]
      max_characters: 16
  - urldecode:
      fields: [{from: url.query, to: url.query_decoded}]
  - copy_fields:
      fields: [{from: url.path, to: url.original_path}]
  - rename:
      fields: [{from: source.address, to: source.addr}]
`)
	doc := []byte(`{"@timestamp":"2024-01-02T03:04:05Z","http":{"response":{"status_code":"200"}},` +
		`"url":{"path":"//a//b/c","query":"q=a%20b&x=%2F"},"user_agent":{"original":"Mozilla/5.0 (X11; Linux x86_64)"},` +
		`"source":{"address":"10.0.0.1","ip":"10.0.0.1","port":51000}}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := c.Run(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// Package estest connects tests to the single-node engine started by _dev/es/start.sh and
// installs the package's assets (ingest pipelines, index templates) into it.
//
// The engine is OpenSearch 2.19 (see _dev/es/README.md for why, and for the Elasticsearch 8
// features it lacks and how the tests bridge them). Requests go through net/http rather than
// go-elasticsearch: that client refuses any server that does not identify as Elasticsearch.
package estest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// Addr is the engine's base URL: $NT_ES_URL, or http://127.0.0.1:9200.
func Addr() string {
	if u := os.Getenv("NT_ES_URL"); u != "" {
		return strings.TrimRight(u, "/")
	}
	return "http://127.0.0.1:9200"
}

// Required reports whether a missing engine must fail the test instead of skipping it
// ($NT_REQUIRE_ES set and not "0"; CI sets it).
func Required() bool {
	v := os.Getenv("NT_REQUIRE_ES")
	return v != "" && v != "0"
}

// Client talks JSON to the engine.
type Client struct {
	Base string
	HTTP *http.Client
}

// Available returns a client when the engine answers a cluster health request. Otherwise it
// skips the test, or fails it when Required() (so CI cannot pass by skipping).
func Available(t testing.TB) *Client {
	t.Helper()
	c := &Client{Base: Addr(), HTTP: &http.Client{Timeout: 60 * time.Second}}
	var health struct {
		Status string `json:"status"`
	}
	err := c.Do("GET", "/_cluster/health?wait_for_status=yellow&timeout=10s", nil, &health)
	if err == nil && (health.Status == "green" || health.Status == "yellow") {
		return c
	}
	if err == nil {
		err = fmt.Errorf("cluster health %q", health.Status)
	}
	if Required() {
		t.Fatalf("engine at %s not available (NT_REQUIRE_ES is set): %v", c.Base, err)
	}
	t.Skipf("engine at %s not available (start it with _dev/es/start.sh): %v", c.Base, err)
	return nil
}

// Error is a non-2xx answer from the engine.
type Error struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// Do sends body (nil, []byte/json.RawMessage sent as is, or anything else JSON-encoded) and
// decodes a 2xx answer into out (when not nil). Numbers decode as json.Number.
func (c *Client) Do(method, path string, body, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case json.RawMessage:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encoding body: %w", method, path, err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		if strings.HasSuffix(strings.SplitN(path, "?", 2)[0], "/_bulk") {
			req.Header.Set("Content-Type", "application/x-ndjson")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Body: string(data)}
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
	}
	return nil
}

// PutPipeline installs an ingest pipeline (JSON body).
func (c *Client) PutPipeline(name string, body []byte) error {
	return c.Do("PUT", "/_ingest/pipeline/"+name, body, nil)
}

// SimDoc is one document's outcome in a simulate answer: Source when the pipeline returned
// the document, Error when it failed without an on_failure handler.
type SimDoc struct {
	Source map[string]any
	Error  json.RawMessage
}

// Simulate runs docs through installed pipeline name with _ingest/pipeline/<name>/_simulate.
// index is set as each document's _index (pipelines may read it).
func (c *Client) Simulate(name, index string, docs []map[string]any) ([]SimDoc, error) {
	type doc struct {
		Index  string         `json:"_index"`
		ID     string         `json:"_id"`
		Source map[string]any `json:"_source"`
	}
	req := struct {
		Docs []doc `json:"docs"`
	}{}
	for i, d := range docs {
		req.Docs = append(req.Docs, doc{Index: index, ID: fmt.Sprint(i + 1), Source: d})
	}
	var resp struct {
		Docs []struct {
			Doc *struct {
				Source map[string]any `json:"_source"`
			} `json:"doc"`
			Error json.RawMessage `json:"error"`
		} `json:"docs"`
	}
	if err := c.Do("POST", "/_ingest/pipeline/"+name+"/_simulate", req, &resp); err != nil {
		return nil, err
	}
	if len(resp.Docs) != len(docs) {
		return nil, fmt.Errorf("simulate %s: %d documents in, %d out", name, len(docs), len(resp.Docs))
	}
	out := make([]SimDoc, len(resp.Docs))
	for i, d := range resp.Docs {
		if d.Doc != nil {
			out[i].Source = d.Doc.Source
		}
		out[i].Error = d.Error
	}
	return out, nil
}

// BulkItem is one item's outcome in a bulk answer.
type BulkItem struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// BulkCreate indexes docs into target (a data stream) with "create" actions and refresh, and
// returns every item's outcome in order.
func (c *Client) BulkCreate(target string, docs []map[string]any) ([]BulkItem, error) {
	var buf bytes.Buffer
	for _, d := range docs {
		buf.WriteString(`{"create":{}}` + "\n")
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	var resp struct {
		Items []map[string]BulkItem `json:"items"`
	}
	if err := c.Do("POST", "/"+target+"/_bulk?refresh=true", buf.Bytes(), &resp); err != nil {
		return nil, err
	}
	out := make([]BulkItem, 0, len(resp.Items))
	for _, it := range resp.Items {
		for _, v := range it {
			out = append(out, v)
		}
	}
	if len(out) != len(docs) {
		return nil, fmt.Errorf("bulk into %s: %d documents in, %d items out", target, len(docs), len(out))
	}
	return out, nil
}

// Delete removes path, ignoring 404.
func (c *Client) Delete(path string) error {
	err := c.Do("DELETE", path, nil, nil)
	if e, ok := err.(*Error); ok && e.Status == 404 {
		return nil
	}
	return err
}

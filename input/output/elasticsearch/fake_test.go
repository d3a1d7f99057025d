package elasticsearch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// fakeES implements just enough of _bulk to test the output: it stores
// documents by index and _id, answers 409 for an existing _id, and can be
// told to fail whole requests or single documents.
type fakeES struct {
	mu       sync.Mutex
	docs     map[string]map[string]json.RawMessage // index -> id -> body
	requests int
	gzipped  int
	auth     []string
	headers  []http.Header

	// failRequests: the next n requests get this status.
	failRequests int
	failStatus   int
	// itemStatus decides a per-document status (0 = normal handling).
	itemStatus func(index string, body []byte) (int, string)
	// dropReplies: index the next n requests, then cut the connection
	// without answering (the reply is lost, the data is in).
	dropReplies int
}

func newFakeES() *fakeES {
	return &fakeES{docs: map[string]map[string]json.RawMessage{}}
}

func (f *fakeES) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.docs {
		n += len(m)
	}
	return n
}

// seqs returns the "seq" field of every stored document.
func (f *fakeES) seqs(t *testing.T) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, m := range f.docs {
		for _, b := range m {
			var d struct{ Seq int }
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatalf("stored doc %s: %v", b, err)
			}
			out = append(out, d.Seq)
		}
	}
	return out
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/_bulk" || r.Method != http.MethodPost {
		http.Error(w, `{"error":"not found"}`, 404)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if r.Header.Get("Content-Encoding") == "gzip" {
		f.gzipped++
	}
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.headers = append(f.headers, r.Header.Clone())
	if f.failRequests > 0 {
		f.failRequests--
		w.WriteHeader(f.failStatus)
		fmt.Fprintf(w, `{"error":{"type":"test","reason":"status %d"},"status":%d}`, f.failStatus, f.failStatus)
		return
	}
	type res struct {
		Status int `json:"status"`
		Error  any `json:"error,omitempty"`
	}
	var items []map[string]res
	errs := false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			http.Error(w, "bad action line: "+err.Error(), 400)
			return
		}
		a, ok := action["create"]
		if !ok || !sc.Scan() {
			http.Error(w, "expected create + source", 400)
			return
		}
		src := append([]byte(nil), sc.Bytes()...)
		if !json.Valid(src) {
			http.Error(w, "invalid source", 400)
			return
		}
		st, reason := 0, ""
		if f.itemStatus != nil {
			st, reason = f.itemStatus(a.Index, src)
		}
		if st == 0 {
			if f.docs[a.Index] == nil {
				f.docs[a.Index] = map[string]json.RawMessage{}
			}
			if _, dup := f.docs[a.Index][a.ID]; dup {
				st, reason = 409, "version_conflict_engine_exception"
			} else {
				f.docs[a.Index][a.ID] = src
				st = 201
			}
		}
		r := res{Status: st}
		if st >= 300 {
			errs = true
			r.Error = map[string]string{"type": strings.SplitN(reason, ":", 2)[0], "reason": reason}
		}
		items = append(items, map[string]res{"create": r})
	}
	if f.dropReplies > 0 {
		f.dropReplies--
		if hj, ok := w.(http.Hijacker); ok {
			c, _, err := hj.Hijack()
			if err == nil {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": errs, "items": items})
}

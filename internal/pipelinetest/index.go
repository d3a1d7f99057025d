package pipelinetest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/network-traffic/network-traffic/internal/estest"
)

// IndexDocs gathers the documents the index test writes into ds's data stream: every pipeline
// test case's events except the deliberately broken ones (test-malformed*), and the data
// stream's sample_event.json unless it is still a placeholder.
func IndexDocs(root, ds string) ([]map[string]any, []string, error) {
	cases, err := LoadCases(root, ds)
	if err != nil {
		return nil, nil, err
	}
	var docs []map[string]any
	var from []string
	for _, c := range cases {
		if strings.HasPrefix(c.Name, "test-malformed") {
			continue
		}
		for i, e := range c.Events {
			docs = append(docs, e)
			from = append(from, fmt.Sprintf("%s event %d", c.Name, i))
		}
	}
	// _dev/events/<ds>.ndjson: the binary's events from real captures (internal/samples),
	// indexed as Fleet would receive them with map_to_ecs/geoip_enrich on and off.
	evs, err := readNDJSON(filepath.Join(root, "_dev", "events", ds+".ndjson"))
	if err != nil && !os.IsNotExist(err) {
		return nil, nil, err
	}
	for i, e := range evs {
		for _, on := range []bool{true, false} {
			d := copyDoc(e)
			if _, ok := d["_conf"]; !ok {
				d["_conf"] = map[string]any{"map_to_ecs": on, "geoip_enrich": on}
			}
			docs = append(docs, d)
			from = append(from, fmt.Sprintf("_dev/events/%s.ndjson line %d (map_to_ecs %v)", ds, i+1, on))
		}
	}
	sample := filepath.Join(root, "package", ds, "sample_event.json")
	var ev map[string]any
	if err := readJSON(sample, &ev); err == nil {
		if !isPlaceholder(ev) {
			docs = append(docs, ev)
			from = append(from, "sample_event.json")
		}
	} else if !os.IsNotExist(err) {
		return nil, nil, err
	}
	return docs, from, nil
}

func isPlaceholder(ev map[string]any) bool {
	tags, _ := ev["tags"].([]any)
	for _, t := range tags {
		if t == "placeholder-sample" {
			return true
		}
	}
	return false
}

// IndexResult is what CheckIndexed found in one data stream.
type IndexResult struct {
	Docs     int
	Problems []string
}

// IndexAndCheck writes docs into data stream target through its index template (and so its
// default pipeline), then reports every bulk error, pipeline_error document, document with
// ignored fields, and field not defined in fields.
func IndexAndCheck(c *estest.Client, target string, fields []estest.Field, docs []map[string]any, from []string) (*IndexResult, error) {
	if err := c.Delete("/_data_stream/" + target); err != nil {
		return nil, err
	}
	items, err := c.BulkCreate(target, docs)
	if err != nil {
		return nil, err
	}
	res := &IndexResult{}
	for i, it := range items {
		if len(it.Error) > 0 && string(it.Error) != "null" {
			res.Problems = append(res.Problems, fmt.Sprintf("%s: not indexed (HTTP %d): %s", from[i], it.Status, it.Error))
		}
	}
	var sr struct {
		Hits struct {
			Hits []struct {
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := c.Do("POST", "/"+target+"/_search", map[string]any{
		"size": 10000, "query": map[string]any{"match_all": map[string]any{}},
	}, &sr); err != nil {
		return nil, err
	}
	res.Docs = len(sr.Hits.Hits)
	undefined := map[string]int{}
	for _, h := range sr.Hits.Hits {
		src := h.Source
		if k, _ := dig(src, "event", "kind").(string); k == "pipeline_error" {
			res.Problems = append(res.Problems, fmt.Sprintf("doc %s: pipeline_error: %v", h.ID, dig(src, "error", "message")))
		}
		for n, vals := range LeafValues(src) {
			f, ok := estest.Lookup(fields, n)
			if !ok {
				undefined[n]++
				continue
			}
			// This engine records only ignore_malformed in _ignored, not ignore_above
			// (Elasticsearch 8 records both), so check keyword lengths here.
			if f.Type == "keyword" && f.Name == n {
				for _, v := range vals {
					if s, ok := v.(string); ok && len([]rune(s)) > estest.IgnoreAbove {
						res.Problems = append(res.Problems, fmt.Sprintf("doc %s: %s: %d characters, over ignore_above %d: not indexed",
							h.ID, n, len([]rune(s)), estest.IgnoreAbove))
					}
				}
			}
		}
	}
	// _ignored is the engine's record of values it dropped (ignore_above, ignore_malformed).
	var ign struct {
		Hits struct {
			Hits []struct {
				ID      string   `json:"_id"`
				Ignored []string `json:"_ignored"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := c.Do("POST", "/"+target+"/_search", map[string]any{
		"size": 10000, "_source": false,
		"query": map[string]any{"exists": map[string]any{"field": "_ignored"}},
	}, &ign); err != nil {
		return nil, err
	}
	for _, h := range ign.Hits.Hits {
		res.Problems = append(res.Problems, fmt.Sprintf("doc %s: ignored fields %v", h.ID, h.Ignored))
	}
	names := make([]string, 0, len(undefined))
	for n := range undefined {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		res.Problems = append(res.Problems, fmt.Sprintf("field %s (in %d documents) is not defined in the package", n, undefined[n]))
	}
	return res, nil
}

func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func readNDJSON(path string) ([]map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var d map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func copyDoc(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	_ = dec.Decode(&out)
	return out
}

package processors

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Processors that parse a structured string field: JSON and XML.

func init() {
	register("decode_json_fields", newDecodeJSONFields)
	register("decode_xml", newDecodeXML)
}

// decode_json_fields: {fields, process_array: false, max_depth: 1, target,
// overwrite_keys: false, add_error_key: false, expand_keys: false,
// document_id}. Without target the decoded object replaces the string;
// target "" merges it at the root.
func newDecodeJSONFields(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg, "fields", "process_array", "max_depth", "target", "overwrite_keys", "add_error_key", "expand_keys", "document_id"); err != nil {
		return nil, err
	}
	fields, err := stringList(cfg["fields"])
	if err != nil || len(fields) == 0 {
		return nil, fmt.Errorf("fields: required, a string or a list of strings")
	}
	processArray, err := boolOpt(cfg, "process_array", false)
	if err != nil {
		return nil, err
	}
	maxDepth, err := intOpt(cfg, "max_depth", 1)
	if err != nil {
		return nil, err
	}
	if maxDepth < 1 {
		return nil, fmt.Errorf("max_depth: must be at least 1, got %d", maxDepth)
	}
	hasTarget := cfg["target"] != nil // "target:" with no value is as if unset
	target, err := stringOpt(cfg, "target", "")
	if err != nil {
		return nil, err
	}
	overwrite, err := boolOpt(cfg, "overwrite_keys", false)
	if err != nil {
		return nil, err
	}
	addErrorKey, err := boolOpt(cfg, "add_error_key", false)
	if err != nil {
		return nil, err
	}
	expandKeys, err := boolOpt(cfg, "expand_keys", false)
	if err != nil {
		return nil, err
	}
	docID, err := stringOpt(cfg, "document_id", "")
	if err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		for _, f := range fields {
			v, ok := getPath(doc, f)
			if !ok {
				continue
			}
			s, ok := v.(string)
			if !ok {
				continue
			}
			out, err := decodeJSONText(s, maxDepth, processArray)
			if err != nil {
				if addErrorKey {
					setJSONError(doc, fmt.Sprintf("parsing input as JSON: %v", err))
				}
				continue
			}
			obj, isObj := out.(map[string]any)
			if !isObj {
				if _, isArr := out.([]any); !isArr || !processArray {
					continue // a JSON scalar stays the string it was
				}
			}
			if isObj && expandKeys {
				expandDotted(obj)
			}
			if isObj && docID != "" {
				if id, ok := obj[docID].(string); ok {
					delete(obj, docID)
					_ = putPath(doc, "@metadata._id", id)
				}
			}
			switch {
			case !hasTarget:
				_ = putPath(doc, f, out)
			case target == "":
				if !isObj {
					continue
				}
				mergeRoot(doc, obj, overwrite)
			default:
				if cur, exists := getPath(doc, target); exists && !overwrite {
					// merge into an existing object without overwriting
					if cm, ok := cur.(map[string]any); ok && isObj {
						for k, e := range obj {
							if _, has := cm[k]; !has {
								cm[k] = e
							}
						}
					}
					continue
				}
				_ = putPath(doc, target, out)
			}
		}
		return false, nil
	}, nil
}

func setJSONError(doc map[string]any, msg string) {
	setErrorMessage(doc, msg)
	if e, ok := doc["error"].(map[string]any); ok {
		e["type"] = "json"
	}
}

// decodeJSONText decodes s; strings inside that are JSON objects (or arrays
// with processArray) are decoded too, down to maxDepth levels.
func decodeJSONText(s string, maxDepth int, processArray bool) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	if maxDepth > 1 {
		v = decodeNested(v, maxDepth-1, processArray)
	}
	return v, nil
}

func decodeNested(v any, depth int, processArray bool) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = decodeNested(e, depth, processArray)
		}
	case []any:
		for i, e := range x {
			x[i] = decodeNested(e, depth, processArray)
		}
	case string:
		t := strings.TrimSpace(x)
		if depth > 0 && (strings.HasPrefix(t, "{") || (processArray && strings.HasPrefix(t, "["))) {
			if d, err := decodeJSONText(t, depth, processArray); err == nil {
				return d
			}
		}
	}
	return v
}

// expandDotted turns {"a.b": 1} into {"a": {"b": 1}}, as expand_keys does.
func expandDotted(m map[string]any) {
	for _, k := range sortedKeys(m) {
		v := m[k]
		if sub, ok := v.(map[string]any); ok {
			expandDotted(sub)
		}
		if !strings.Contains(k, ".") {
			continue
		}
		delete(m, k)
		parts := strings.Split(k, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = v
	}
}

// decode_xml: {field: message, target_field, overwrite_keys: true,
// document_id, to_lower: true, ignore_missing: false, ignore_failure:
// false}. Elements become objects, repeated elements lists, attributes
// members, and the text of an element with attributes "#text".
func newDecodeXML(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "field", "target_field", "overwrite_keys", "document_id", "to_lower", "ignore_missing", "ignore_failure")
	if err != nil {
		return nil, err
	}
	field, err := stringOpt(cfg, "field", "message")
	if err != nil {
		return nil, err
	}
	if field == "" {
		return nil, fmt.Errorf("field: must not be empty")
	}
	hasTarget := cfg["target_field"] != nil // "target_field:" with no value is as if unset
	target, err := stringOpt(cfg, "target_field", "")
	if err != nil {
		return nil, err
	}
	if !hasTarget {
		target = field
	}
	overwrite, err := boolOpt(cfg, "overwrite_keys", true)
	if err != nil {
		return nil, err
	}
	docID, err := stringOpt(cfg, "document_id", "")
	if err != nil {
		return nil, err
	}
	lower, err := boolOpt(cfg, "to_lower", true)
	if err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		v, ok, err := o.value(doc, field)
		if !ok {
			return false, err // ignore_failure does not forgive a missing field here
		}
		s, ok := v.(string)
		if !ok {
			return o.fail(errNotString(field))
		}
		out, err := decodeXMLText(s, lower)
		if err != nil {
			return o.fail(fmt.Errorf("failed in decode_xml on the %q field: %v", field, err))
		}
		if docID != "" {
			if id, ok := getPath(out, docID); ok {
				if ids, ok := id.(string); ok {
					deletePath(out, docID)
					_ = putPath(doc, "@metadata._id", ids)
				}
			}
		}
		if target == "" {
			mergeRoot(doc, out, overwrite)
			return false, nil
		}
		if err := checkTarget(doc, field, target, overwrite); err != nil {
			return false, err
		}
		return false, putPath(doc, target, out)
	}, nil
}

// maxXMLDepth bounds nesting so a hostile document cannot recurse deeply.
const maxXMLDepth = 100

func decodeXMLText(s string, lower bool) (map[string]any, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	type frame struct {
		name string
		m    map[string]any
		text bytes.Buffer
	}
	root := &frame{m: map[string]any{}}
	stack := []*frame{root}
	name := func(n xml.Name) string {
		if lower {
			return strings.ToLower(n.Local)
		}
		return n.Local
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxXMLDepth {
				return nil, fmt.Errorf("nesting deeper than %d elements", maxXMLDepth)
			}
			f := &frame{name: name(t.Name), m: map[string]any{}}
			for _, a := range t.Attr {
				f.m[name(a.Name)] = a.Value
			}
			stack = append(stack, f)
		case xml.CharData:
			stack[len(stack)-1].text.Write(t)
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			var val any = f.m
			text := strings.TrimSpace(f.text.String())
			if len(f.m) == 0 {
				val = text
			} else if text != "" {
				f.m["#text"] = text
			}
			parent := stack[len(stack)-1].m
			switch prev := parent[f.name].(type) {
			case nil:
				parent[f.name] = val
			case []any:
				parent[f.name] = append(prev, val)
			default:
				parent[f.name] = []any{prev, val}
			}
		}
	}
	if len(root.m) == 0 {
		return nil, fmt.Errorf("no XML element")
	}
	return root.m, nil
}

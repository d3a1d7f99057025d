package processors

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// add_fields: {target: "project", fields: {...}}. target defaults to
// "fields"; an empty target adds at the root. Objects merge, other values
// are overwritten.
func newAddFields(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg, "target", "fields"); err != nil {
		return nil, err
	}
	target, err := stringOpt(cfg, "target", "fields")
	if err != nil {
		return nil, err
	}
	fields, ok := cfg["fields"].(map[string]any)
	if !ok || len(fields) == 0 {
		return nil, fmt.Errorf("fields: required, a non-empty map")
	}
	fields = deepCopy(fields).(map[string]any)
	return func(doc map[string]any) (bool, error) {
		dst := doc
		if target != "" {
			existing, _ := getPath(doc, target)
			sub, ok := existing.(map[string]any)
			if !ok {
				sub = map[string]any{}
				if err := putPath(doc, target, sub); err != nil {
					return false, err
				}
			}
			dst = sub
		}
		deepMerge(dst, fields)
		return false, nil
	}, nil
}

// add_tags: {tags: [..], target: "tags"}. Tags are appended to the array at
// target (default "tags"), skipping ones already present.
func newAddTags(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg, "tags", "target"); err != nil {
		return nil, err
	}
	tags, err := stringList(cfg["tags"])
	if err != nil || len(tags) == 0 {
		return nil, fmt.Errorf("tags: required, a string or a list of strings")
	}
	target, err := stringOpt(cfg, "target", "tags")
	if err != nil {
		return nil, err
	}
	if target == "" {
		target = "tags"
	}
	return func(doc map[string]any) (bool, error) {
		cur, _ := getPath(doc, target)
		list, ok := tagList(cur)
		if !ok {
			return false, fmt.Errorf("%s is not a list of tags", target)
		}
		list, _ = appendNew(list, tags...)
		return false, putPath(doc, target, list)
	}, nil
}

// drop_fields: {fields: [..], ignore_missing: false}. @timestamp and type are
// never dropped (Beats keeps them too). A missing field is an error unless
// ignore_missing; the other fields are dropped either way. A field written
// /like this/ is a regular expression matched against every dotted field
// name of the event, as in Beats.
func newDropFields(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "fields", "ignore_missing")
	if err != nil {
		return nil, err
	}
	list, err := stringList(cfg["fields"])
	if err != nil || len(list) == 0 {
		return nil, fmt.Errorf("fields: required, a string or a list of strings")
	}
	var fields []string
	var res []*regexp.Regexp
	for _, f := range list {
		if len(f) > 2 && f[0] == '/' && f[len(f)-1] == '/' {
			re, err := regexp.Compile(f[1 : len(f)-1])
			if err != nil {
				return nil, fmt.Errorf("fields: %s: %v", f, err)
			}
			res = append(res, re)
			continue
		}
		fields = append(fields, f)
	}
	return func(doc map[string]any) (bool, error) {
		var missing []string
		for _, f := range fields {
			if f == "@timestamp" || f == "type" {
				continue
			}
			if !deletePath(doc, f) && !o.ignoreMissing {
				missing = append(missing, f)
			}
		}
		if len(res) > 0 {
			dropMatching(doc, "", res)
		}
		if len(missing) > 0 {
			return false, fmt.Errorf("field not found: %s", strings.Join(missing, ", "))
		}
		return false, nil
	}, nil
}

// dropMatching deletes every key whose full dotted name matches one of res.
func dropMatching(m map[string]any, prefix string, res []*regexp.Regexp) {
	for k, v := range m {
		name := prefix + k
		if name == "@timestamp" || name == "type" {
			continue
		}
		matched := false
		for _, re := range res {
			if re.MatchString(name) {
				matched = true
				break
			}
		}
		if matched {
			delete(m, k)
			continue
		}
		if sub, ok := v.(map[string]any); ok {
			dropMatching(sub, name+".", res)
		}
	}
}

// drop_event drops every event its condition matches (all without one).
func newDropEvent(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg); err != nil {
		return nil, err
	}
	return func(map[string]any) (bool, error) { return true, nil }, nil
}

// rename: {fields: [{from: a, to: b}], ignore_missing: false,
// fail_on_error: true}. An existing target is an error. With fail_on_error
// the document is left as it was.
func newRename(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "fields", "ignore_missing", "fail_on_error")
	if err != nil {
		return nil, err
	}
	var pairs []fromTo
	err = itemList(cfg, "fields", "{from, to}", func(m map[string]any) error {
		from, _ := m["from"].(string)
		to, _ := m["to"].(string)
		if from == "" || to == "" {
			return fmt.Errorf("from and to are both required strings")
		}
		if err := checkKeys(m, "from", "to"); err != nil {
			return err
		}
		pairs = append(pairs, fromTo{from, to})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		var done []fromTo // to undo on failure
		fail := func(err error) (bool, error) {
			if !o.failOnError {
				return false, nil
			}
			for i := len(done) - 1; i >= 0; i-- {
				v, _ := getPath(doc, done[i].to)
				deletePath(doc, done[i].to)
				_ = putPath(doc, done[i].from, v)
			}
			return false, err
		}
		for _, p := range pairs {
			v, ok, err := o.value(doc, p.from)
			if err != nil {
				return fail(err)
			}
			if !ok {
				continue
			}
			if _, exists := getPath(doc, p.to); exists {
				return fail(errTargetExists(p.to))
			}
			deletePath(doc, p.from)
			if err := putPath(doc, p.to, v); err != nil {
				_ = putPath(doc, p.from, v)
				return fail(err)
			}
			done = append(done, p)
		}
		return false, nil
	}, nil
}

func init() {
	registerStatic("add_fields", staticAddFields)
	registerStatic("add_tags", staticAddTags)
	registerStatic("add_labels", staticAddLabels)
	register("drop_fields", newDropFields)
	register("include_fields", newIncludeFields)
	register("drop_event", newDropEvent)
	register("rename", newRename)
	register("copy_fields", newCopyFields)
	register("extract_array", newExtractArray)
}

// add_labels: {labels: {...}}. Labels are flattened into dotted keys under
// "labels" (ECS labels are a flat keyword map): nested objects join their
// keys with dots, list elements take their index.
func newAddLabels(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg, "labels"); err != nil {
		return nil, err
	}
	labels, ok := cfg["labels"].(map[string]any)
	if !ok || len(labels) == 0 {
		return nil, fmt.Errorf("labels: required, a non-empty map")
	}
	flat := map[string]any{}
	flattenLabels(flat, "", labels)
	return func(doc map[string]any) (bool, error) {
		dst, ok := doc["labels"].(map[string]any)
		if !ok {
			dst = map[string]any{}
			doc["labels"] = dst
		}
		for k, v := range flat {
			dst[k] = v
		}
		return false, nil
	}, nil
}

func flattenLabels(dst map[string]any, prefix string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flattenLabels(dst, prefix+k+".", e)
		}
	case []any:
		for i, e := range x {
			flattenLabels(dst, prefix+strconv.Itoa(i)+".", e)
		}
	default:
		dst[strings.TrimSuffix(prefix, ".")] = x
	}
}

// include_fields: {fields: [..]}. Keeps only the named fields (and what is
// under them); @timestamp and type are always kept, as in Beats.
func newIncludeFields(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg, "fields"); err != nil {
		return nil, err
	}
	fields, err := stringList(cfg["fields"])
	if err != nil || len(fields) == 0 {
		return nil, fmt.Errorf("fields: required, a string or a list of strings")
	}
	keep := append([]string{"@timestamp", "type", "@metadata"}, fields...)
	return func(doc map[string]any) (bool, error) {
		out := map[string]any{}
		for _, f := range keep {
			if v, ok := getPath(doc, f); ok {
				_ = putPath(out, f, v)
			}
		}
		restore(doc, out)
		return false, nil
	}, nil
}

// copy_fields: {fields: [{from, to}], fail_on_error: true, ignore_missing:
// false}. An existing target is an error; values are deep copies.
func newCopyFields(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "fields", "fail_on_error", "ignore_missing")
	if err != nil {
		return nil, err
	}
	pairs, err := fromToList(cfg["fields"], true)
	if err != nil {
		return nil, fmt.Errorf("fields: %v", err)
	}
	return func(doc map[string]any) (bool, error) {
		return false, o.each(doc, len(pairs), func(i int) error {
			p := pairs[i]
			v, ok, err := o.value(doc, p.from)
			if !ok {
				return err
			}
			if _, exists := getPath(doc, p.to); exists {
				return fmt.Errorf("%w, drop or rename this field first", errTargetExists(p.to))
			}
			return putPath(doc, p.to, deepCopy(v))
		})
	}, nil
}

// extract_array: {field, mappings: {target: index}, ignore_missing: false,
// overwrite_keys: false, fail_on_error: true, omit_empty: false}.
func newExtractArray(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "field", "mappings", "ignore_missing", "overwrite_keys", "fail_on_error", "omit_empty")
	if err != nil {
		return nil, err
	}
	field, err := stringOpt(cfg, "field", "")
	if err != nil || field == "" {
		return nil, fmt.Errorf("field: required, a string")
	}
	mm, ok := cfg["mappings"].(map[string]any)
	if !ok || len(mm) == 0 {
		return nil, fmt.Errorf("mappings: required, a map of field names to array indexes")
	}
	type mapping struct {
		to  string
		idx int
	}
	var maps []mapping
	for _, k := range sortedKeys(mm) {
		n, err := intOpt(mm, k, -1)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("mappings: %s: want an array index (0 or more), got %s", k, describe(mm[k]))
		}
		maps = append(maps, mapping{k, n})
	}
	overwrite, err := boolOpt(cfg, "overwrite_keys", false)
	if err != nil {
		return nil, err
	}
	omitEmpty, err := boolOpt(cfg, "omit_empty", false)
	if err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		v, ok, err := o.value(doc, field)
		if !ok {
			return false, err
		}
		arr, ok := v.([]any)
		if !ok {
			if !o.failOnError {
				return false, nil
			}
			return false, fmt.Errorf("field %q is not an array", field)
		}
		return false, o.each(doc, len(maps), func(i int) error {
			m := maps[i]
			if m.idx >= len(arr) {
				return fmt.Errorf("index %d exceeds length of %d elements of %q", m.idx, len(arr), field)
			}
			e := arr[m.idx]
			if omitEmpty && isEmpty(e) {
				return nil
			}
			if _, exists := getPath(doc, m.to); exists && !overwrite {
				return fmt.Errorf("target field %q already has a value", m.to)
			}
			return putPath(doc, m.to, deepCopy(e))
		})
	}, nil
}

// isEmpty is Beats' omit_empty test: nil, "" and empty arrays or objects.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// The fast-path forms (fastpath.go) of add_fields, add_tags and add_labels:
// what they add to a document that has none of the target.

func staticAddFields(cfg map[string]any) (runFunc, staticFunc, error) {
	run, err := newAddFields(cfg)
	if err != nil {
		return nil, nil, err
	}
	target, _ := stringOpt(cfg, "target", "fields")
	fields := cfg["fields"].(map[string]any)
	var kvs []staticKV
	if target == "" {
		for _, k := range sortedKeys(fields) {
			kv, ok := staticValue(k, fields[k])
			if !ok || strings.Contains(k, ".") {
				return run, nil, nil
			}
			kvs = append(kvs, kv)
		}
	} else {
		kv, ok := staticValue(target, fields)
		if !ok {
			return run, nil, nil
		}
		kvs = []staticKV{kv}
	}
	return run, func() ([]staticKV, bool) { return kvs, true }, nil
}

func staticAddTags(cfg map[string]any) (runFunc, staticFunc, error) {
	run, err := newAddTags(cfg)
	if err != nil {
		return nil, nil, err
	}
	tags, _ := stringList(cfg["tags"])
	target, _ := stringOpt(cfg, "target", "tags")
	if target == "" {
		target = "tags"
	}
	list, _ := appendNew(nil, tags...)
	kv, ok := staticValue(target, list)
	if !ok {
		return run, nil, nil
	}
	kvs := []staticKV{kv}
	return run, func() ([]staticKV, bool) { return kvs, true }, nil
}

func staticAddLabels(cfg map[string]any) (runFunc, staticFunc, error) {
	run, err := newAddLabels(cfg)
	if err != nil {
		return nil, nil, err
	}
	flat := map[string]any{}
	flattenLabels(flat, "", cfg["labels"].(map[string]any))
	raw, err := appendJSON(nil, flat)
	if err != nil {
		return run, nil, nil
	}
	kvs := []staticKV{{"labels", raw}}
	return run, func() ([]staticKV, bool) { return kvs, true }, nil
}

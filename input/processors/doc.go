package processors

import (
	"fmt"
	"strings"
)

// Documents are decoded JSON objects: map[string]any with json.Number for
// numbers. Paths are dotted ("http.response.status_code"); a lookup first
// walks nested objects and falls back to a literal dotted key, as Beats'
// event fields do.

func getPath(m map[string]any, path string) (any, bool) {
	_, _, v, ok := findPath(m, path)
	return v, ok
}

// findPath is the lookup getPath and deletePath share: the object holding
// path's value, the key it has there, and the value.
func findPath(m map[string]any, path string) (parent map[string]any, key string, v any, ok bool) {
	cur := m
	for {
		// The whole (rest of the) path as a literal key comes first.
		if v, ok := cur[path]; ok {
			return cur, path, v, true
		}
		i := strings.IndexByte(path, '.')
		if i < 0 {
			return nil, "", nil, false
		}
		next, ok := cur[path[:i]].(map[string]any)
		if !ok {
			return nil, "", nil, false
		}
		cur, path = next, path[i+1:]
	}
}

// putPath sets path to v, creating objects on the way. It fails when a
// value on the way is not an object.
func putPath(m map[string]any, path string, v any) error {
	cur := m
	walked := 0
	for {
		i := strings.IndexByte(path[walked:], '.')
		if i < 0 {
			cur[path[walked:]] = v
			return nil
		}
		k := path[walked : walked+i]
		switch next := cur[k].(type) {
		case map[string]any:
			cur = next
		case nil:
			nm := map[string]any{}
			cur[k] = nm
			cur = nm
		default:
			return fmt.Errorf("cannot set %q: %q is not an object", path, path[:walked+i])
		}
		walked += i + 1
	}
}

// deletePath removes path and reports whether it was there. Objects left
// empty stay, as in Beats.
func deletePath(m map[string]any, path string) bool {
	parent, key, _, ok := findPath(m, path)
	if ok {
		delete(parent, key)
	}
	return ok
}

// deepMerge copies src into dst, merging nested objects and overwriting
// other values.
func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				deepMerge(dm, sm)
				continue
			}
			v = deepCopy(sm)
		}
		dst[k] = v
	}
}

// deepCopy copies config values so documents never share maps or slices
// with the processor's configuration.
func deepCopy(v any) any { return copyTree(v, nil) }

// copyTree copies the objects and lists of v; leaf, when not nil, maps
// every other value on the way (the script's conversions, script.go).
func copyTree(v any, leaf func(any) any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = copyTree(e, leaf)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = copyTree(e, leaf)
		}
		return s
	}
	if leaf != nil {
		return leaf(v)
	}
	return v
}

// tagList reads a tags-like field (tags, log.flags) as a list: nothing, a
// list, or a lone string, which counts as a one-element list. ok is false
// for any other value.
func tagList(v any) (list []any, ok bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case []any:
		return x, true
	case string:
		return []any{x}, true
	}
	return nil, false
}

// appendNew appends the values not already in list; added says whether
// there was any.
func appendNew(list []any, vals ...string) (out []any, added bool) {
	for _, v := range vals {
		dup := false
		for _, e := range list {
			if e == v {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, v)
			added = true
		}
	}
	return list, added
}

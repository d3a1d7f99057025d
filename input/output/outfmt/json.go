package outfmt

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Field lookups work on the encoded document without decoding it: most
// format strings name one or two short fields (data_stream.*), and decoding
// a whole document per event for them would cost more than the output.

// lookup returns the raw JSON value at the dotted path in the object doc.
// Like Beats' event fields, a path walks nested objects and also matches a
// literal key containing dots ({"fields.x": 1}). null counts as missing.
func lookup(doc []byte, path string) ([]byte, bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, false
	}
	return lookupObject(doc, i, path, 0)
}

// maxDepth bounds recursion on hostile input.
const maxDepth = 64

// lookupObject searches the object starting at doc[i] ('{').
func lookupObject(doc []byte, i int, path string, depth int) ([]byte, bool) {
	if depth > maxDepth {
		return nil, false
	}
	i++ // '{'
	for {
		i = skipSpace(doc, i)
		if i >= len(doc) || doc[i] == '}' {
			return nil, false
		}
		if doc[i] == ',' {
			i++
			continue
		}
		if doc[i] != '"' {
			return nil, false
		}
		kend, ok := skipString(doc, i)
		if !ok {
			return nil, false
		}
		key := doc[i+1 : kend-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			if json.Unmarshal(doc[i:kend], &s) != nil {
				return nil, false
			}
			key = []byte(s)
		}
		i = skipSpace(doc, kend)
		if i >= len(doc) || doc[i] != ':' {
			return nil, false
		}
		vstart := skipSpace(doc, i+1)
		vend, ok := skipValue(doc, vstart, depth)
		if !ok {
			return nil, false
		}
		switch {
		case string(key) == path:
			v := doc[vstart:vend]
			if string(v) == "null" {
				return nil, false
			}
			return v, true
		case len(path) > len(key) && path[len(key)] == '.' && strings.HasPrefix(path, string(key)) && doc[vstart] == '{':
			if v, ok := lookupObject(doc, vstart, path[len(key)+1:], depth+1); ok {
				return v, true
			}
		}
		i = vend
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"').
func skipString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int, depth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		if depth > maxDepth {
			return 0, false
		}
		level := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, ok := skipString(b, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				level++
			case '}', ']':
				level--
				if level == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	if j == i {
		return 0, false
	}
	return j, true
}

// scalarText turns a raw JSON scalar into its text: strings unquoted,
// numbers and booleans as written. Objects and arrays are not scalars.
func scalarText(dst []byte, raw []byte) ([]byte, bool) {
	if len(raw) == 0 {
		return dst, false
	}
	switch raw[0] {
	case '{', '[':
		return dst, false
	case '"':
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return append(dst, inner...), true
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return dst, false
		}
		return append(dst, s...), true
	}
	return append(dst, raw...), true
}

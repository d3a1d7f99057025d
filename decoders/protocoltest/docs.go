package protocoltest

import "strings"

// Get walks a decoded event along a dotted path ("http.request.method")
// through nested objects; it returns nil where the path leaves the document.
func Get(doc map[string]any, path string) any {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// GetKeyOrPath is Get for events that also carry dotted keys at the root
// (user.id, ...): a root key spelled exactly like path wins over the walk.
func GetKeyOrPath(doc map[string]any, path string) any {
	if v, ok := doc[path]; ok {
		return v
	}
	return Get(doc, path)
}

package protocol

import (
	"reflect"
	"sort"
	"strings"
)

// Suggest returns the known name closest to an unknown one when it is close
// enough to be a typo (edit distance at most 2, or a third of its length),
// else "". "procesors" gives "processors".
func Suggest(unknown string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := editDistance(unknown, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if bestD <= max(2, len(unknown)/3) {
		return best
	}
	return ""
}

// DidYouMean formats Suggest's answer as a message suffix: ` (did you mean
// "x"?)` or "".
func DidYouMean(unknown string, known []string) string {
	if s := Suggest(unknown, known); s != "" {
		return ` (did you mean "` + s + `"?)`
	}
	return ""
}

// editDistance is the Levenshtein distance over bytes, counting an adjacent
// transposition as one edit (the commonest typo).
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// yamlKeys lists the yaml keys of a struct (or pointer to one), the
// options a protocol's Decode accepts.
func yamlKeys(into any) []string {
	t := reflect.TypeOf(into)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			if strings.Contains(tag, "inline") {
				out = append(out, yamlKeys(reflect.New(f.Type).Interface())...)
			}
			continue
		}
		out = append(out, name)
	}
	return out
}

// StreamOptionNames is every key a protocol stream may carry besides its
// protocol's own: the stream layer's and the common options.
func StreamOptionNames() []string {
	out := []string{"ports", "send_request", "send_response", "transaction_timeout"}
	for k := range StreamKeys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

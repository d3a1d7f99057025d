package pkgbuild

// A Handlebars subset, enough for Fleet stream templates (agent/stream/*.yml.hbs):
//
//	{{name}} {{a.b}} {{this}}            value (no HTML escaping, as Fleet renders YAML)
//	{{#if expr}}..{{else}}..{{/if}}      truthiness as in Handlebars (empty list, "", 0, false, nil are false;
//	                                     with includeZero=true after expr, 0 is true)
//	{{#each name}}..{{this}}..{{/each}}  iterate a list
//	{{#contains "needle" name}}..{{else}}..{{/contains}}   list membership or substring
//	(contains "needle" name)             the same as a sub-expression inside #if
//	{{#unless expr}}..{{/unless}}        negated #if
//
// Block tags alone on a line ("standalone") are removed with their line, as Handlebars does,
// so templates can keep one tag per line and still render clean YAML.

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

type hbsNode interface{}

type hbsText string

type hbsVar struct{ path string }

type hbsBlock struct {
	helper string   // if, each, contains
	args   []string // raw argument tokens
	body   []hbsNode
	inv    []hbsNode // {{else}} branch
}

type hbsTag struct {
	raw  string // content between {{ and }}, trimmed
	kind byte   // '#', '/', 'e' (else) or 'v' (value)
}

// renderTemplate renders a template with the given variables.
func renderTemplate(tmpl string, vars map[string]any) (string, error) {
	nodes, err := parseHBS(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := execHBS(&b, nodes, vars, nil); err != nil {
		return "", err
	}
	return b.String(), nil
}

// lexHBS splits the template into text and tags, applying the standalone-line rule.
func lexHBS(tmpl string) ([]any, error) {
	var out []any
	rest := tmpl
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			out = append(out, hbsText(rest))
			break
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{ at offset %d", len(tmpl)-len(rest)+i)
		}
		out = append(out, hbsText(rest[:i]))
		raw := strings.TrimSpace(rest[i+2 : i+j])
		tag := hbsTag{raw: raw, kind: 'v'}
		switch {
		case strings.HasPrefix(raw, "#"):
			tag.kind, tag.raw = '#', strings.TrimSpace(raw[1:])
		case strings.HasPrefix(raw, "/"):
			tag.kind, tag.raw = '/', strings.TrimSpace(raw[1:])
		case raw == "else":
			tag.kind = 'e'
		}
		out = append(out, tag)
		rest = rest[i+j+2:]
	}
	// Standalone block tags: decided on the original text, then stripped (indentation before the
	// tag and the newline after it), so consecutive standalone lines all disappear.
	standalone := make([]bool, len(out))
	for k, tok := range out {
		tag, ok := tok.(hbsTag)
		if !ok || tag.kind == 'v' {
			continue
		}
		prev := string(out[k-1].(hbsText)) // lexHBS always puts text before a tag
		lineStart := strings.LastIndexByte(prev, '\n') + 1
		if lineStart == 0 && k-1 > 0 {
			continue // another tag precedes this one on the same line
		}
		if strings.TrimLeft(prev[lineStart:], " \t") != "" {
			continue
		}
		next, _ := out[k+1].(hbsText)
		after, _, _ := strings.Cut(string(next), "\n")
		standalone[k] = strings.TrimSpace(after) == ""
	}
	for k := range out {
		if !standalone[k] {
			continue
		}
		prev := string(out[k-1].(hbsText))
		out[k-1] = hbsText(prev[:strings.LastIndexByte(prev, '\n')+1])
		next := string(out[k+1].(hbsText))
		if _, rest, found := strings.Cut(next, "\n"); found {
			out[k+1] = hbsText(rest)
		} else {
			out[k+1] = hbsText("")
		}
	}
	return out, nil
}

func parseHBS(tmpl string) ([]hbsNode, error) {
	toks, err := lexHBS(tmpl)
	if err != nil {
		return nil, err
	}
	pos := 0
	nodes, end, err := parseHBSNodes(toks, &pos)
	if err != nil {
		return nil, err
	}
	if end != nil {
		return nil, fmt.Errorf("unexpected {{%s}}", end.raw)
	}
	return nodes, nil
}

// parseHBSNodes parses until a closing or else tag, which it returns.
func parseHBSNodes(toks []any, pos *int) ([]hbsNode, *hbsTag, error) {
	var nodes []hbsNode
	for *pos < len(toks) {
		tok := toks[*pos]
		*pos++
		switch t := tok.(type) {
		case hbsText:
			if t != "" {
				nodes = append(nodes, t)
			}
		case hbsTag:
			switch t.kind {
			case 'v':
				nodes = append(nodes, hbsVar{path: t.raw})
			case '/', 'e':
				return nodes, &t, nil
			case '#':
				args, err := splitHBSArgs(t.raw)
				if err != nil {
					return nil, nil, err
				}
				blk := &hbsBlock{helper: args[0], args: args[1:]}
				switch blk.helper {
				case "if", "each", "contains", "unless":
				default:
					return nil, nil, fmt.Errorf("unsupported block helper %q", blk.helper)
				}
				body, end, err := parseHBSNodes(toks, pos)
				if err != nil {
					return nil, nil, err
				}
				blk.body = body
				if end != nil && end.kind == 'e' {
					blk.inv, end, err = parseHBSNodes(toks, pos)
					if err != nil {
						return nil, nil, err
					}
				}
				if end == nil || end.kind != '/' || end.raw != blk.helper {
					return nil, nil, fmt.Errorf("{{#%s}} is not closed by {{/%s}}", blk.helper, blk.helper)
				}
				nodes = append(nodes, blk)
			}
		}
	}
	return nodes, nil, nil
}

// splitHBSArgs splits `contains "x" tags` or `if (contains ".pcap" interface)` into tokens;
// a parenthesised sub-expression stays one token.
func splitHBSArgs(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		var end int
		switch s[0] {
		case '"':
			k := strings.IndexByte(s[1:], '"')
			if k < 0 {
				return nil, fmt.Errorf("unterminated string in %q", s)
			}
			end = k + 2
		case '(':
			k := strings.IndexByte(s, ')')
			if k < 0 {
				return nil, fmt.Errorf("unterminated sub-expression in %q", s)
			}
			end = k + 1
		default:
			end = strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty tag")
	}
	return out, nil
}

// hbsScope is the current `this` inside #each (nil at top level).
type hbsScope struct{ this any }

func execHBS(b *strings.Builder, nodes []hbsNode, vars map[string]any, sc *hbsScope) error {
	for _, n := range nodes {
		switch n := n.(type) {
		case hbsText:
			b.WriteString(string(n))
		case hbsVar:
			v, err := evalHBS(n.path, vars, sc)
			if err != nil {
				return err
			}
			b.WriteString(formatHBS(v))
		case *hbsBlock:
			if err := execHBSBlock(b, n, vars, sc); err != nil {
				return err
			}
		}
	}
	return nil
}

func execHBSBlock(b *strings.Builder, blk *hbsBlock, vars map[string]any, sc *hbsScope) error {
	switch blk.helper {
	case "if", "unless":
		// includeZero=true, as in handlebars.js's if: 0 takes the positive
		// path (an integer var that may be 0, such as fanout_group).
		args, includeZero := blk.args, false
		if len(args) == 2 && args[1] == "includeZero=true" {
			args, includeZero = args[:1], true
		}
		if len(args) != 1 {
			return fmt.Errorf("{{#%s}} takes one argument", blk.helper)
		}
		v, err := evalHBS(args[0], vars, sc)
		if err != nil {
			return err
		}
		ok := truthy(v)
		if includeZero && !ok {
			switch x := v.(type) {
			case int:
				ok = x == 0
			case int64:
				ok = x == 0
			case float64:
				ok = x == 0
			}
		}
		if ok == (blk.helper == "if") {
			return execHBS(b, blk.body, vars, sc)
		}
		return execHBS(b, blk.inv, vars, sc)
	case "contains":
		ok, err := containsHBS(blk.args, vars, sc)
		if err != nil {
			return err
		}
		if ok {
			return execHBS(b, blk.body, vars, sc)
		}
		return execHBS(b, blk.inv, vars, sc)
	case "each":
		if len(blk.args) != 1 {
			return fmt.Errorf("{{#each}} takes one argument")
		}
		v, err := evalHBS(blk.args[0], vars, sc)
		if err != nil {
			return err
		}
		items := asList(v)
		if len(items) == 0 {
			return execHBS(b, blk.inv, vars, sc)
		}
		for _, it := range items {
			if err := execHBS(b, blk.body, vars, &hbsScope{this: it}); err != nil {
				return err
			}
		}
	}
	return nil
}

// evalHBS evaluates a path, a string literal or a (contains ...) sub-expression.
func evalHBS(expr string, vars map[string]any, sc *hbsScope) (any, error) {
	switch {
	case strings.HasPrefix(expr, "(") && strings.HasSuffix(expr, ")"):
		args, err := splitHBSArgs(expr[1 : len(expr)-1])
		if err != nil {
			return nil, err
		}
		if args[0] != "contains" {
			return nil, fmt.Errorf("unsupported sub-expression helper %q", args[0])
		}
		return containsHBS(args[1:], vars, sc)
	case strings.HasPrefix(expr, `"`):
		return strings.Trim(expr, `"`), nil
	case expr == "this" || expr == ".":
		if sc == nil {
			return vars, nil
		}
		return sc.this, nil
	}
	parts := strings.Split(strings.TrimPrefix(expr, "this."), ".")
	var cur any = vars
	if sc != nil && strings.HasPrefix(expr, "this.") {
		cur = sc.this
	}
	for _, p := range parts {
		if p == "length" {
			if l := asList(cur); l != nil {
				cur = len(l)
				continue
			}
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, nil
		}
		cur = m[p]
	}
	return cur, nil
}

// containsHBS implements Fleet's contains helper: contains(needle, haystack) where haystack is
// a list (membership) or a string (substring).
func containsHBS(args []string, vars map[string]any, sc *hbsScope) (bool, error) {
	if len(args) != 2 {
		return false, fmt.Errorf("contains takes two arguments, got %d", len(args))
	}
	needle, err := evalHBS(args[0], vars, sc)
	if err != nil {
		return false, err
	}
	hay, err := evalHBS(args[1], vars, sc)
	if err != nil {
		return false, err
	}
	n := formatHBS(needle)
	if s, ok := hay.(string); ok {
		return strings.Contains(s, n), nil
	}
	for _, it := range asList(hay) {
		if formatHBS(it) == n {
			return true, nil
		}
	}
	return false, nil
}

func asList(v any) []any {
	if v == nil {
		return nil
	}
	if l, ok := v.([]any); ok {
		return l
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return nil
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int:
		return x != 0
	case int64:
		return x != 0
	case float64:
		return x != 0
	}
	if l := asList(v); l != nil || reflect.ValueOf(v).Kind() == reflect.Slice {
		return len(l) > 0
	}
	return true
}

func formatHBS(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	if l := asList(v); l != nil {
		s := make([]string, len(l))
		for i, it := range l {
			s[i] = formatHBS(it)
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprint(v)
}

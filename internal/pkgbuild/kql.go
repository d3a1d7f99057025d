package pkgbuild

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// KQL is a parsed query in the subset of Kibana's query language that dashboards.yml may use:
//
//	field : value       field : "quoted value"     field : *  (exists)
//	field : (a or b)    field < n, <=, >, >=
//	not X, X and Y, X or Y, ( X )
//
// Anything else (wildcards inside values, nested field syntax, free text without a field) is a
// parse error: every query names its fields, so the tests can check each against the package,
// and ToDSL can run it on a real search node.
type KQL struct {
	src   string
	node  kqlNode
	names []string
	spans [][2]int // byte range of each of names in src
}

type kqlNode struct {
	op    string // and, or, not, match, phrase, exists, range
	field string
	value string // match/phrase value, range bound
	cmp   string // range: lt, lte, gt, gte
	kids  []kqlNode
}

// ParseKQL parses q ("" is the match-all query).
func ParseKQL(q string) (*KQL, error) {
	toks, err := kqlTokens(q)
	if err != nil {
		return nil, err
	}
	p := &kqlParser{toks: toks}
	k := &KQL{src: q}
	if len(toks) == 0 {
		k.node = kqlNode{op: "all"}
		return k, nil
	}
	n, err := p.or()
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("query %q: unexpected %q", q, p.toks[p.pos].s)
	}
	k.node = n
	k.names = p.names
	k.spans = p.spans
	return k, nil
}

// RenameFields returns the query's text with every field name f replaced by rename(f), the
// rest as written (so a query keeps its shape in the other field layout).
func (k *KQL) RenameFields(rename func(string) (string, error)) (string, error) {
	out := k.src
	for i := len(k.spans) - 1; i >= 0; i-- {
		sp := k.spans[i]
		n, err := rename(k.names[i])
		if err != nil {
			return "", err
		}
		if !isFieldName(n) {
			return "", fmt.Errorf("query %q: %q is not a field name", k.src, n)
		}
		out = out[:sp[0]] + n + out[sp[1]:]
	}
	return out, nil
}

// Fields returns the field names the query uses, in order of appearance.
func (k *KQL) Fields() []string { return k.names }

// ToDSL translates the query to the search engine's query DSL (the same meaning KQL gives it
// for keyword and numeric fields: match for bare values, match_phrase for quoted ones).
func (k *KQL) ToDSL() map[string]any { return dsl(k.node) }

func dsl(n kqlNode) map[string]any {
	switch n.op {
	case "all":
		return obj{"match_all": obj{}}
	case "exists":
		return obj{"exists": obj{"field": n.field}}
	case "match":
		return obj{"match": obj{n.field: n.value}}
	case "phrase":
		return obj{"match_phrase": obj{n.field: n.value}}
	case "range":
		return obj{"range": obj{n.field: obj{n.cmp: n.value}}}
	case "not":
		return obj{"bool": obj{"must_not": []any{dsl(n.kids[0])}}}
	}
	var kids []any
	for _, c := range n.kids {
		kids = append(kids, dsl(c))
	}
	if n.op == "and" {
		return obj{"bool": obj{"filter": kids}}
	}
	return obj{"bool": obj{"should": kids, "minimum_should_match": 1}}
}

type kqlTok struct {
	s        string
	quoted   bool
	pos, end int // byte range in the query
}

func kqlTokens(q string) ([]kqlTok, error) {
	var out []kqlTok
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == ':':
			out = append(out, kqlTok{s: string(c), pos: i, end: i + 1})
			i++
		case c == '<' || c == '>':
			if i+1 < len(q) && q[i+1] == '=' {
				out = append(out, kqlTok{s: q[i : i+2], pos: i, end: i + 2})
				i += 2
			} else {
				out = append(out, kqlTok{s: string(c), pos: i, end: i + 1})
				i++
			}
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(q) && q[j] != '"'; j++ {
				if q[j] == '\\' && j+1 < len(q) {
					j++
				}
				b.WriteByte(q[j])
			}
			if j >= len(q) {
				return nil, fmt.Errorf("query %q: unterminated string", q)
			}
			out = append(out, kqlTok{s: b.String(), quoted: true, pos: i, end: j + 1})
			i = j + 1
		default:
			j := i
			for j < len(q) && !strings.ContainsRune(" \t\n():<>\"", rune(q[j])) {
				if q[j] == '\\' {
					return nil, fmt.Errorf("query %q: escapes outside quotes are not in the supported subset", q)
				}
				j++
			}
			out = append(out, kqlTok{s: q[i:j], pos: i, end: j})
			i = j
		}
	}
	return out, nil
}

type kqlParser struct {
	toks  []kqlTok
	pos   int
	names []string
	spans [][2]int
}

func (p *kqlParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && !p.toks[p.pos].quoted && strings.EqualFold(p.toks[p.pos].s, w)
}

func (p *kqlParser) next() (kqlTok, error) {
	if p.pos >= len(p.toks) {
		return kqlTok{}, fmt.Errorf("unexpected end")
	}
	t := p.toks[p.pos]
	p.pos++
	return t, nil
}

func (p *kqlParser) or() (kqlNode, error)  { return p.list("or", p.and) }
func (p *kqlParser) and() (kqlNode, error) { return p.list("and", p.not) }

func (p *kqlParser) list(op string, sub func() (kqlNode, error)) (kqlNode, error) {
	first, err := sub()
	if err != nil {
		return first, err
	}
	n := kqlNode{op: op, kids: []kqlNode{first}}
	for p.peekWord(op) {
		p.pos++
		k, err := sub()
		if err != nil {
			return n, err
		}
		n.kids = append(n.kids, k)
	}
	if len(n.kids) == 1 {
		return first, nil
	}
	return n, nil
}

func (p *kqlParser) not() (kqlNode, error) {
	if p.peekWord("not") {
		p.pos++
		k, err := p.not()
		return kqlNode{op: "not", kids: []kqlNode{k}}, err
	}
	return p.primary()
}

func (p *kqlParser) primary() (kqlNode, error) {
	t, err := p.next()
	if err != nil {
		return kqlNode{}, err
	}
	if t.s == "(" && !t.quoted {
		n, err := p.or()
		if err != nil {
			return n, err
		}
		if c, err := p.next(); err != nil || c.s != ")" {
			return n, fmt.Errorf("missing )")
		}
		return n, nil
	}
	if t.quoted || !isFieldName(t.s) {
		return kqlNode{}, fmt.Errorf("%q: want a field name (free-text queries are not in the supported subset)", t.s)
	}
	field := t.s
	p.names = append(p.names, field)
	p.spans = append(p.spans, [2]int{t.pos, t.end})
	op, err := p.next()
	if err != nil {
		return kqlNode{}, fmt.Errorf("%s: want : or a comparison", field)
	}
	switch op.s {
	case "<", "<=", ">", ">=":
		v, err := p.next()
		if err != nil {
			return kqlNode{}, err
		}
		if _, err := strconv.ParseFloat(v.s, 64); err != nil {
			return kqlNode{}, fmt.Errorf("%s %s %q: want a number", field, op.s, v.s)
		}
		cmp := map[string]string{"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}[op.s]
		return kqlNode{op: "range", field: field, cmp: cmp, value: v.s}, nil
	case ":":
	default:
		return kqlNode{}, fmt.Errorf("%s: want : or a comparison, got %q", field, op.s)
	}
	if p.pos < len(p.toks) && p.toks[p.pos].s == "(" && !p.toks[p.pos].quoted {
		// field : (a or b or c)
		p.pos++
		n := kqlNode{op: "or"}
		for {
			v, err := p.value(field)
			if err != nil {
				return n, err
			}
			n.kids = append(n.kids, v)
			if p.peekWord("or") {
				p.pos++
				continue
			}
			if c, err := p.next(); err != nil || c.s != ")" {
				return n, fmt.Errorf("%s : (...): missing )", field)
			}
			break
		}
		if len(n.kids) == 1 {
			return n.kids[0], nil
		}
		return n, nil
	}
	return p.value(field)
}

func (p *kqlParser) value(field string) (kqlNode, error) {
	v, err := p.next()
	if err != nil {
		return kqlNode{}, fmt.Errorf("%s: missing value", field)
	}
	switch {
	case v.quoted:
		return kqlNode{op: "phrase", field: field, value: v.s}, nil
	case v.s == "*":
		return kqlNode{op: "exists", field: field}, nil
	case v.s == "(" || v.s == ")" || v.s == ":" || strings.ContainsAny(v.s, "*?<>"):
		return kqlNode{}, fmt.Errorf("%s: value %q is not in the supported subset (quote it)", field, v.s)
	}
	return kqlNode{op: "match", field: field, value: v.s}, nil
}

func isFieldName(s string) bool {
	if s == "" || strings.EqualFold(s, "and") || strings.EqualFold(s, "or") || strings.EqualFold(s, "not") {
		return false
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-' || r == '@') {
			return false
		}
	}
	return true
}

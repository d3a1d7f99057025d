package processors

// Condition is a parsed `when` clause, for code outside this package that
// selects by condition (the outputs' topic and key rules).
type Condition interface {
	Match(doc map[string]any) bool
	// Fields lists the dotted field paths the condition reads, so a
	// caller may decode only those (see outfmt); ok is false when that
	// cannot be known.
	Fields() (fields []string, ok bool)
}

type exported struct{ c condition }

func (e exported) Match(doc map[string]any) bool { return e.c.match(doc) }

func (e exported) Fields() ([]string, bool) {
	var out []string
	ok := true
	seen := map[string]bool{}
	var walk func(c condition)
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	walk = func(c condition) {
		switch x := c.(type) {
		case equalsCond:
			for _, fv := range x {
				add(fv.field)
			}
		case containsCond:
			for _, fv := range x {
				add(fv.field)
			}
		case regexpCond:
			for _, fr := range x {
				add(fr.field)
			}
		case rangeCond:
			for _, b := range x {
				add(b.field)
			}
		case networkCond:
			for _, m := range x {
				add(m.field)
			}
		case hasFieldsCond:
			for _, f := range x {
				add(f)
			}
		case orCond:
			for _, y := range x {
				walk(y)
			}
		case andCond:
			for _, y := range x {
				walk(y)
			}
		case notCond:
			walk(x.c)
		default:
			ok = false
		}
	}
	walk(e.c)
	return out, ok
}

// ParseCondition parses a `when` clause as processors do: equals, contains,
// regexp, range, network, has_fields, and, or, not. Documents given to Match
// are decoded JSON objects with json.Number numbers.
func ParseCondition(v any) (Condition, error) {
	c, err := parseCondition(v)
	if err != nil {
		return nil, err
	}
	return exported{c}, nil
}

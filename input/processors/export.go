package processors

// Condition is a parsed `when` clause, for code outside this package that
// selects by condition (the outputs' topic and key rules).
type Condition interface {
	Match(doc map[string]any) bool
}

type exported struct{ c condition }

func (e exported) Match(doc map[string]any) bool { return e.c.match(doc) }

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

package kafka

import (
	"errors"
	"fmt"
	"sort"

	"github.com/network-traffic/network-traffic/input/processors"
)

// topicSelector picks each document's topic from `topic` and `topics`. It
// is an interface so the shared format-string/rule package the Redis output
// uses for its keys can replace this implementation without touching the
// output. Not safe for concurrent use (Publish runs on one goroutine).
type topicSelector interface {
	// topic returns the document's topic, or an error naming why none
	// could be chosen (the document is then counted as failed).
	topic(doc []byte) (string, error)
}

// ruleSelector follows Beats' selector: `topics` rules are tried in order;
// a rule applies when its `when` condition holds and its format string can
// be filled in; `mappings` turn the formatted value into the topic (with
// `default` for values not mapped; a rule with neither skips). When no rule
// applies, `topic` is used.
type ruleSelector struct {
	rules []topicRule
	def   *fmtString // `topic`; nil when only rules are configured
	buf   []byte
	// interned topic names: dynamic topics take few distinct values, so
	// each is allocated once instead of once per document.
	names map[string]string
}

type topicRule struct {
	fmt      *fmtString
	mappings map[string]string
	def      string
	hasDef   bool
	// when is a one-processor chain, `drop_event` with the rule's
	// condition: "dropped" means the condition holds. It reuses the
	// processors' condition evaluator (equals, contains, regexp, range,
	// network, has_fields, and, or, not) instead of a second copy.
	when *processors.Chain
}

const maxInterned = 4096

func newRuleSelector(topic any, topics any) (*ruleSelector, error) {
	s := &ruleSelector{names: map[string]string{}}
	if topic != nil {
		ts, ok := topic.(string)
		if !ok {
			return nil, fmt.Errorf("topic: must be a string, got %T", topic)
		}
		if ts != "" {
			f, err := parseFmt(ts)
			if err != nil {
				return nil, fmt.Errorf("topic: %w", err)
			}
			s.def = f
		}
	}
	if topics != nil {
		list, ok := topics.([]any)
		if !ok {
			return nil, fmt.Errorf("topics: must be a list of rules, got %T", topics)
		}
		for i, it := range list {
			r, err := parseRule(it)
			if err != nil {
				return nil, fmt.Errorf("topics[%d]: %w", i, err)
			}
			s.rules = append(s.rules, r)
		}
	}
	if s.def == nil && len(s.rules) == 0 {
		return nil, errors.New("topic: a topic (or topics rules) is required")
	}
	return s, nil
}

func parseRule(v any) (topicRule, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return topicRule{}, fmt.Errorf("must be a map, got %T", v)
	}
	var r topicRule
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		val := m[k]
		switch k {
		case "topic":
			s, ok := val.(string)
			if !ok || s == "" {
				return r, errors.New("topic: must be a non-empty string")
			}
			f, err := parseFmt(s)
			if err != nil {
				return r, fmt.Errorf("topic: %w", err)
			}
			r.fmt = f
		case "mappings":
			mm, ok := val.(map[string]any)
			if !ok {
				return r, errors.New("mappings: must be a map of value to topic")
			}
			r.mappings = make(map[string]string, len(mm))
			for from, to := range mm {
				ts, ok := to.(string)
				if !ok {
					return r, fmt.Errorf("mappings: %s: topic must be a string", from)
				}
				r.mappings[from] = ts
			}
		case "default":
			s, ok := val.(string)
			if !ok {
				return r, errors.New("default: must be a string")
			}
			r.def, r.hasDef = s, true
		case "when":
			c, err := processors.New([]map[string]any{{"drop_event": map[string]any{"when": val}}})
			if err != nil {
				return r, fmt.Errorf("when: %w", err)
			}
			r.when = c
		default:
			return r, fmt.Errorf("%s: unknown setting (a rule has topic, mappings, default, when)", k)
		}
	}
	if r.fmt == nil {
		return r, errors.New("topic: required")
	}
	return r, nil
}

func (s *ruleSelector) topic(doc []byte) (string, error) {
	for i := range s.rules {
		if t, ok := s.apply(&s.rules[i], doc); ok {
			return t, nil
		}
	}
	if s.def == nil {
		return "", errors.New("no topics rule applies and no default topic is set")
	}
	var err error
	s.buf, err = s.def.appendTo(s.buf[:0], doc)
	if err != nil {
		return "", fmt.Errorf("topic %q: %w", s.def.raw, err)
	}
	if len(s.buf) == 0 {
		return "", fmt.Errorf("topic %q is empty for this document", s.def.raw)
	}
	return s.intern(s.buf), nil
}

func (s *ruleSelector) apply(r *topicRule, doc []byte) (string, bool) {
	if r.when != nil {
		_, matched, err := r.when.Run(doc)
		if err != nil || !matched {
			return "", false
		}
	}
	var err error
	s.buf, err = r.fmt.appendTo(s.buf[:0], doc)
	if err != nil {
		return "", false
	}
	if r.mappings != nil {
		if t, ok := r.mappings[string(s.buf)]; ok {
			return t, t != ""
		}
		return r.def, r.hasDef && r.def != ""
	}
	if len(s.buf) == 0 {
		return "", false
	}
	return s.intern(s.buf), true
}

func (s *ruleSelector) intern(b []byte) string {
	if t, ok := s.names[string(b)]; ok {
		return t
	}
	if len(s.names) >= maxInterned {
		clear(s.names)
	}
	t := string(b)
	s.names[t] = t
	return t
}

package processors

import "fmt"

// The options and the per-field steps most field processors share, so each
// processor says only what is particular to it.

// fieldOpts are Beats' common failure options, with Beats' defaults:
//
//	ignore_missing: false  a missing source field is skipped, not an error
//	fail_on_error:  true   the first failure stops and reverts the event
//	                       (perField); false goes on and reports nothing
//	ignore_failure: false  a failure leaves the event as it is, no error
//
// readFieldOpts reads all three; a processor that does not take one has
// rejected it in checkKeys already, so it holds its default and is unused.
// (add_process_metadata's ignore_missing defaults to true: it reads its
// own.)
type fieldOpts struct {
	ignoreMissing bool
	failOnError   bool
	ignoreFailure bool
}

func readFieldOpts(cfg map[string]any) (fieldOpts, error) {
	var o fieldOpts
	var err error
	if o.ignoreMissing, err = boolOpt(cfg, "ignore_missing", false); err != nil {
		return o, err
	}
	if o.failOnError, err = boolOpt(cfg, "fail_on_error", true); err != nil {
		return o, err
	}
	if o.ignoreFailure, err = boolOpt(cfg, "ignore_failure", false); err != nil {
		return o, err
	}
	return o, nil
}

// each is perField with the processor's fail_on_error.
func (o fieldOpts) each(doc map[string]any, n int, op func(i int) error) error {
	return perField(doc, o.failOnError, n, op)
}

// fail applies ignore_failure to a run-time failure.
func (o fieldOpts) fail(err error) (bool, error) {
	if o.ignoreFailure {
		return false, nil
	}
	return false, err
}

// value looks up a source field with ignore_missing's rule. ok is false when
// there is nothing to do: err is then nil (missing and ignored) or
// errMissing.
func (o fieldOpts) value(doc map[string]any, path string) (v any, ok bool, err error) {
	v, ok = getPath(doc, path)
	if !ok {
		if o.ignoreMissing {
			return nil, false, nil
		}
		return nil, false, errMissing(path)
	}
	return v, true, nil
}

// str is value for a field that must hold a string; another type is an
// error.
func (o fieldOpts) str(doc map[string]any, path string) (s string, ok bool, err error) {
	v, ok, err := o.value(doc, path)
	if !ok {
		return "", false, err
	}
	s, ok = v.(string)
	if !ok {
		return "", false, errNotString(path)
	}
	return s, true, nil
}

// eachString is the loop of the processors that rewrite string fields:
// the string at each item's source field goes to op. A missing field is
// skipped with ignore_missing and an error without; a value of another type
// is an error; errors follow fail_on_error (each).
func eachString[T interface{ source() string }](o fieldOpts, doc map[string]any, items []T, op func(item T, s string) error) error {
	return o.each(doc, len(items), func(i int) error {
		s, ok, err := o.str(doc, items[i].source())
		if !ok {
			return err
		}
		return op(items[i], s)
	})
}

func errNotString(path string) error { return fmt.Errorf("field %q is not a string", path) }

func (p fromTo) source() string { return p.from }

// target is where a {from, to} pair writes: to, or from itself in place.
func (p fromTo) target() string {
	if p.to == "" {
		return p.from
	}
	return p.to
}

// errTargetExists is the failure of writing to a field that is there
// without overwrite_keys.
func errTargetExists(path string) error { return fmt.Errorf("target field %q already exists", path) }

// checkTarget fails when to is already set and may not be overwritten;
// writing a field back in place (to == from) is always allowed.
func checkTarget(doc map[string]any, from, to string, overwrite bool) error {
	if overwrite || to == from {
		return nil
	}
	if _, exists := getPath(doc, to); exists {
		return errTargetExists(to)
	}
	return nil
}

// itemList parses a list option whose items are maps ({from, to}, {field,
// pattern, replacement}, ...): what names an item's shape in the messages;
// parse reads one item and its error is prefixed with key[i].
func itemList(cfg map[string]any, key, what string, parse func(m map[string]any) error) error {
	list, ok := cfg[key].([]any)
	if !ok || len(list) == 0 {
		return fmt.Errorf("%s: required, a list of %s", key, what)
	}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return fmt.Errorf("%s[%d]: want %s, got %s", key, i, what, describe(e))
		}
		if err := parse(m); err != nil {
			return fmt.Errorf("%s[%d]: %v", key, i, err)
		}
	}
	return nil
}

// putUnlessSet is putPath under overwrite_keys: without it a field the
// event has keeps its value.
func putUnlessSet(doc map[string]any, path string, v any, overwrite bool) error {
	if _, exists := getPath(doc, path); exists && !overwrite {
		return nil
	}
	return putPath(doc, path, v)
}

// mergeRoot puts the members of obj at the root of doc; without overwrite
// the event's own members stay.
func mergeRoot(doc, obj map[string]any, overwrite bool) {
	for k, e := range obj {
		if _, exists := doc[k]; exists && !overwrite {
			continue
		}
		doc[k] = e
	}
}

// fieldOptions is how a field processor starts: cfg may hold only the known
// options, and the shared ones are read (readFieldOpts).
func fieldOptions(cfg map[string]any, known ...string) (fieldOpts, error) {
	if err := checkKeys(cfg, known...); err != nil {
		return fieldOpts{}, err
	}
	return readFieldOpts(cfg)
}

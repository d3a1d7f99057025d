package thrift

import (
	"fmt"
	"os"
	"strconv"
)

// idlMethod is what an IDL tells about one function: its service and the
// names of its parameters and declared exceptions by field id.
type idlMethod struct {
	service    string
	params     map[int16]string
	exceptions map[int16]string
}

// parseIDL reads the services of Thrift IDL files. Only what naming needs
// is parsed (service, function, field ids and names); types, structs and
// constants are skipped. A function name declared by two services keeps
// the first, as Packetbeat does.
func parseIDL(files []string) (map[string]*idlMethod, error) {
	methods := map[string]*idlMethod{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("idl_files: %w", err)
		}
		p := idlParser{toks: tokenize(src)}
		if err := p.file(methods); err != nil {
			return nil, fmt.Errorf("idl_files: %s: %w", f, err)
		}
	}
	return methods, nil
}

// tokenize splits IDL into identifiers, numbers, literals and single
// punctuation characters, dropping comments.
func tokenize(b []byte) []string {
	var toks []string
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			i += 2
			for i+1 < len(b) && !(b[i] == '*' && b[i+1] == '/') {
				i++
			}
			i += 2
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(b) && b[j] != c {
				j++
			}
			toks = append(toks, string(b[i:min(j+1, len(b))]))
			i = j + 1
		case isWordByte(c):
			j := i
			for j < len(b) && isWordByte(b[j]) {
				j++
			}
			toks = append(toks, string(b[i:j]))
			i = j
		default:
			toks = append(toks, string(c))
			i++
		}
	}
	return toks
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-' || c == '+'
}

type idlParser struct {
	toks []string
	i    int
}

func (p *idlParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *idlParser) next() string {
	t := p.peek()
	p.i++
	return t
}

func (p *idlParser) expect(t string) error {
	if got := p.next(); got != t {
		return fmt.Errorf("expected %q, found %q (token %d)", t, got, p.i)
	}
	return nil
}

func (p *idlParser) file(methods map[string]*idlMethod) error {
	for p.i < len(p.toks) {
		if p.next() != "service" {
			continue
		}
		name := p.next()
		if p.peek() == "extends" {
			p.i += 2
		}
		if err := p.expect("{"); err != nil {
			return err
		}
		for p.peek() != "}" {
			if p.peek() == "" {
				return fmt.Errorf("service %s not closed", name)
			}
			if err := p.function(name, methods); err != nil {
				return err
			}
		}
		p.i++
	}
	return nil
}

func (p *idlParser) function(service string, methods map[string]*idlMethod) error {
	if p.peek() == "oneway" {
		p.i++
	}
	p.skipType()
	fn := p.next()
	m := &idlMethod{service: service}
	var err error
	if m.params, err = p.fields(); err != nil {
		return fmt.Errorf("%s.%s: %w", service, fn, err)
	}
	if p.peek() == "throws" {
		p.i++
		if m.exceptions, err = p.fields(); err != nil {
			return fmt.Errorf("%s.%s throws: %w", service, fn, err)
		}
	}
	p.skipAnnotations()
	if t := p.peek(); t == "," || t == ";" {
		p.i++
	}
	if _, dup := methods[fn]; !dup {
		methods[fn] = m
	}
	return nil
}

// fields parses "( 1: [required|optional] type name [= value] [,;] ... )".
func (p *idlParser) fields() (map[int16]string, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	names := map[int16]string{}
	for p.peek() != ")" {
		if p.peek() == "" {
			return nil, fmt.Errorf("field list not closed")
		}
		id, err := strconv.ParseInt(p.next(), 0, 16)
		if err != nil {
			return nil, fmt.Errorf("field id: %w", err)
		}
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		if t := p.peek(); t == "required" || t == "optional" {
			p.i++
		}
		p.skipType()
		names[int16(id)] = p.next()
		if p.peek() == "=" {
			p.i++
			p.skipValue()
		}
		p.skipAnnotations()
		if t := p.peek(); t == "," || t == ";" {
			p.i++
		}
	}
	p.i++
	return names, nil
}

// skipType skips a type, generics included (map<string, list<i32>>).
func (p *idlParser) skipType() {
	p.i++
	if p.peek() != "<" {
		p.skipAnnotations()
		return
	}
	depth := 0
	for p.i < len(p.toks) {
		switch p.next() {
		case "<":
			depth++
		case ">":
			depth--
			if depth == 0 {
				p.skipAnnotations()
				return
			}
		}
	}
}

// skipValue skips a constant: a literal, or a [list] / {map}.
func (p *idlParser) skipValue() {
	depth := 0
	for p.i < len(p.toks) {
		t := p.peek()
		switch {
		case t == "[" || t == "{":
			depth++
		case t == "]" || t == "}":
			depth--
		case depth == 0 && (t == "," || t == ";" || t == ")"):
			return
		}
		p.i++
		if depth == 0 && t != "-" {
			if n := p.peek(); n != "[" && n != "{" {
				return
			}
		}
	}
}

// skipAnnotations skips "( key = "value", ... )" after a type or field.
func (p *idlParser) skipAnnotations() {
	if p.peek() != "(" || p.i+2 >= len(p.toks) || p.toks[p.i+2] != "=" {
		return
	}
	for p.i < len(p.toks) && p.next() != ")" {
	}
}

package redis

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1700000000, 0)

// parseAll runs a fresh parser over data split into pieces of size step,
// keeping unconsumed bytes as the stream does, and returns the rendered
// messages ("!" marks error replies) or the first error.
func parseAll(isReq bool, data string, step int) ([]string, error) {
	p := &parser{isReq: isReq}
	var out []string
	var pending []byte
	for i := 0; i < len(data); i += step {
		buf := append(pending, data[i:min(i+step, len(data))]...)
		off := 0
		for off < len(buf) {
			n, done, err := p.parse(buf[off:], t0)
			off += n
			if err != nil {
				return out, err
			}
			if done {
				s := string(p.msg.text)
				if p.msg.isError {
					s = "!" + s
				}
				if p.msg.noop {
					s = "(noop)"
				}
				out = append(out, s)
				p.reset()
				continue
			}
			if n == 0 {
				break
			}
		}
		pending = append([]byte(nil), buf[off:]...)
	}
	if len(pending) > 0 || p.inMessage() {
		return out, errIncomplete
	}
	return out, nil
}

var errIncomplete = errors.New("incomplete")

func TestParseReplies(t *testing.T) {
	cases := []struct{ in, want string }{
		{"+OK\r\n", "OK"},
		{"-ERR bad\r\n", "!ERR bad"},
		{":-42\r\n", "-42"},
		{"$5\r\nhello\r\n", "hello"},
		{"$0\r\n\r\n", ""},
		{"$-1\r\n", "nil"},
		{"*-1\r\n", "nil"},
		{"*0\r\n", "[]"},
		{"*3\r\n$1\r\na\r\n:2\r\n*2\r\n+x\r\n$-1\r\n", "[a, 2, [x, nil]]"},
		{"*2\r\n-ERR inner\r\n+OK\r\n", "[ERR inner, OK]"}, // EXEC: only a top-level error is an error
		// RESP3
		{"_\r\n", "nil"},
		{",3.25\r\n", "3.25"},
		{",-inf\r\n", "-inf"},
		{"#t\r\n", "true"},
		{"#f\r\n", "false"},
		{"(3492890328409238509324850943850943825024385\r\n", "3492890328409238509324850943850943825024385"},
		{"!21\r\nSYNTAX invalid syntax\r\n", "!SYNTAX invalid syntax"},
		{"=15\r\ntxt:Some string\r\n", "Some string"},
		{"%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n:2\r\n", "{first: 1, second: [2]}"},
		{"~2\r\n+a\r\n+b\r\n", "[a, b]"},
		{">3\r\n+message\r\n+ch\r\n+hi\r\n", "[message, ch, hi]"},
		{"%0\r\n", "{}"},
		// Attributes are parsed, not shown, and not counted as elements.
		{"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:2039\r\n:9543\r\n", "[2039, 9543]"},
		{"*2\r\n|1\r\n+ttl\r\n:3600\r\n+x\r\n+y\r\n", "[x, y]"},
		// Streamed string and aggregates.
		{"$?\r\n;4\r\nHell\r\n;6\r\no worl\r\n;1\r\nd\r\n;0\r\n", "Hello world"},
		{"*?\r\n:1\r\n:2\r\n.\r\n", "[1, 2]"},
		{"%?\r\n+a\r\n:1\r\n.\r\n", "{a: 1}"},
		{"*2\r\n*?\r\n:1\r\n.\r\n:3\r\n", "[[1], 3]"},
	}
	for _, c := range cases {
		for _, step := range []int{len(c.in), 1, 2, 3, 7} {
			got, err := parseAll(false, c.in, step)
			if err != nil || len(got) != 1 || got[0] != c.want {
				t.Errorf("%q (step %d) = %q, %v; want %q", c.in, step, got, err, c.want)
				break
			}
		}
	}
}

func TestParseRequests(t *testing.T) {
	cases := []struct{ in, want string }{
		{"*3\r\n$3\r\nSET\r\n$4\r\nkey3\r\n$2\r\nme\r\n", "SET key3 me"},
		{"PING\r\n", "PING"},
		{"  get   k1 \t\r\n", "get k1"},
		{"get k1\n", "get k1"}, // inline accepts a bare LF, as Redis does
		{"\r\n", "(noop)"},
		{"*0\r\n", "(noop)"},
		{"*-1\r\n", "(noop)"},
	}
	for _, c := range cases {
		for _, step := range []int{len(c.in), 1, 4} {
			got, err := parseAll(true, c.in, step)
			if err != nil || len(got) != 1 || got[0] != c.want {
				t.Errorf("%q (step %d) = %q, %v; want %q", c.in, step, got, err, c.want)
				break
			}
		}
	}
	// Spans: method, resource, last argument.
	p := &parser{isReq: true}
	in := []byte("*4\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$9\r\nmaxmemory\r\n$1\r\nx\r\n")
	n, done, err := p.parse(in, t0)
	if n != len(in) || !done || err != nil {
		t.Fatalf("parse: %d %v %v", n, done, err)
	}
	m, rest := commandName(&p.msg)
	if m != "CONFIG GET" || rest != 2 || string(p.msg.elem(2)) != "maxmemory" || string(p.msg.span(p.msg.last)) != "x" || p.msg.argc != 4 || p.msg.size != int64(len(in)) {
		t.Errorf("CONFIG GET: method %q rest %d elem2 %q last %q argc %d size %d", m, rest, p.msg.elem(2), p.msg.span(p.msg.last), p.msg.argc, p.msg.size)
	}
}

// Incomplete input asks for more (never an error) at every prefix.
func TestNeedMore(t *testing.T) {
	full := "*3\r\n$3\r\nfoo\r\n%1\r\n+k\r\n,1.5\r\n$?\r\n;2\r\nab\r\n;0\r\n"
	for i := 1; i < len(full); i++ {
		got, err := parseAll(false, full[:i], 1)
		if !errors.Is(err, errIncomplete) || len(got) != 0 {
			t.Fatalf("prefix %q: %q, %v", full[:i], got, err)
		}
	}
	if got, err := parseAll(false, full, 1); err != nil || got[0] != "[foo, {k: 1.5}, ab]" {
		t.Fatalf("full: %q %v", got, err)
	}
}

func TestInvalid(t *testing.T) {
	cases := map[string]error{
		"hello\r\n":                 errType,
		"+OK\n":                     errCRLF,
		"$3\r\nabcd\r\n":            errBulkEnd,
		"$x\r\n":                    errNumber,
		"$-2\r\n":                   errNumber,
		"*2\r\n:1\r\n:a\r\n":        errNumber,
		"%-1\r\n":                   errNumber,
		"#x\r\n":                    errScalar,
		"_1\r\n":                    errScalar,
		",1.5x\r\n":                 errScalar,
		".\r\n":                     errStreamEnd,
		"*1\r\n.\r\n":               errStreamEnd,
		"$?\r\n+x\r\n":              errChunk,
		"=2\r\nab\r\n":              errNumber,
		":99999999999999999999\r\n": errNumber,
		"\r\n":                      errType,
		strings.Repeat("*1\r\n", maxDepth+1) + ":1\r\n": errDepth,
		"+" + strings.Repeat("a", maxLineBytes+10):      errLineLong,
	}
	for in, want := range cases {
		_, err := parseAll(false, in, 5)
		if !errors.Is(err, want) {
			t.Errorf("%.40q: %v, want %v", in, err, want)
		}
	}
	if _, err := parseAll(true, strings.Repeat("a", maxLineBytes+10), 1000); !errors.Is(err, errLineLong) {
		t.Errorf("long inline: %v", err)
	}
}

// Large values are consumed as they arrive and rendered only up to
// maxTextBytes: the parser never asks the stream to keep a whole value.
func TestBigValueStreams(t *testing.T) {
	p := &parser{}
	n, done, err := p.parse([]byte("$1000000\r\n"), t0)
	if n != 10 || done || err != nil {
		t.Fatalf("header: %d %v %v", n, done, err)
	}
	chunk := []byte(strings.Repeat("z", 1448))
	sent := 0
	for sent < 1000000 {
		b := chunk[:min(len(chunk), 1000000-sent)]
		n, done, err = p.parse(b, t0)
		if n != len(b) || done || err != nil {
			t.Fatalf("at %d: consumed %d of %d, %v %v", sent, n, len(b), done, err)
		}
		sent += n
	}
	n, done, err = p.parse([]byte("\r\n"), t0)
	if n != 2 || !done || err != nil || len(p.msg.text) != maxTextBytes || !p.msg.truncated || p.msg.size != 1000012 {
		t.Fatalf("end: %d %v %v text %d size %d", n, done, err, len(p.msg.text), p.msg.size)
	}
}

func TestClipUTF8(t *testing.T) {
	s := strings.Repeat("a", 1022) + "日本" // 1022 + 3 + 3 bytes
	if n := clipUTF8(s, maxFieldBytes); n != 1022 {
		t.Errorf("clip = %d, want 1022 (not inside 日)", n)
	}
	full, short := texts([]byte(s), true)
	if full != s || short != s[:1022] {
		t.Errorf("texts: %d %d", len(full), len(short))
	}
	if _, short := texts([]byte("OK"), false); short != "OK" {
		t.Errorf("short text clipped: %q", short)
	}
}

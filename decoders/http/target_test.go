package http

import (
	"net/url"
	"testing"
)

// The fast split of "/path?query" must give what url.Parse gives, and
// refuse every target where url.Parse would do more (unescape, fragment,
// authority) or fail.
func TestPlainOriginFormAgreesWithURLParse(t *testing.T) {
	for _, target := range []string{
		"/", "/f3.txt", "/a/b.html?x=1&y=2", "/?", "/a??b", "/a?b?c", "/a;b?c;d", "/caf\xc3\xa9",
		"/a%20b", "/a#frag", "//host/path", "/a b", "/a\x01", "/a\x7f", "*", "http://h/p", "", "a/b",
	} {
		path, query, ok := plainOriginForm([]byte(target))
		if !ok {
			continue
		}
		u, err := url.Parse(target)
		if err != nil {
			t.Errorf("%q: fast path taken but url.Parse fails: %v", target, err)
			continue
		}
		if string(path) != u.Path || string(query) != u.RawQuery || u.Host != "" || u.Fragment != "" {
			t.Errorf("%q: fast path %q %q, url.Parse %q %q (host %q)", target, path, query, u.Path, u.RawQuery, u.Host)
		}
	}
	for _, target := range []string{"/a%20b", "/a#frag", "//host/path", "/a b", "*", "http://h/p"} {
		if _, _, ok := plainOriginForm([]byte(target)); ok {
			t.Errorf("%q: fast path taken", target)
		}
	}
}

func TestStartLinePrefix(t *testing.T) {
	for _, c := range []struct{ raw, method, path, want string }{
		{"GET /a?b HTTP/1.1\r\n", "GET", "/a", "GET /a"},
		{"GET /a HTTP/1.1\r\n", "GET", "/a", "GET /a"},
		{"GET  /a HTTP/1.1\r\n", "GET", "/a", "GET /a"},        // two spaces: built
		{"GET /a%20b HTTP/1.1\r\n", "GET", "/a b", "GET /a b"}, // unescaped path: built
		{"GET", "GET", "/", "GET /"},
	} {
		if got := startLinePrefix([]byte(c.raw), c.method, c.path); got != c.want {
			t.Errorf("%q: got %q, want %q", c.raw, got, c.want)
		}
	}
}

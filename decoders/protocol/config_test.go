package protocol

import (
	"fmt"
	"strings"
	"testing"
)

func TestAsInt(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want int
		err  string
	}{
		{int(5), 5, ""},
		{int64(1), 1, ""},
		{uint64(64), 64, ""},
		{float64(32), 32, ""},
		{float64(1.5), 0, "1.5 is not a whole number"},
		{"5", 0, "5 is not a number"},
		{nil, 0, "<nil> is not a number"},
		{0, 0, "0 is outside 1-64"},
		{65, 0, "65 is outside 1-64"},
	} {
		got, err := AsInt(tc.in, 1, 64)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("AsInt(%#v) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("AsInt(%#v) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestStringList(t *testing.T) {
	type cfg struct {
		L StringList `yaml:"l"`
	}
	for _, tc := range []struct {
		in    any
		want  string
		isNil bool
	}{
		{[]any{"a", "b c"}, "[a b c]", false},
		{" a, ,b ", "[a b]", false},
		{"", "[]", false},
		{nil, "[]", true},
	} {
		var c cfg
		if err := (Options{"l": tc.in}).Decode(&c); err != nil {
			t.Fatalf("%#v: %v", tc.in, err)
		}
		if got := fmt.Sprint(c.L); got != tc.want || (c.L == nil) != tc.isNil {
			t.Errorf("%#v: got %s (nil %v), want %s (nil %v)", tc.in, got, c.L == nil, tc.want, tc.isNil)
		}
	}
	var c cfg
	if err := (Options{"l": map[string]any{"x": 1}}).Decode(&c); err == nil || err.Error() != "expected a list of strings" {
		t.Errorf("map: error %v", err)
	}
}

func TestNonNegative(t *testing.T) {
	zero, five, neg := 0, 5, -1
	for _, tc := range []struct {
		in   *int
		want int
		err  string
	}{
		{nil, 10, ""},
		{&zero, 0, ""},
		{&five, 5, ""},
		{&neg, 0, "max_rows: must not be negative, got -1"},
	} {
		got, err := NonNegative("max_rows", tc.in, 10)
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) || got != tc.want {
			t.Errorf("NonNegative(%v) = %d, %v; want %d, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"processors", "internal_networks", "streams", "send_headers", "max_message_size"}
	for in, want := range map[string]string{
		"procesors": "processors", "intrenal_networks": "internal_networks", "strems": "streams",
		"send_header": "send_headers", "max_msg_size": "max_message_size", "ports_xyz_totally": "",
	} {
		if got := Suggest(in, known); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeSuggestsKnownOption(t *testing.T) {
	var c struct {
		SendHeaders []string `yaml:"send_headers"`
	}
	err := Options{"send_header": []any{"Host"}}.Decode(&c)
	if err == nil || !strings.Contains(err.Error(), `unknown option "send_header" (did you mean "send_headers"?)`) {
		t.Errorf("err = %v", err)
	}
}

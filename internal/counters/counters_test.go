package counters

import (
	"reflect"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/link"
)

type inner struct {
	A uint32
	B [2]int
}

type sample struct {
	X    uint64
	Y    int
	In   inner
	Name string
	List []int
	priv uint64 // unexported: cannot be set, left alone
}

func TestAdd(t *testing.T) {
	d := sample{X: 1, Y: -2, In: inner{A: 3, B: [2]int{4, 5}}, Name: "d", List: []int{1}, priv: 7}
	s := sample{X: 10, Y: 20, In: inner{A: 30, B: [2]int{40, 50}}, Name: "s", List: []int{2}, priv: 70}
	Add(&d, &s)
	want := sample{X: 11, Y: 18, In: inner{A: 33, B: [2]int{44, 55}}, Name: "d", List: []int{1}, priv: 7}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("got %+v, want %+v", d, want)
	}
}

// Every field of the link stats the capture sums is a counter Add sums: one set
// to 1 everywhere, added to itself, is 2 everywhere.
func TestAddCoversStats(t *testing.T) {
	check := func(name string, v any, add func()) {
		t.Helper()
		add()
		rv := reflect.ValueOf(v).Elem()
		for i := 0; i < rv.NumField(); i++ {
			if f := rv.Field(i); f.Kind() == reflect.Uint64 && f.Uint() != 2 {
				t.Errorf("%s.%s = %d after adding 1 to 1", name, rv.Type().Field(i).Name, f.Uint())
			}
		}
	}
	var ls link.Stats
	setOnes(reflect.ValueOf(&ls).Elem())
	one := ls
	check("link.Stats", &ls, func() { Add(&ls, &one) })
	// tcp.Stats.Add uses Add; decoders/tcp tests it (importing it here
	// would be a cycle).
}

func setOnes(v reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Uint64 && f.CanSet() {
			f.SetUint(1)
		}
	}
}

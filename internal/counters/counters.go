// Package counters sums structs of counters field by field, so that a
// counter added to a stats struct is summed over captures and shards
// without anyone listing it again.
package counters

import "reflect"

// Add adds every unsigned and signed integer field of src to the same field
// of dst, descending into nested structs and arrays. Other fields (strings,
// slices, maps, pointers) are left as dst has them: they are not counters.
// It is meant for snapshots taken a few times a second, not the packet path.
func Add[T any](dst *T, src *T) {
	add(reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem())
}

func add(d, s reflect.Value) {
	switch d.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if d.CanSet() {
			d.SetUint(d.Uint() + s.Uint())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if d.CanSet() {
			d.SetInt(d.Int() + s.Int())
		}
	case reflect.Struct:
		for i := 0; i < d.NumField(); i++ {
			add(d.Field(i), s.Field(i))
		}
	case reflect.Array:
		for i := 0; i < d.Len(); i++ {
			add(d.Index(i), s.Index(i))
		}
	}
}

package tcp

import (
	"reflect"
	"testing"
)

// TestStatsAddCoversEveryField fails when a counter is added to Stats but
// not to Add: every field of the sum of two distinct values must differ
// from either.
func TestStatsAddCoversEveryField(t *testing.T) {
	var a, b Stats
	va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()
	for i := range va.NumField() {
		va.Field(i).SetUint(uint64(i + 1))
		vb.Field(i).SetUint(uint64(100 * (i + 1)))
	}
	a.Add(b)
	for i := range va.NumField() {
		if got, want := va.Field(i).Uint(), uint64(101*(i+1)); got != want {
			t.Errorf("%s: %d after Add, want %d", va.Type().Field(i).Name, got, want)
		}
	}
}

package capture

import "testing"

// With detect on for any protocol every TCP packet must pass the filter;
// without it the filter stays port-based.
func TestFilterWithDetect(t *testing.T) {
	uses := []PortUse{{Ports: []uint16{80}, TCP: true}, {Ports: []uint16{53}, TCP: true, UDP: true}}
	if got, want := BuildFilter(uses, false, false, false), "tcp port 80 or port 53"; got != want {
		t.Errorf("without detect: %q, want %q", got, want)
	}
	uses[0].AllTCP = true
	if got, want := BuildFilter(uses, false, false, false), "tcp or tcp port 80 or port 53"; got != want {
		t.Errorf("with detect: %q, want %q", got, want)
	}
}

// Command samples regenerates package/<ds>/sample_event.json and
// _dev/events/<ds>.ndjson from the real captures under _dev/pcaps, using the
// same pipeline as the binary. Run from the repository root:
//
//	go run ./_dev/samples
package main

import (
	"fmt"
	"os"

	"github.com/network-traffic/network-traffic/internal/samples"
)

func main() {
	wrote, err := samples.Write(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "samples:", err)
		os.Exit(1)
	}
	for _, p := range wrote {
		fmt.Println("wrote", p)
	}
}

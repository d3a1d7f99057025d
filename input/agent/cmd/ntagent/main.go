// Command ntagent runs only the Elastic Agent mode of network-traffic. The
// end-to-end tests use it when cmd/network-traffic has no agent mode wired
// in; it is also the smallest example of that wiring.
package main

import (
	"os"

	_ "github.com/network-traffic/network-traffic/decoders/all"
	"github.com/network-traffic/network-traffic/input/agent"
)

func main() {
	os.Exit(agent.Main(os.Args[1:], os.Stderr))
}

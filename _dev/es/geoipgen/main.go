// Command geoipgen writes the test GeoLite2 databases (internal/estest/geoipdb) into a
// directory; _dev/es/start.sh installs them into the test node.
//
// Usage: go run ./_dev/es/geoipgen -out DIR
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/network-traffic/network-traffic/internal/estest/geoipdb"
)

func main() {
	out := flag.String("out", ".", "directory to write GeoLite2-{City,Country,ASN}.mmdb into")
	flag.Parse()
	if err := geoipdb.WriteAll(*out); err != nil {
		fmt.Fprintln(os.Stderr, "geoipgen:", err)
		os.Exit(1)
	}
}

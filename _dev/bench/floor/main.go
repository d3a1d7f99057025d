// Command floor reads every packet of a capture with gopacket's libpcap
// binding and does nothing else: the lower bound the benchmark compares
// network-traffic against.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/google/gopacket/pcap"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor FILE.pcap")
		os.Exit(2)
	}
	h, err := pcap.OpenOffline(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer h.Close()
	start := time.Now()
	var packets, bytes uint64
	for {
		data, _, err := h.ZeroCopyReadPacketData()
		if err != nil {
			break
		}
		packets++
		bytes += uint64(len(data))
	}
	took := time.Since(start).Seconds()
	fmt.Printf("packets=%d bytes=%d seconds=%.3f packets_per_s=%.0f\n", packets, bytes, took, float64(packets)/took)
}

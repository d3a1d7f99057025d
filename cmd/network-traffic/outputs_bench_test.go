package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	lumberlog "github.com/elastic/go-lumber/log"
	lumberserver "github.com/elastic/go-lumber/server/v2"

	"github.com/network-traffic/network-traffic/internal/outtest"
)

// BenchmarkStandaloneOutputs replays _dev/pcaps/redis/benchmark.pcap
// (redis-benchmark traffic, about 1,000 transactions a loop) 20 times per
// iteration to each output and reports events/s and the process's CPU
// time per 1,000 events. The lumberjack server runs in this process (its
// CPU is included, but it does not decode events); redis-server is a
// separate process (not included).
//
//	go test -run XXX -bench StandaloneOutputs -benchtime 3x ./cmd/network-traffic
func BenchmarkStandaloneOutputs(b *testing.B) {
	lumberlog.Logger = quietLumber{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// The server does not decode events (most of its CPU otherwise).
	srv, err := lumberserver.NewWithListener(ln, lumberserver.JSONDecoder(func([]byte, any) error { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for batch := range srv.ReceiveChan() {
			batch.ACK()
		}
	}()
	raddr := outtest.StartRedis(b, 0)
	dir := b.TempDir()
	for _, tc := range []struct{ name, output string }{
		{"ndjson", "output: {type: file, path: " + dir + ", filename: out.ndjson}"},
		{"logstash", fmt.Sprintf("output: {type: logstash, hosts: [%q]}", ln.Addr())},
		{"logstash-nocompress", fmt.Sprintf("output: {type: logstash, hosts: [%q], compression_level: 0}", ln.Addr())},
		{"redis-list", fmt.Sprintf("output: {type: redis, hosts: [%q], key: \"nt-%%{[network.protocol]}\"}", raddr)},
		{"redis-channel", fmt.Sprintf("output: {type: redis, hosts: [%q], datatype: channel}", raddr)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := filepath.Join(dir, tc.name+".yml")
			os.WriteFile(cfg, []byte("id: bench\ntype: packet\nstreams:\n  - {id: redis, type: redis}\n  - {id: flow, type: flow}\n"+tc.output+"\n"), 0o644)
			var events int64
			var cpu time.Duration
			start := time.Now()
			for range b.N {
				var so, se bytes.Buffer
				c0 := cpuTime()
				if code := run([]string{"-c", cfg, "-I", "../../_dev/pcaps/redis/benchmark.pcap", "-t", "-l", "20"}, &so, &se); code != 0 {
					b.Fatalf("exit %d: %s", code, se.String())
				}
				cpu += cpuTime() - c0
				m := regexp.MustCompile(`output \S+: (\d+) documents acknowledged`).FindStringSubmatch(se.String())
				if m == nil {
					b.Fatalf("no output summary: %s", se.String())
				}
				n, _ := strconv.ParseInt(m[1], 10, 64)
				events += n
			}
			secs := time.Since(start).Seconds()
			b.ReportMetric(float64(events)/secs, "events/s")
			b.ReportMetric(cpu.Seconds()*1000/float64(events)*1000, "cpu-ms/1k-events")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Command network-traffic captures network traffic and emits one ECS
// document per transaction plus flow records. It runs standalone (a pcap
// file or a live interface, NDJSON or Elasticsearch out) or as an Elastic
// Agent component.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	_ "github.com/network-traffic/network-traffic/decoders/all"
	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/output/ndjson"
	"github.com/network-traffic/network-traffic/input/publish"
)

// Set by the build (-ldflags "-X main.version=...").
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func main() {
	tuneGC()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type flags struct {
	readFile    string
	topSpeed    bool
	loop        int
	device      string
	configPath  string
	outPath     string
	rotateBytes int64
	logStderr   bool
	debug       bool
	showVersion bool
	filter      string
	statsJSON   string
	cpuProfile  string
	memProfile  string
	es          esFlags
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "devices":
			return listDevices(stdout, stderr)
		case "agent":
			return runAgent(args[1:], stderr)
		case "version":
			fmt.Fprintf(stdout, "network-traffic %s (%s)\n", version, commit)
			return 0
		}
	}
	if os.Getenv("AGENT_COMPONENT_ID") != "" {
		return runAgent(args, stderr)
	}

	var f flags
	fs := flag.NewFlagSet("network-traffic", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.readFile, "I", "", "read packets from a pcap or pcapng `file` instead of a live interface")
	fs.BoolVar(&f.topSpeed, "t", false, "with -I: read as fast as possible (default: at the recorded pace)")
	fs.IntVar(&f.loop, "l", 1, "with -I: replay the file `n` times")
	fs.StringVar(&f.device, "i", "", "capture live on `interface` (default any; see 'network-traffic devices')")
	fs.StringVar(&f.configPath, "c", "", "`config` file: a packet input unit in YAML (streams: one per protocol)")
	fs.StringVar(&f.outPath, "o", "-", "write NDJSON to `file` (- for stdout)")
	fs.Int64Var(&f.rotateBytes, "rotate-bytes", 0, "with -o FILE: rotate the file when it reaches `n` bytes (0: never)")
	fs.BoolVar(&f.logStderr, "e", false, "log to stderr (default: only warnings and the summary)")
	fs.BoolVar(&f.debug, "d", false, "debug logging")
	fs.BoolVar(&f.showVersion, "version", false, "print the version and exit")
	fs.StringVar(&f.filter, "f", "", "BPF `filter` (default: built from the enabled protocols' ports)")
	fs.StringVar(&f.statsJSON, "stats-json", "", "on exit, write the counters (and allocation totals) as JSON to `file`")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile to `file` (go tool pprof)")
	fs.StringVar(&f.memProfile, "memprofile", "", "on exit, write an allocation profile to `file` (go tool pprof)")
	f.es.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: network-traffic [flags]\n       network-traffic devices\n       network-traffic agent   (run under Elastic Agent)\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nProtocols: %s\n", strings.Join(config.KnownTypes(), ", "))
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.showVersion {
		fmt.Fprintf(stdout, "network-traffic %s (%s)\n", version, commit)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "network-traffic: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	level := slog.LevelWarn
	if f.logStderr {
		level = slog.LevelInfo
	}
	if f.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	stopProfiles, err := startProfiles(f.cpuProfile, f.memProfile)
	if err != nil {
		fmt.Fprintf(stderr, "network-traffic: %v\n", err)
		return 1
	}
	defer stopProfiles()

	in, err := loadInput(&f)
	if err != nil {
		fmt.Fprintf(stderr, "network-traffic: %v\n", err)
		return 1
	}
	for _, st := range in.Streams {
		if st.Err != nil {
			log.Warn("stream skipped", "error", st.Err)
		}
	}
	out, err := openOutput(&f, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "network-traffic: %v\n", err)
		return 1
	}
	queue := publish.NewQueue(out, 8192)
	worker, err := capture.New(in, queue, capture.Options{Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "network-traffic: %v\n", err)
		out.Close()
		return 1
	}
	for _, flt := range worker.Filters() {
		log.Info("capturing", "filter", flt)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	qctx, qcancel := context.WithCancel(context.Background())
	go queue.Run(qctx)

	started := time.Now()
	stopProgress := startProgress(stderr, worker, f.readFile != "")
	runErr := worker.Run(ctx)
	stopProgress()
	queue.Close()
	qcancel()
	if err := out.Close(); err != nil && runErr == nil {
		runErr = err
	}
	stats := worker.Stats()
	printSummary(stderr, stats, queue, time.Since(started))
	if f.statsJSON != "" {
		if err := writeStatsJSON(f.statsJSON, stats, time.Since(started)); err != nil {
			fmt.Fprintf(stderr, "network-traffic: %v\n", err)
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "network-traffic: %v\n", runErr)
		if errors.Is(runErr, io.ErrUnexpectedEOF) {
			return 0 // a pcap cut mid-record: everything readable was processed
		}
		return 1
	}
	return 0
}

// loadInput builds the input from -c, or enables every protocol with its
// default ports plus ICMP and flows, then applies -I/-i/-t/-l/-f.
func loadInput(f *flags) (*config.Input, error) {
	var raw map[string]any
	if f.configPath != "" {
		in, err := config.Load(f.configPath)
		if err != nil {
			return nil, err
		}
		raw = in.Source
	} else {
		raw = defaultInput()
	}
	// Command-line capture flags override the interface of every stream.
	if f.readFile != "" || f.device != "" || f.filter != "" || f.topSpeed || f.loop > 1 {
		streams, _ := raw["streams"].([]any)
		for _, s := range streams {
			sm, ok := s.(map[string]any)
			if !ok {
				continue
			}
			iface := map[string]any{}
			if old, ok := sm["interface"].(map[string]any); ok {
				for k, v := range old {
					iface[k] = v
				}
			}
			if f.readFile != "" {
				// Live-capture options mean nothing for a file.
				for _, k := range []string{"device", "type", "fanout_group", "poll_default_route"} {
					delete(iface, k)
				}
				iface["file"] = f.readFile
				iface["top_speed"] = f.topSpeed
				iface["loop"] = f.loop
			}
			if f.device != "" {
				delete(iface, "file")
				iface["device"] = f.device
			}
			if f.filter != "" {
				iface["bpf_filter"] = f.filter
			}
			sm["interface"] = iface
		}
	}
	return config.Parse(raw)
}

func defaultInput() map[string]any {
	streams := []any{
		map[string]any{"id": "flow", "type": "flow", "timeout": "30s", "period": "10s"},
		map[string]any{"id": "icmp", "type": "icmp"},
	}
	for _, name := range protocol.Names() {
		streams = append(streams, map[string]any{"id": name, "type": name})
	}
	return map[string]any{"id": "network-traffic", "type": "packet", "streams": streams}
}

func openOutput(f *flags, stdout io.Writer) (output.Output, error) {
	if f.es.enabled() {
		return f.es.open()
	}
	if f.outPath == "" || f.outPath == "-" {
		return ndjson.NewWriter(stdout), nil
	}
	return ndjson.New(ndjson.Config{Path: f.outPath, RotateBytes: f.rotateBytes})
}

func listDevices(stdout, stderr io.Writer) int {
	devs, err := capture.Devices()
	if err != nil {
		fmt.Fprintf(stderr, "network-traffic: %v\n", err)
		return 1
	}
	for _, d := range devs {
		fmt.Fprintln(stdout, d)
	}
	return 0
}

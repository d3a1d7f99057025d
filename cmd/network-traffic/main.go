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
	"github.com/network-traffic/network-traffic/input/hostmeta"
	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/output/ndjson"
	"github.com/network-traffic/network-traffic/input/publish/diskqueue"
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
	localIPs    string
	topSpeed    bool
	loop        int
	workers     int
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
	appendOut   bool
	// skipBadStreams runs the valid streams of a config that has bad ones
	// (default: any bad stream is fatal).
	skipBadStreams bool
	// shutdownTimeout bounds the flush after the first SIGINT/SIGTERM.
	shutdownTimeout time.Duration
	es              esFlags
}

// defaultShutdownTimeout matches what Elastic Agent allows a component to
// stop: its 30 s grace less a 5 s safety buffer.
const defaultShutdownTimeout = 25 * time.Second

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
	fs.StringVar(&f.localIPs, "local-ips", "", "comma-separated `addresses` of the host whose traffic it is: network.direction is ingress to them, egress from them (default: this host's own on a live capture, none for -I)")
	fs.BoolVar(&f.topSpeed, "t", false, "with -I: read as fast as possible (default: at the recorded pace)")
	fs.IntVar(&f.loop, "l", 1, "with -I: replay the file `n` times")
	fs.IntVar(&f.workers, "workers", 0, "decode in `n` flow shards, one goroutine each, fed by one reader (default: the interface's workers option, else the usable CPUs, at most 4)")
	fs.StringVar(&f.device, "i", "", "capture live on `interface` (default any; see 'network-traffic devices')")
	fs.StringVar(&f.configPath, "c", "", "`config` file: a packet input unit in YAML (streams: one per protocol; output: as the agent's output unit)")
	fs.StringVar(&f.outPath, "o", "-", "write NDJSON to `file` (- for stdout); an existing file is truncated unless -append")
	fs.BoolVar(&f.skipBadStreams, "skip-bad-streams", false, "run the valid streams of a config whose other streams have errors (default: any stream error is fatal)")
	fs.BoolVar(&f.appendOut, "append", false, "with -o FILE: append to an existing file instead of truncating it")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "after SIGINT/SIGTERM, flush queued documents for at most `duration`; a second signal exits at once")
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
	if f.loop < 1 {
		fmt.Fprintf(stderr, "network-traffic: -l %d: the replay count must be at least 1\n", f.loop)
		return 2
	}
	if f.workers < 0 || f.workers > 64 {
		fmt.Fprintf(stderr, "network-traffic: -workers %d: must be between 1 and 64\n", f.workers)
		return 2
	}
	if f.shutdownTimeout <= 0 {
		fmt.Fprintf(stderr, "network-traffic: -shutdown-timeout %s: must be positive\n", f.shutdownTimeout)
		return 2
	}
	if f.appendOut && (f.outPath == "" || f.outPath == "-") {
		fmt.Fprintln(stderr, "network-traffic: -append needs -o FILE")
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
	if badStreams(in, f.skipBadStreams, stderr) {
		return 1
	}
	explicit := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { explicit[fl.Name] = true })
	out, outName, err := openOutput(&f, stdout, in.Source["output"], explicit["o"], log)
	if err != nil {
		fmt.Fprintf(stderr, "network-traffic: %v\n", err)
		return 1
	}
	hostmeta.Version = version
	queueSec := in.Source["queue"]
	if m, ok := in.Source["output"].(map[string]any); ok && !f.es.enabled() && !explicit["o"] && queueSection != nil {
		// An Elasticsearch preset stands for queue.mem settings.
		if queueSec, err = queueSection(m, queueSec); err != nil {
			fmt.Fprintf(stderr, "network-traffic: config: output: %v\n", err)
			out.Close()
			return 1
		}
	}
	queue, err := diskqueue.FromConfig(queueSec, out, 8192, log)
	if err != nil {
		fmt.Fprintf(stderr, "network-traffic: config: %v\n", err)
		out.Close()
		return 1
	}
	disk, _ := queue.(*diskqueue.Queue)
	lost := "are dropped"
	if disk != nil {
		lost = "stay on disk in " + disk.Path()
	}
	worker, err := capture.New(in, queue, capture.Options{Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "network-traffic: %v\n", err)
		out.Close()
		return 1
	}
	for _, st := range in.Streams {
		if s := worker.StreamStates()[st.ID]; s.Status == "FAILED" && st.Err == nil {
			fmt.Fprintf(stderr, "network-traffic: %s\n", s.Error)
			if !f.skipBadStreams {
				out.Close()
				return 1
			}
		}
	}
	for _, flt := range worker.Filters() {
		log.Info("capturing", "filter", flt)
	}

	// The first SIGINT/SIGTERM stops capture and starts a flush bounded by
	// -shutdown-timeout; a second signal, or the deadline, makes the queue
	// give up at once. What could not be delivered is counted and makes the
	// exit code non-zero. Without a signal a run over a file waits for an
	// output that is down (nothing is lost), logging why.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, stopCapture := context.WithCancel(context.Background())
	defer stopCapture()
	qctx, qcancel := context.WithCancel(context.Background())
	defer qcancel()
	finished := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case sig := <-sigs:
			fmt.Fprintf(stderr, "network-traffic: %s: stopping, flushing queued documents for at most %s (signal again to exit now)\n", sig, f.shutdownTimeout)
			stopCapture()
		case <-finished:
			return
		}
		t := time.NewTimer(f.shutdownTimeout)
		defer t.Stop()
		select {
		case sig := <-sigs:
			fmt.Fprintf(stderr, "network-traffic: %s again: exiting now, %d documents still queued %s\n", sig, queue.Depth(), lost)
		case <-t.C:
			fmt.Fprintf(stderr, "network-traffic: shutdown timeout %s reached, %d documents still queued %s\n", f.shutdownTimeout, queue.Depth(), lost)
		case <-finished:
			return
		}
		qcancel()
	}()
	go queue.Run(qctx)

	started := time.Now()
	stopProgress := startProgress(stderr, worker, f.readFile != "")
	every, threshold := liveMetricsInterval(in)
	stopMetrics := startMetrics(log, every, threshold, worker.Stats)
	runErr := worker.Run(ctx)
	stopMetrics()
	stopProgress()
	log.Info("capture finished, flushing the queue", "queued", queue.Depth())
	queue.Close()
	close(finished)
	<-watcherDone
	if err := out.Close(); err != nil && runErr == nil {
		runErr = err
	}
	stats := worker.Stats()
	printSummary(stderr, stats, queue, out, time.Since(started))
	printOutputSummary(stderr, outName, out)
	if disk != nil {
		printDiskQueue(stderr, disk)
	}
	if f.statsJSON != "" {
		if err := writeStatsJSON(f.statsJSON, stats, queue, out, time.Since(started)); err != nil {
			fmt.Fprintf(stderr, "network-traffic: %v\n", err)
		}
	}
	code := 0
	if n := queue.Undelivered(); n > 0 {
		fmt.Fprintf(stderr, "network-traffic: %d documents were not delivered\n", n)
		code = 1
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "network-traffic: %v\n", runErr)
		if !errors.Is(runErr, io.ErrUnexpectedEOF) {
			code = 1 // a pcap cut mid-record is not an error: everything readable was processed
		}
	}
	return code
}

// badStreams reports every stream with a configuration error. They are
// fatal unless skip is set, in which case they are warnings and the valid
// streams run.
func badStreams(in *config.Input, skip bool, stderr io.Writer) (fatal bool) {
	n := 0
	for _, st := range in.Streams {
		if st.Err != nil {
			n++
			fmt.Fprintf(stderr, "network-traffic: %v\n", st.Err)
		}
	}
	if n == 0 {
		return false
	}
	if skip {
		fmt.Fprintf(stderr, "network-traffic: -skip-bad-streams: running without the %d stream(s) above\n", n)
		return false
	}
	fmt.Fprintf(stderr, "network-traffic: %d stream(s) have errors (fix them, or run the others with -skip-bad-streams)\n", n)
	return true
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
	if f.readFile != "" || f.device != "" || f.filter != "" || f.topSpeed || f.loop > 1 || f.localIPs != "" || f.workers > 0 {
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
				for _, k := range []string{"device", "exclude_devices", "type", "fanout_group", "poll_default_route", "poll_devices"} {
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
			if f.localIPs != "" {
				iface["local_ips"] = f.localIPs
			}
			if f.workers > 0 {
				iface["workers"] = f.workers
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

// openOutput picks the output: -es, then an explicit -o, then the config
// file's `output:` section (the shape of the agent's output unit: type
// elasticsearch, logstash, redis, file, console, ...), else NDJSON on
// stdout. It also returns a name for the summary.
func openOutput(f *flags, stdout io.Writer, section any, oSet bool, log *slog.Logger) (output.Output, string, error) {
	if f.es.enabled() {
		out, err := f.es.open()
		return out, "elasticsearch", err
	}
	if section != nil && !oSet {
		m, ok := section.(map[string]any)
		if !ok {
			return nil, "", errors.New("config: output must be a map (type: logstash, hosts: [...], ...)")
		}
		if openConfigOutput == nil {
			return nil, "", errors.New("this build has no outputs besides NDJSON and -es")
		}
		out, err := openConfigOutput(m, log.With("output", m["type"]))
		if err != nil {
			return nil, "", fmt.Errorf("config: output: %w", err)
		}
		typ, _ := m["type"].(string)
		return out, typ, nil
	}
	if f.outPath == "" || f.outPath == "-" {
		return ndjson.NewWriter(stdout), "ndjson", nil
	}
	out, err := ndjson.New(ndjson.Config{Path: f.outPath, RotateBytes: f.rotateBytes, Append: f.appendOut})
	return out, "ndjson", err
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

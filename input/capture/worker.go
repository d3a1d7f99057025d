package capture

import (
	"context"
	"github.com/network-traffic/network-traffic/input/hostmeta"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/decoders/engine"
	"github.com/network-traffic/network-traffic/decoders/link"
	"github.com/network-traffic/network-traffic/decoders/tcp"
	"github.com/network-traffic/network-traffic/input/config"
)

// Options tune a worker.
type Options struct {
	// AgentExtra is pre-encoded JSON members added to every document
	// (elastic_agent.*, agent.id) under Elastic Agent; nil standalone.
	AgentExtra []byte
	// Host supplies this host's addresses and the agent.* and host.*
	// members of every document; nil is the process's own
	// (hostmeta.Default).
	Host   *hostmeta.Source
	Logger *slog.Logger
}

// Worker runs every capture of one packet input.
type Worker struct {
	sink Sink
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	in       *config.Input
	runs     []*captureRun
	states   map[string]StreamState
	runCtx   context.Context
	running  bool
	wg       sync.WaitGroup
	finished chan struct{}
}

// captureRun is one sniffer with its decoding pipeline.
type captureRun struct {
	cfg    *config.Capture
	src    Source
	dec    *link.Decoder
	eng    *engine.Engine
	filter string
	pubs   map[string]*streamPublisher // by stream id
	// protoNames[i] is the stream type of eng.Instances()[i].
	protoNames []string
	cancel     context.CancelFunc
	done       chan struct{}
	// lastFrame is the time of the last frame read (unsharded), which
	// the end of a file is flushed at.
	lastFrame time.Time
	// names are the capture's interfaces by link.Packet.Iface (nil for any
	// and files), for the publishers' observer.ingress.interface.name.
	names *ifaceNames
	// disp, on a sharded capture, is the reader feeding this shard (src
	// is then its shardSource).
	disp *dispatcher
	// flowStream and icmpStream are the configs behind eng.Flows and
	// eng.ICMP, to tell on reconfiguration whether they changed.
	flowStream, icmpStream *config.Stream

	// asm is the TCP reassembler; it outlives engine swaps, and its factory
	// asks cur, so new connections get the parsers of the engine in force.
	asm *tcp.Assembler
	// cur and curFilter are the engine and BPF filter the capture goroutine
	// works with. Once the goroutine runs only it touches them (eng and
	// filter above are the copies Stats reads under Worker.mu); a
	// reconfiguration hands it a plan through plans and waits.
	cur       *engine.Engine
	curFilter string
	plans     chan *swapPlan
	pending   atomic.Bool

	packets, bytes, decodeErrors atomic.Uint64
	readErr                      atomic.Value // error
	// panics counts parser panics recovered; fatal is a panic from outside
	// the parsers, which ends the capture (see guard).
	panics    atomic.Uint64
	fatal     atomic.Pointer[PanicError]
	onPanic   func(protocol string, msg string)
	loggedFor map[string]bool // protocols whose first panic was logged
	// snap is the decoder's and assembler's counters, copied by the capture
	// goroutine (which owns them) every few thousand packets and at the end,
	// so other goroutines read them without racing.
	snap atomic.Pointer[layerSnapshot]
}

// Filters returns the BPF filter of each capture (diagnostics, tests).
func (w *Worker) Filters() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, len(w.runs))
	for i, r := range w.runs {
		out[i] = r.filter
	}
	return out
}

// StreamStates reports each stream's health.
func (w *Worker) StreamStates() map[string]StreamState {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]StreamState, len(w.states))
	for k, v := range w.states {
		out[k] = v
	}
	return out
}

// Input returns the configuration in force.
func (w *Worker) Input() *config.Input {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.in
}

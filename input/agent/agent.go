// Package agent runs network-traffic as an Elastic Agent component: it speaks
// the V2 control protocol (elastic-agent-client), turns each `packet` input
// unit into a capture worker, sends documents to the output the output unit
// names, and reports health per unit and per stream.
//
// One goroutine (the manager loop) owns all unit state: unit changes, worker
// exits and the periodic health check are serialised through it, so there is
// no locking between them. Workers publish into one shared bounded queue in
// front of a swappable output.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/elastic-agent-client/v7/pkg/client"

	"github.com/network-traffic/network-traffic/input/capture"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/hostmeta"
	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/publish"
	"github.com/network-traffic/network-traffic/input/publish/diskqueue"
)

// Runner is what a unit needs from a capture worker (*capture.Worker).
type Runner interface {
	Run(ctx context.Context) error
	Reconfigure(in *config.Input) error
	Stats() capture.Stats
	StreamStates() map[string]capture.StreamState
}

// WorkerFactory builds a worker for one input unit.
type WorkerFactory func(in *config.Input, sink capture.Sink, opts capture.Options) (Runner, error)

// NewWorker is the default WorkerFactory.
func NewWorker(in *config.Input, sink capture.Sink, opts capture.Options) (Runner, error) {
	w, err := capture.New(in, sink, opts)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Options tune Run; zero values take the defaults.
type Options struct {
	Version     string
	NewWorker   WorkerFactory
	NewOutput   OutputFactory
	QueueSize   int
	HealthEvery time.Duration // health evaluation period (default 5s)
	// StopTimeout bounds the flush on shutdown (default 25s: the agent's
	// 30s stop grace less a 5s buffer).
	StopTimeout time.Duration
	// Level is the live log level; Run creates one if nil. The caller's
	// handler should use it.
	Level *slog.LevelVar
}

// Run connects to Elastic Agent using the StartUpInfo read from stdin and
// serves units until ctx ends (SIGTERM), then stops every unit and flushes.
func Run(ctx context.Context, stdin io.Reader, log *slog.Logger) error {
	return RunWith(ctx, stdin, log, Options{})
}

// RunWith is Run with options.
func RunWith(ctx context.Context, stdin io.Reader, log *slog.Logger, opts Options) error {
	if opts.NewWorker == nil {
		opts.NewWorker = NewWorker
	}
	if opts.NewOutput == nil {
		opts.NewOutput = NewOutput
	}
	if opts.HealthEvery <= 0 {
		opts.HealthEvery = 5 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 25 * time.Second
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.Version == "" {
		opts.Version = buildVersion()
	}
	if log == nil {
		log = slog.Default()
	}
	meta := map[string]string{"version": opts.Version}
	if id := os.Getenv("AGENT_COMPONENT_ID"); id != "" {
		meta["component_id"] = id
	}
	c, _, err := client.NewV2FromReader(stdin, client.VersionInfo{Name: "network-traffic", Meta: meta, BuildHash: buildHash()})
	if err != nil {
		return fmt.Errorf("reading agent start-up info from stdin: %w", err)
	}
	m := newManager(c, log, opts)
	return m.run(ctx)
}

type manager struct {
	c    client.V2
	log  *slog.Logger
	opts Options

	queue      *switchQueue
	out        *swapOutput
	queueStop  context.CancelFunc
	queueDone  chan struct{}
	agentExtra []byte

	outUnit *outputUnit
	units   map[string]*inputUnit
	exited  chan workerExit
	quit    chan struct{} // closed when shutdown starts
	// fatal is a worker's internal error (a panic outside the parsers):
	// the run loop flushes, stops and returns it, ending the process.
	fatal      error
	outDiag    atomic.Value // map[string]any, for the diagnostics hook
	lastOutput output.Stats
	lastQueue  queueCounters
}

type queueCounters struct{ blocked, failures uint64 }

type workerExit struct {
	id  string
	gen int
	err error
}

func newManager(c client.V2, log *slog.Logger, opts Options) *manager {
	return &manager{c: c, log: log, opts: opts, units: map[string]*inputUnit{}, exited: make(chan workerExit, 16), quit: make(chan struct{})}
}

func (m *manager) run(ctx context.Context) error {
	// The connection outlives ctx: after SIGTERM the final STOPPING and
	// STOPPED states still have to reach the agent. shutdown calls Stop.
	if err := m.c.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("connect to Elastic Agent: %w", err)
	}
	m.out = newSwapOutput()
	m.queue = newSwitchQueue(publish.NewQueue(m.out, m.opts.QueueSize))
	qctx, qcancel := context.WithCancel(context.Background())
	m.queueStop, m.queueDone = qcancel, make(chan struct{})
	m.queue.begin(qctx)
	go func() { defer close(m.queueDone); m.queue.Run(qctx) }()
	m.agentExtra = agentExtra(m.c.AgentInfo())
	if info := m.c.AgentInfo(); info != nil && info.ID != "" {
		// agent.* (id, version as the agent reports them; name, type,
		// ephemeral_id) comes with host.* from hostmeta, written once.
		hostmeta.Default().SetAgent(hostmeta.Agent{ID: info.ID, Version: info.Version})
	}
	m.registerComponentDiagnostics()

	tick := time.NewTicker(m.opts.HealthEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return m.shutdown()
		case ch := <-m.c.UnitChanges():
			m.handle(ctx, ch)
		case err := <-m.c.Errors():
			m.logClientError(err)
		case ex := <-m.exited:
			m.workerExited(ex)
			if m.fatal != nil {
				m.log.Error("ending the component after an internal error", "error", m.fatal)
				_ = m.shutdown()
				return m.fatal
			}
		case <-tick.C:
			m.evaluate()
		}
	}
}

func (m *manager) logClientError(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	// Reconnects are normal when the agent restarts; the client retries.
	m.log.Debug("agent connection", "error", err)
}

// handle applies one unit change.
func (m *manager) handle(ctx context.Context, ch client.UnitChanged) {
	u := ch.Unit
	switch u.Type() {
	case client.UnitTypeOutput:
		m.handleOutput(ch)
	case client.UnitTypeInput:
		m.handleInput(ctx, ch)
	}
	if ch.Triggers&client.TriggeredLogLevelChange != 0 || ch.Type != client.UnitChangedModified {
		m.applyLogLevel()
	}
}

// applyLogLevel sets the process level to the most verbose level any unit
// asks for (units share one log).
func (m *manager) applyLogLevel() {
	if m.opts.Level == nil {
		return
	}
	lvl := slog.Level(100)
	found := false
	consider := func(u *client.Unit) {
		l := levelOf(u.Expected().LogLevel)
		if !found || l < lvl {
			lvl, found = l, true
		}
	}
	for _, iu := range m.units {
		consider(iu.unit)
	}
	if m.outUnit != nil {
		consider(m.outUnit.unit)
	}
	if found && m.opts.Level.Level() != lvl {
		m.log.Info("log level changed", "level", lvl.String())
		m.opts.Level.Set(lvl)
	}
}

func levelOf(l client.UnitLogLevel) slog.Level {
	switch l {
	case client.UnitLogLevelError:
		return slog.LevelError
	case client.UnitLogLevelWarn:
		return slog.LevelWarn
	case client.UnitLogLevelDebug:
		return slog.LevelDebug
	case client.UnitLogLevelTrace:
		return slog.LevelDebug - 4
	}
	return slog.LevelInfo
}

// outputUnit is the single output unit.
type outputUnit struct {
	unit   *client.Unit
	cfgIdx string // fingerprint of the applied config
	typ    string
	failed string
	cfg    map[string]any
}

func (m *manager) handleOutput(ch client.UnitChanged) {
	u := ch.Unit
	exp := u.Expected()
	if ch.Type == client.UnitChangedRemoved {
		if m.outUnit != nil && m.outUnit.unit == u {
			m.outUnit = nil
		}
		return
	}
	if exp.State == client.UnitStateStopped {
		_ = u.UpdateState(client.UnitStateStopping, "Stopping output", nil)
		// Keep the output until inputs are gone: documents still queued
		// should get out. The agent removes inputs first anyway.
		_ = u.UpdateState(client.UnitStateStopped, "Stopped", nil)
		return
	}
	if m.outUnit == nil || m.outUnit.unit != u {
		m.outUnit = &outputUnit{unit: u}
	}
	ou := m.outUnit
	var cfg map[string]any
	if exp.Config != nil && exp.Config.Source != nil {
		cfg = exp.Config.Source.AsMap()
		if _, ok := cfg["type"]; !ok && exp.Config.Type != "" {
			cfg["type"] = exp.Config.Type
		}
	}
	fp := fingerprint(cfg)
	if fp == ou.cfgIdx && ou.failed == "" {
		return // log level or state trigger only
	}
	_ = u.UpdateState(client.UnitStateConfiguring, "Configuring output", nil)
	section, err := QueueSection(cfg, cfg["queue"])
	if err == nil {
		err = m.applyQueue(section)
	}
	if err != nil {
		ou.failed = fmt.Sprintf("output config: %v", err)
		ou.cfgIdx = fp
		m.outDiag.Store(map[string]any{"config": redact(cfg), "error": ou.failed})
		m.log.Error("queue config rejected", "error", err)
		_ = u.UpdateState(client.UnitStateFailed, ou.failed, nil)
		return
	}
	out, err := m.opts.NewOutput(cfg, m.log.With("output", cfg["type"]))
	if err != nil {
		ou.failed = fmt.Sprintf("output config: %v", err)
		ou.cfgIdx = fp
		m.outDiag.Store(map[string]any{"config": redact(cfg), "error": ou.failed})
		m.log.Error("output config rejected", "error", err)
		_ = u.UpdateState(client.UnitStateFailed, ou.failed, nil)
		return
	}
	old := m.out.Set(out)
	if old != nil {
		go func() {
			if err := old.Close(); err != nil {
				m.log.Debug("closing previous output", "error", err)
			}
		}()
	}
	ou.cfgIdx, ou.failed, ou.cfg = fp, "", cfg
	ou.typ, _ = cfg["type"].(string)
	m.lastOutput = output.Stats{}
	m.outDiag.Store(map[string]any{"type": ou.typ, "config": redact(cfg)})
	m.log.Info("output configured", "type", ou.typ)
	_ = u.UpdateState(client.UnitStateHealthy, fmt.Sprintf("Output %s ready", ou.typ), nil)
}

// evaluate refreshes health of every unit from worker, queue and output
// counters over the last period.
func (m *manager) evaluate() {
	outMsg := m.outputProblem()
	if qm := m.queueProblem(); qm != "" {
		// The queue belongs to the output unit's config; the inputs are
		// held back by it: both say so.
		outMsg = strings.TrimPrefix(outMsg+"; "+qm, "; ")
	}
	if m.outUnit != nil && m.outUnit.failed == "" {
		st, msg := client.UnitStateHealthy, fmt.Sprintf("Output %s ready", m.outUnit.typ)
		if outMsg != "" {
			st, msg = client.UnitStateDegraded, outMsg
		}
		if es, _, _ := m.outUnit.unit.State(); es != client.UnitStateStopped && es != client.UnitStateStopping {
			_ = m.outUnit.unit.UpdateState(st, msg, nil)
		}
	}
	qc := queueCounters{blocked: m.queue.Blocked(), failures: m.queue.Failures()}
	blocked := qc.blocked - m.lastQueue.blocked
	m.lastQueue = qc
	for _, iu := range m.units {
		iu.evaluate(outMsg, blocked, m.queue)
	}
}

// queueProblem describes a disk queue that cannot write (a full disk,
// naming its path), or "".
func (m *manager) queueProblem() string {
	st := m.queue.QueueState()
	if e, _ := st["write_error"].(string); e != "" {
		return e
	}
	return ""
}

// outputProblem describes the output failing in the last period, or "".
func (m *manager) outputProblem() string {
	sr, ok := m.out.Current().(output.StatsReporter)
	if !ok {
		if m.out.Current() == nil && len(m.units) > 0 {
			return "no output configured: documents are held in the queue"
		}
		return ""
	}
	s := sr.Stats()
	prev := m.lastOutput
	m.lastOutput = s
	retries, failed := s.Retries-prev.Retries, s.Failed-prev.Failed
	period := m.opts.HealthEvery.Round(time.Second)
	switch {
	case retries > 0 && s.Published == prev.Published:
		return fmt.Sprintf("output failing: %d retries and nothing published in the last %s: %s", retries, period, s.LastError)
	case failed > 0:
		return fmt.Sprintf("output rejected %d documents in the last %s: %s", failed, period, s.LastError)
	case retries > 0:
		return fmt.Sprintf("output retrying: %d retries in the last %s: %s", retries, period, s.LastError)
	}
	return ""
}

func (m *manager) workerExited(ex workerExit) {
	iu := m.units[ex.id]
	if iu == nil || iu.gen != ex.gen {
		return
	}
	iu.exited(ex.err)
}

// shutdown stops every unit, flushes the queue within StopTimeout and
// disconnects. The client's channels are drained throughout.
func (m *manager) shutdown() error {
	m.log.Info("stopping", "units", len(m.units))
	close(m.quit)
	drainDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-m.c.UnitChanges():
			case err := <-m.c.Errors():
				m.logClientError(err)
			case <-drainDone:
				return
			}
		}
	}()
	deadline := time.Now().Add(m.opts.StopTimeout)
	var stopping []*inputUnit
	for _, iu := range m.units {
		_ = iu.unit.UpdateState(client.UnitStateStopping, "Stopping", iu.payload())
		iu.cancelWorker()
		stopping = append(stopping, iu)
	}
	// Workers flush their pending transactions into the queue; a blocked
	// output can hold them in Send, so past the deadline the queue is told
	// to give up, which unblocks them.
	allStopped := make(chan struct{})
	go func() {
		for _, iu := range stopping {
			iu.waitWorker()
		}
		close(allStopped)
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-allStopped:
	case <-timer.C:
		m.log.Warn("stop timeout: dropping queued documents", "queued", m.queue.Depth())
		m.queueStop()
		<-allStopped
	}
	closed := make(chan struct{})
	go func() { m.queue.Close(); close(closed) }()
	select {
	case <-closed:
	case <-timer.C:
		m.log.Warn("stop timeout: dropping queued documents", "queued", m.queue.Depth())
		m.queueStop()
		<-closed
	}
	m.queueStop()
	if err := m.out.Close(); err != nil {
		m.log.Warn("closing output", "error", err)
	}
	for _, iu := range stopping {
		_ = iu.unit.UpdateState(client.UnitStateStopped, "Stopped", iu.payload())
	}
	if m.outUnit != nil {
		_ = m.outUnit.unit.UpdateState(client.UnitStateStopped, "Stopped", nil)
	}
	// Give the client a moment to send the final states, then disconnect.
	time.Sleep(200 * time.Millisecond)
	m.c.Stop()
	close(drainDone)
	wg.Wait()
	m.log.Info("stopped")
	return nil
}

func fingerprint(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "0.1.0"
}

func buildHash() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// agentExtra renders the per-document agent metadata Packetbeat adds under
// Elastic Agent: elastic_agent.{id,version,snapshot}. agent.* is written
// by the capture's hostmeta source, told the agent's identity by SetAgent.
func agentExtra(info *client.AgentInfo) []byte {
	if info == nil || info.ID == "" {
		return nil
	}
	ea, _ := json.Marshal(map[string]any{"id": info.ID, "version": info.Version, "snapshot": info.Snapshot})
	return []byte(`"elastic_agent":` + string(ea))
}

// applyQueue builds the queue the output unit's `queue:` section asks for
// when it changed, and swaps it in off the manager loop (the old queue
// drains first).
func (m *manager) applyQueue(section any) error {
	fp := ""
	if section != nil {
		fp = fingerprint(section)
	}
	if fp == m.queue.fingerprint() {
		return nil
	}
	qc, err := diskqueue.ParseConfig(section, m.opts.QueueSize)
	if err != nil {
		return err
	}
	m.log.Info("queue changed", "queue", section)
	go m.queue.swap(qc, fp, m.out, m.log.With("queue", "disk"))
	return nil
}

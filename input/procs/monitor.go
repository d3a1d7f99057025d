package procs

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// IANA protocol numbers of the transports with socket tables.
const (
	protoTCP = 6
	protoUDP = 17
)

// sockKey identifies a local socket endpoint. addr is never an IPv4-mapped
// IPv6 address (both the tables and the lookups unmap).
type sockKey struct {
	addr  netip.Addr
	port  uint16
	proto uint8
}

var (
	anyV4 = netip.IPv4Unspecified()
	anyV6 = netip.IPv6Unspecified()
)

// Stats are the monitor's counters, for diagnostics.
type Stats struct {
	Lookups    uint64 `json:"lookups"`
	Hits       uint64 `json:"hits"`
	Misses     uint64 `json:"misses"`
	Scans      uint64 `json:"scans"`       // socket table reads
	FullScans  uint64 `json:"full_scans"`  // ... that also walked every /proc/<pid>/fd
	Truncated  uint64 `json:"truncated"`   // sockets left out by MaxEntries
	ScanErrors uint64 `json:"scan_errors"` // unreadable tables (vanished processes are not errors)
	Sockets    int    `json:"sockets"`     // entries in the current table
	Processes  int    `json:"processes"`   // processes cached
}

// Monitor maps local socket endpoints to processes. It is safe for
// concurrent use; one Monitor per host is enough for every capture worker.
//
// The *ecsmap.Process values it returns are shared between events and must
// not be modified.
type Monitor struct {
	cfg Config

	mu       sync.Mutex
	table    map[sockKey]*ecsmap.Process
	tableAt  time.Time // the `now` of the scan that built table
	lastScan time.Time
	scanned  bool // lastScan is meaningful
	scanning bool // a goroutine owns sc and is scanning without mu
	stats    Stats

	sc *scanner // touched only by the goroutine that set scanning

	local   atomic.Pointer[[]netip.Addr]
	localMu sync.Mutex // serialises interface address refreshes
	localAt atomic.Int64
}

// New returns a Monitor. It reads nothing from /proc until the first lookup.
func New(cfg Config) *Monitor {
	cfg = cfg.withDefaults()
	m := &Monitor{
		cfg:   cfg,
		table: map[sockKey]*ecsmap.Process{},
		sc:    newScanner(cfg.ProcRoot, cfg.MaxEntries),
	}
	m.refreshLocal(time.Now())
	return m
}

// Lookup returns the process owning the local socket bound to local for the
// transport (6 TCP, 17 UDP), or nil when it is unknown. A socket bound to the
// wildcard address (0.0.0.0 or ::, including dual-stack listeners) matches
// any local address. now drives the refresh schedule; pass the wall clock.
func (m *Monitor) Lookup(transport uint8, local netip.AddrPort, now time.Time) *ecsmap.Process {
	if (transport != protoTCP && transport != protoUDP) || !local.IsValid() {
		return nil
	}
	key := sockKey{addr: local.Addr().Unmap().WithZone(""), port: local.Port(), proto: transport}

	m.mu.Lock()
	m.stats.Lookups++
	p := find(m.table, key)
	if (p != nil && !elapsed(now, m.tableAt, m.cfg.MaxAge)) || !m.mayScan(now) {
		m.count(p)
		m.mu.Unlock()
		return p
	}
	m.scanning = true
	m.scanned = true
	m.lastScan = now
	m.mu.Unlock()

	table := m.rescan(key, now)

	m.mu.Lock()
	p = find(table, key)
	m.count(p)
	m.mu.Unlock()
	return p
}

// rescan runs a scan without holding mu and installs its table. The
// parsers are fuzzed, but /proc is the kernel's to change: should a scan
// panic anyway, the old table stays, the error is counted and capture goes
// on rather than the agent crashing over an enrichment.
func (m *Monitor) rescan(want sockKey, now time.Time) (table map[sockKey]*ecsmap.Process) {
	var res scanResult
	defer func() {
		failed := recover() != nil
		m.mu.Lock()
		defer m.mu.Unlock()
		m.scanning = false
		if failed || res.table == nil {
			m.stats.ScanErrors++
			m.sc = newScanner(m.cfg.ProcRoot, m.cfg.MaxEntries) // state may be half-updated
			table = m.table
			return
		}
		m.sc.spare = m.table // no reader keeps the old map past mu
		m.table, m.tableAt = res.table, now
		m.stats.Scans++
		if res.full {
			m.stats.FullScans++
		}
		m.stats.Truncated += uint64(res.truncated)
		m.stats.ScanErrors += uint64(res.errors)
		m.stats.Sockets = len(res.table)
		m.stats.Processes = res.processes
		table = res.table
	}()
	res = m.sc.scan(want)
	return nil
}

func (m *Monitor) count(p *ecsmap.Process) {
	if p != nil {
		m.stats.Hits++
	} else {
		m.stats.Misses++
	}
}

// mayScan says whether a scan may start now (mu held).
func (m *Monitor) mayScan(now time.Time) bool {
	if m.scanning {
		return false
	}
	return !m.scanned || elapsed(now, m.lastScan, m.cfg.RefreshEvery)
}

// elapsed reports whether at least d separates now and then. A clock that
// went backwards by d or more (a replay) also counts, so that the schedule
// cannot freeze.
func elapsed(now, then time.Time, d time.Duration) bool {
	dt := now.Sub(then)
	return dt >= d || dt <= -d
}

// find looks key up, then the wildcard binds that would receive its traffic.
func find(table map[sockKey]*ecsmap.Process, key sockKey) *ecsmap.Process {
	if p := table[key]; p != nil {
		return p
	}
	if key.addr.Is4() {
		key.addr = anyV4
		if p := table[key]; p != nil {
			return p
		}
	}
	// A socket on [::] without IPV6_V6ONLY (the Linux default, and what Go
	// and Java listeners do) also receives IPv4.
	key.addr = anyV6
	return table[key]
}

// Enrich sets b.Source.Process and b.Destination.Process for the endpoints
// that are addresses of this host (loopback, the interfaces' addresses and
// Config.LocalAddrs) and whose process is found. Endpoints that already have
// a process are left alone.
//
// Call it while the connection is still open (when a transaction's first
// message is parsed, say): a closed socket leaves the tables, and one in
// TIME_WAIT has no owner, so short-lived connections enriched at publish time
// may find nothing.
func (m *Monitor) Enrich(b *ecsmap.Base, now time.Time) {
	proto := b.IPProtocol
	if proto == 0 {
		switch b.Transport {
		case "tcp":
			proto = protoTCP
		case "udp":
			proto = protoUDP
		}
	}
	if proto != protoTCP && proto != protoUDP {
		return
	}
	if now.UnixNano()-m.localAt.Load() >= int64(localRefresh) {
		m.refreshLocal(now)
	}
	for _, ep := range [2]*ecsmap.Endpoint{&b.Source, &b.Destination} {
		if ep.Process != nil || ep.Port == 0 || !m.IsLocal(ep.IP) {
			continue
		}
		if p := m.Lookup(proto, netip.AddrPortFrom(ep.IP, ep.Port), now); p != nil {
			ep.Process = p
		}
	}
}

// IsLocal reports whether ip is one of this host's addresses.
func (m *Monitor) IsLocal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	ip = ip.WithZone("")
	for _, a := range *m.local.Load() {
		if a == ip {
			return true
		}
	}
	return false
}

// refreshLocal re-reads the interface addresses. Errors leave the configured
// ones (loopback needs no list).
func (m *Monitor) refreshLocal(now time.Time) {
	if !m.localMu.TryLock() {
		return // someone else is refreshing
	}
	defer m.localMu.Unlock()
	m.localAt.Store(now.UnixNano())
	addrs := make([]netip.Addr, 0, len(m.cfg.LocalAddrs)+8)
	for _, a := range m.cfg.LocalAddrs {
		addrs = append(addrs, a.Unmap().WithZone(""))
	}
	if ifAddrs, err := net.InterfaceAddrs(); err == nil {
		for _, ia := range ifAddrs {
			if n, ok := ia.(*net.IPNet); ok {
				if a, ok := netip.AddrFromSlice(n.IP); ok {
					a = a.Unmap()
					if !a.IsLoopback() && !slices.Contains(addrs, a) {
						addrs = append(addrs, a)
					}
				}
			}
		}
	}
	m.local.Store(&addrs)
}

// Stats returns a snapshot of the counters.
func (m *Monitor) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

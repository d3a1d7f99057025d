// Package hostmeta knows who is capturing: this host's addresses (for
// network.direction and ignore_outgoing) and the agent.* and host.* members
// every document carries, as Packetbeat writes them.
//
// Everything is gathered off the packet path, by one goroutine per process
// that re-reads the interfaces every RefreshInterval, and handed to
// publishers as an immutable Snapshot behind an atomic pointer: a publisher
// loads it per event (one atomic load) and re-renders its document prefix
// only when the pointer changed, which it does only when something changed.
package hostmeta

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/network-traffic/network-traffic/input/processors"
)

// RefreshInterval is how often the interfaces are read again (Packetbeat
// reads them once; a host gaining an address is common under DHCP and
// containers).
const RefreshInterval = 10 * time.Second

// Addrs is an immutable set of addresses.
type Addrs struct{ m map[netip.Addr]struct{} }

// NewAddrs makes a set; IPv4-mapped IPv6 addresses are stored unmapped.
func NewAddrs(ips []netip.Addr) *Addrs {
	a := &Addrs{m: make(map[netip.Addr]struct{}, len(ips))}
	for _, ip := range ips {
		a.m[ip.Unmap().WithZone("")] = struct{}{}
	}
	return a
}

// ParseAddrs reads a list of IP addresses (the local_ips option).
func ParseAddrs(list []string) (*Addrs, error) {
	ips := make([]netip.Addr, 0, len(list))
	for _, s := range list {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address", s)
		}
		ips = append(ips, ip)
	}
	return NewAddrs(ips), nil
}

// Contains reports whether ip is in the set (false for a nil set).
func (a *Addrs) Contains(ip netip.Addr) bool {
	if a == nil {
		return false
	}
	_, ok := a.m[ip.Unmap().WithZone("")]
	return ok
}

// Len is the number of addresses.
func (a *Addrs) Len() int {
	if a == nil {
		return 0
	}
	return len(a.m)
}

// Direction is Packetbeat's host-based network.direction: ingress when the
// destination is one of the host's addresses (tested first, so traffic
// between two local addresses is ingress: this host serves it), egress
// when the source is, "" (unknown) otherwise.
func Direction(local *Addrs, src, dst netip.Addr) string {
	switch {
	case local == nil || !src.IsValid() || !dst.IsValid():
		return ""
	case local.Contains(dst):
		return "ingress"
	case local.Contains(src):
		return "egress"
	}
	return ""
}

// Snapshot is one reading of the host. It is never modified once
// published.
type Snapshot struct {
	// Addrs are every address of every interface, loopback included.
	Addrs *Addrs
	// Doc is the pre-encoded members `"agent":{...},"host":{...}` added to
	// every document (no braces, no leading comma).
	Doc []byte
	// AgentDoc is the agent member alone, for streams tagged "forwarded":
	// their traffic is another host's, so this host is not host.* (Fleet's
	// templates give such streams add_observer_metadata instead of
	// add_host_metadata, and the package's pipeline removes host).
	AgentDoc []byte
}

// Agent is who we are under Elastic Agent (AgentInfo); zero standalone.
type Agent struct {
	ID, Version string
}

// Source hands out the current snapshot.
type Source struct {
	cur atomic.Pointer[Snapshot]

	mu        sync.Mutex
	agent     Agent
	ephemeral string
	version   string
	started   bool
	stop      chan struct{}
}

// Current is the snapshot in force (never nil once the source is made).
func (s *Source) Current() *Snapshot { return s.cur.Load() }

var (
	defaultOnce sync.Once
	defaultSrc  *Source
	// Version is agent.version standalone (set by main from the build).
	Version = "0.1.0"
)

// Default is the process's source, reading this host and refreshed every
// RefreshInterval from the first call on.
func Default() *Source {
	defaultOnce.Do(func() {
		defaultSrc = &Source{ephemeral: newUUID(), version: Version, stop: make(chan struct{})}
		defaultSrc.Refresh()
		go defaultSrc.loop()
	})
	return defaultSrc
}

// Fixed is a source that never changes: addrs and a rendered doc as given
// (sample events, tests).
func Fixed(addrs []netip.Addr, doc map[string]any) *Source {
	s := &Source{}
	s.cur.Store(&Snapshot{Addrs: NewAddrs(addrs), Doc: render(doc)})
	return s
}

// SetAgent records the agent's identity (agent.id and agent.version as
// Elastic Agent reports them) and re-renders the snapshot.
func (s *Source) SetAgent(a Agent) {
	s.mu.Lock()
	s.agent = a
	s.mu.Unlock()
	s.Refresh()
}

func (s *Source) loop() {
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.Refresh()
		case <-s.stop:
			return
		}
	}
}

// Refresh reads the host again and swaps the snapshot if anything changed.
func (s *Source) Refresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := readAddrs()
	host := processors.HostFields()
	host["containerized"] = containerized()
	agent := map[string]any{"type": "packetbeat", "version": s.version, "ephemeral_id": s.ephemeral}
	if name, _ := host["name"].(string); name != "" {
		agent["name"] = name // Packetbeat's default name is the hostname
	}
	if s.agent.ID != "" {
		agent["id"] = s.agent.ID
		if s.agent.Version != "" {
			agent["version"] = s.agent.Version
		}
	} else {
		agent["id"] = standaloneID(host)
	}
	doc := render(map[string]any{"agent": agent, "host": host})
	if old := s.cur.Load(); old != nil && bytes.Equal(old.Doc, doc) && sameAddrs(old.Addrs, addrs) {
		return
	}
	s.cur.Store(&Snapshot{Addrs: addrs, Doc: doc, AgentDoc: render(map[string]any{"agent": agent})})
}

// render encodes the members of m in key order without the outer braces.
func render(m map[string]any) []byte {
	b, err := json.Marshal(m)
	if err != nil || len(b) < 2 {
		return nil
	}
	return b[1 : len(b)-1]
}

func sameAddrs(a, b *Addrs) bool {
	if a.Len() != b.Len() {
		return false
	}
	for ip := range b.m {
		if !a.Contains(ip) {
			return false
		}
	}
	return true
}

func readAddrs() *Addrs {
	var ips []netip.Addr
	if as, err := net.InterfaceAddrs(); err == nil {
		for _, a := range as {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
					ips = append(ips, ip)
				}
			}
		}
	}
	return NewAddrs(ips)
}

// standaloneID is agent.id without Elastic Agent: Packetbeat persists a
// random UUID in its data directory; we have none, so derive a stable one
// from the machine id (the same across runs on one host), or a random one.
func standaloneID(host map[string]any) string {
	id, _ := host["id"].(string)
	if id == "" {
		return newUUID()
	}
	sum := sha256.Sum256([]byte("network-traffic agent.id " + id))
	return formatUUID(sum[:16])
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return formatUUID(b[:])
}

// formatUUID writes 16 bytes as a version 4 (random) UUID.
func formatUUID(b []byte) string {
	u := append([]byte(nil), b[:16]...)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// containerized says whether we run in a container, as add_host_metadata
// tells it: a container runtime's marker file or PID 1 in a container's
// cgroup.
func containerized() bool {
	for _, p := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	b, err := os.ReadFile("/proc/1/cgroup")
	if err != nil {
		return false
	}
	s := string(b)
	for _, k := range []string{"docker", "kubepods", "lxc", "containerd", "libpod"} {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"

	"github.com/network-traffic/network-traffic/input/config"
)

// Device names as Packetbeat takes them: "any", an interface name, the
// index of an interface in the `network-traffic devices` list, or
// default_route / default_route_ipv4 / default_route_ipv6 for the
// interface of the default route.
const (
	devDefaultRoute   = "default_route"
	devDefaultRoute4  = "default_route_ipv4"
	devDefaultRoute6  = "default_route_ipv6"
	procRoute         = "/proc/thread-self/net/route"
	procIPv6Route     = "/proc/thread-self/net/ipv6_route"
	rtfUp, rtfReject  = 0x0001, 0x0200
	defaultRouteNames = devDefaultRoute + ", " + devDefaultRoute4 + ", " + devDefaultRoute6
)

func isDefaultRoute(dev string) bool {
	return dev == devDefaultRoute || dev == devDefaultRoute4 || dev == devDefaultRoute6
}

// resolveDevice turns a configured device into the name of an interface.
func resolveDevice(dev string) (string, error) {
	switch {
	case dev == "" || dev == "any":
		return "any", nil
	case isDefaultRoute(dev):
		return defaultRouteDevice(dev)
	}
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return "", fmt.Errorf("list interfaces: %w", err)
	}
	names := make([]string, 0, len(devs))
	for _, d := range devs {
		if d.Name == dev {
			return dev, nil
		}
		names = append(names, d.Name)
	}
	if n, err := strconv.Atoi(dev); err == nil {
		if n >= 0 && n < len(devs) {
			return devs[n].Name, nil
		}
		return "", fmt.Errorf("interface index %d is not in the device list (0 to %d: see 'network-traffic devices')", n, len(devs)-1)
	}
	return "", fmt.Errorf("unknown interface %q (available: %s, or any, %s)", dev, strings.Join(names, ", "), defaultRouteNames)
}

// defaultRouteDevice is the interface of the default route with the lowest
// metric: IPv4 first for default_route, then IPv6.
func defaultRouteDevice(dev string) (string, error) {
	if dev != devDefaultRoute6 {
		if name, ok := defaultRoute4(); ok {
			return name, nil
		}
	}
	if dev != devDefaultRoute4 {
		if name, ok := defaultRoute6(); ok {
			return name, nil
		}
	}
	return "", fmt.Errorf("interface %s: no default route", dev)
}

func defaultRoute4() (string, bool) {
	f, err := os.Open(procRoute)
	if err != nil {
		return "", false
	}
	defer f.Close()
	return parseRoute4(f)
}

func defaultRoute6() (string, bool) {
	f, err := os.Open(procIPv6Route)
	if err != nil {
		return "", false
	}
	defer f.Close()
	return parseRoute6(f)
}

// parseRoute4 finds the interface of the usable default route with the
// lowest metric in /proc/net/route.
func parseRoute4(r io.Reader) (string, bool) {
	best, bestMetric := "", uint64(1<<63)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// Iface Destination Gateway Flags RefCnt Use Metric Mask ...
		fl := strings.Fields(sc.Text())
		if len(fl) < 8 || fl[1] != "00000000" || fl[7] != "00000000" {
			continue
		}
		flags, err1 := strconv.ParseUint(fl[3], 16, 32)
		metric, err2 := strconv.ParseUint(fl[6], 10, 32)
		if err1 != nil || err2 != nil || flags&rtfUp == 0 || flags&rtfReject != 0 {
			continue
		}
		if metric < bestMetric {
			best, bestMetric = fl[0], metric
		}
	}
	return best, best != ""
}

// parseRoute6 is parseRoute4 for /proc/net/ipv6_route (loopback routes
// left out: the kernel lists unreachable defaults on lo).
func parseRoute6(r io.Reader) (string, bool) {
	best, bestMetric := "", uint64(1<<63)
	zero := strings.Repeat("0", 32)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// dest plen src splen nexthop metric refcnt use flags dev
		fl := strings.Fields(sc.Text())
		if len(fl) < 10 || fl[0] != zero || fl[1] != "00" || fl[9] == "lo" {
			continue
		}
		metric, err1 := strconv.ParseUint(fl[5], 16, 32)
		flags, err2 := strconv.ParseUint(fl[8], 16, 32)
		if err1 != nil || err2 != nil || flags&rtfUp == 0 || flags&rtfReject != 0 {
			continue
		}
		if metric < bestMetric {
			best, bestMetric = fl[9], metric
		}
	}
	return best, best != ""
}

// errDisappeared marks the read error of a capture whose interface was
// removed.
var errDisappeared = errors.New("disappeared during the capture")

// routeSource keeps a live capture on the interface a resolver names: the
// default route's (poll_default_route), or a fixed interface that may
// disappear and come back. A goroutine asks the resolver every interval;
// when the answer changed, or the interface is back after it disappeared,
// the next read opens the capture there, keeping the counters of the old
// one. Until then reads time out and the ring state says why.
type routeSource struct {
	want    string // as configured: default_route, ..., or the interface name
	open    func(dev string) (Source, error)
	resolve func() (string, error)
	lost    atomic.Bool // the interface disappeared: reopen when it is back
	cur     Source
	curDev  string
	filter  string
	dirIn   bool
	// linkType is fixed by the first call of LinkType.
	linkType layers.LinkType

	// names gets the interface captured now at nameIdx (the name events
	// carry), nil when they carry none.
	names   *ifaceNames
	nameIdx int

	moved   atomic.Pointer[string] // the new interface, set by the poller
	stop    chan struct{}
	lastErr atomic.Pointer[string]

	// counters of the captures closed so far
	recv, drop, ifDrop uint64
}

// newRouteSource opens dev, the interface of the default route now, or,
// when there is none (noRoute), waits for one: until then reads time out,
// the link type is taken to be Ethernet and the ring state says why.
func newRouteSource(want, dev string, noRoute error, every time.Duration, filter string, open func(string) (Source, error), resolve func() (string, error)) (*routeSource, error) {
	s := &routeSource{want: want, open: open, resolve: resolve, filter: filter, stop: make(chan struct{})}
	if noRoute != nil {
		msg := noRoute.Error() + ": waiting for one"
		s.lastErr.Store(&msg)
	} else {
		src, err := open(dev)
		if err != nil {
			return nil, err
		}
		s.cur, s.curDev = src, dev
	}
	go s.poll(every)
	return s, nil
}

func (s *routeSource) poll(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := s.curDev
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		dev, err := s.resolve()
		if err != nil || (dev == last && !s.lost.Load()) {
			continue
		}
		last = dev
		s.lost.Store(false)
		s.moved.Store(&dev)
	}
}

// Next reads the current capture; after a route change it moves first.
func (s *routeSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	if p := s.moved.Load(); p != nil && s.moved.CompareAndSwap(p, nil) {
		if err := s.move(*p); err != nil {
			msg := err.Error()
			s.lastErr.Store(&msg)
		}
	}
	if s.cur == nil {
		time.Sleep(liveTimeout)
		return nil, gopacket.CaptureInfo{}, ErrTimeout
	}
	data, ci, err := s.cur.Next()
	if err != nil && errors.Is(err, errDisappeared) {
		// Keep the counters, drop the socket, wait for the interface.
		if r, d, i, ok := s.cur.PcapStats(); ok {
			s.recv, s.drop, s.ifDrop = s.recv+r, s.drop+d, s.ifDrop+i
		}
		s.cur.Close()
		s.cur = nil
		msg := err.Error() + "; waiting for it to come back"
		s.lastErr.Store(&msg)
		s.lost.Store(true)
		return nil, ci, ErrTimeout
	}
	return data, ci, err
}

func (s *routeSource) move(dev string) error {
	src, err := s.open(dev)
	if err != nil {
		if s.cur == nil {
			if dev == s.want {
				return err // the interface is back but cannot be opened
			}
			return fmt.Errorf("%s is %s: %w", s.want, dev, err)
		}
		return fmt.Errorf("%s moved to %s: %w (still capturing on %s)", s.want, dev, err, s.curDev)
	}
	if src.LinkType() != s.LinkType() {
		src.Close()
		return fmt.Errorf("%s moved to %s, whose link type %s differs from %s: restart the capture", s.want, dev, src.LinkType(), s.LinkType())
	}
	// The filter in force now (a reconfiguration may have changed it).
	if fs, ok := src.(interface{ SetFilter(string) error }); ok {
		if err := fs.SetFilter(s.filter); err != nil {
			src.Close()
			return err
		}
	}
	if s.dirIn {
		if err := SetDirectionIn(src); err != nil {
			src.Close()
			return err
		}
	}
	if s.cur != nil {
		if r, d, i, ok := s.cur.PcapStats(); ok {
			s.recv, s.drop, s.ifDrop = s.recv+r, s.drop+d, s.ifDrop+i
		}
		s.cur.Close()
	}
	s.cur, s.curDev = src, dev
	s.lastErr.Store(nil)
	if s.names != nil {
		s.names.set(s.nameIdx, dev)
	}
	return nil
}

func (s *routeSource) interfaceNames() *ifaceNames {
	if s.nameIdx != 0 {
		return nil // one of several: the capture's names are the multiSource's
	}
	return s.names
}

// Device is the interface captured now.
func (s *routeSource) Device() string { return s.curDev }

func (s *routeSource) SetFilter(f string) error {
	if fs, ok := s.cur.(interface{ SetFilter(string) error }); ok && s.cur != nil {
		if err := fs.SetFilter(f); err != nil {
			return err
		}
	}
	s.filter = f
	return nil
}

// LinkType is that of the first capture (Ethernet while waiting for a
// route): the decoder is built for it, so a move keeps it.
func (s *routeSource) LinkType() layers.LinkType {
	if s.linkType == 0 {
		s.linkType = layers.LinkTypeEthernet
		if s.cur != nil {
			s.linkType = s.cur.LinkType()
		}
	}
	return s.linkType
}

func (s *routeSource) PcapStats() (uint64, uint64, uint64, bool) {
	if s.cur == nil {
		return s.recv, s.drop, s.ifDrop, true
	}
	r, d, i, ok := s.cur.PcapStats()
	return s.recv + r, s.drop + d, s.ifDrop + i, ok
}

func (s *routeSource) Ring() *RingInfo {
	var ri *RingInfo
	if rs, ok := s.cur.(ringReporter); ok && s.cur != nil {
		ri = rs.Ring()
	} else {
		ri = &RingInfo{Device: s.curDev}
	}
	if p := s.lastErr.Load(); p != nil {
		ri.State = *p
	}
	return ri
}

func (s *routeSource) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	if s.cur != nil {
		s.cur.Close()
	}
}

// ringReporter is a live source that can describe its kernel ring.
type ringReporter interface {
	Ring() *RingInfo
}

// setMember is one interface of a device set: named says it was given by
// name (or index, or default_route), so it is waited for when it
// disappears; an interface a pattern matched is let go instead, and taken
// again if it comes back (see multiSource).
type setMember struct {
	dev   string
	named bool
}

// errNoInterface is the error of a device set that selects nothing.
var errNoInterface = errors.New("selects no interface")

// resolveDeviceSet turns a device list (names, indexes, default_route
// names, glob patterns over the host's interfaces) less exclude_devices into
// the interfaces to capture, in the order given, each once. A default_route
// entry followed by poll_default_route stays as it is (its capture moves
// with the route). An empty set is an errNoInterface naming what was asked.
func resolveDeviceSet(iface config.Interface) ([]setMember, error) {
	var out []setMember
	seen := map[string]bool{}
	add := func(dev string, named bool) {
		if !seen[dev] && !excludedDevice(iface, dev) {
			seen[dev] = true
			out = append(out, setMember{dev, named})
		}
	}
	links, up := interfaceNames()
	for _, e := range iface.SelectEntries() {
		switch {
		case config.IsDevicePattern(e):
			for _, l := range matchPattern(e, links) {
				if up[l] {
					add(l, false)
				}
			}
		case isDefaultRoute(e) && iface.PollDefaultRoute > 0:
			if dev, err := defaultRouteDevice(e); err == nil && excludedDevice(iface, dev) {
				continue
			}
			add(e, true)
		default:
			dev, err := resolveDevice(e)
			if err != nil {
				return nil, fmt.Errorf("device %s: %w", iface.Device, err)
			}
			if dev == "any" {
				return nil, fmt.Errorf("device %s: any cannot be one of several devices", iface.Device)
			}
			add(dev, true)
		}
	}
	if len(out) == 0 {
		msg := ""
		if len(iface.ExcludeDevices) > 0 {
			msg = " once exclude_devices " + strings.Join(iface.ExcludeDevices, ",") + " are taken out"
		}
		return nil, fmt.Errorf("device %s %w%s (interfaces: %s)", iface.Device, errNoInterface, msg, strings.Join(links, ", "))
	}
	return out, nil
}

// patternMembers are the interfaces the patterns of a device set match now,
// less exclude_devices (what a capture that follows its patterns adds).
// An interface that is down is left out until it is up: it carries no
// traffic, and libpcap refuses to open it ("That device is not up"), so
// it would otherwise fail the capture or hold the unit DEGRADED, where
// device any would simply see nothing from it.
func patternMembers(iface config.Interface) []string {
	var out []string
	seen := map[string]bool{}
	links, up := interfaceNames()
	for _, e := range iface.SelectEntries() {
		if !config.IsDevicePattern(e) {
			continue
		}
		for _, l := range matchPattern(e, links) {
			if !seen[l] && !excludedDevice(iface, l) && up[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// interfaceNames lists the host's interfaces, and which of them are up.
// Patterns select among them (net.Interfaces, not libpcap's list, whose
// pseudo-devices such as any, nflog or dbus-system are no interfaces).
func interfaceNames() (links []string, up map[string]bool) {
	up = map[string]bool{}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			links = append(links, i.Name)
			up[i.Name] = i.Flags&net.FlagUp != 0
		}
	}
	return links, up
}

func matchPattern(pattern string, links []string) []string {
	var out []string
	for _, l := range links {
		if ok, _ := path.Match(pattern, l); ok {
			out = append(out, l)
		}
	}
	return out
}

func excludedDevice(iface config.Interface, dev string) bool {
	for _, x := range iface.ExcludeDevices {
		if ok, _ := path.Match(x, dev); ok || x == dev {
			return true
		}
	}
	return false
}

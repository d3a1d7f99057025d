//go:build linux

package procs

import (
	"bufio"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// These tests use the real /proc: sockets opened here must be found with
// this process's pid, name, args, executable and cwd; sockets of spawned
// children with theirs.

func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	p, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkSelf asserts that p describes this test process.
func checkSelf(t *testing.T, what string, p *ecsmap.Process) {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: not found", what)
	}
	exe, _ := os.Executable()
	wd, _ := os.Getwd()
	if p.PID != int64(os.Getpid()) || p.PPID != int64(os.Getppid()) {
		t.Fatalf("%s: pid %d ppid %d, want %d %d", what, p.PID, p.PPID, os.Getpid(), os.Getppid())
	}
	// The kernel's comm is the exec'd file name cut to 15 bytes; the name
	// is the full one either way.
	if want := filepath.Base(os.Args[0]); p.Name != want {
		t.Errorf("%s: name %q want %q", what, p.Name, want)
	}
	if p.Executable != exe || !slices.Equal(p.Args, os.Args) || p.WorkingDir != wd {
		t.Errorf("%s: exe %q args %q cwd %q; want %q %q %q", what, p.Executable, p.Args, p.WorkingDir, exe, os.Args, wd)
	}
	if p.Start.IsZero() || p.Start.After(time.Now().Add(2*time.Second)) || p.Start.Before(time.Now().Add(-time.Hour)) {
		t.Errorf("%s: start %v", what, p.Start)
	}
}

func TestLiveOwnSockets(t *testing.T) {
	m := New(Config{RefreshEvery: time.Millisecond})
	now := time.Now()

	ln := listen(t, "tcp4", "127.0.0.1:0")
	checkSelf(t, "tcp listener", m.Lookup(6, addrPort(t, ln.Addr()), now))

	// Both ends of a connection to it, after the next scan.
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now = now.Add(time.Second)
	checkSelf(t, "tcp client end", m.Lookup(6, addrPort(t, c.LocalAddr()), now))
	checkSelf(t, "tcp accepted end", m.Lookup(6, addrPort(t, s.LocalAddr()), now))
	if p := m.Lookup(17, addrPort(t, c.LocalAddr()), now); p != nil {
		t.Errorf("tcp port found as udp: pid %d", p.PID)
	}

	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	now = now.Add(time.Second)
	checkSelf(t, "udp socket", m.Lookup(17, addrPort(t, u.LocalAddr()), now))

	// A wildcard UDP socket answers for any local address.
	uw, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer uw.Close()
	port := uint16(uw.LocalAddr().(*net.UDPAddr).Port)
	now = now.Add(time.Second)
	checkSelf(t, "udp wildcard via 127.0.0.2", m.Lookup(17, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port), now))
	for _, a := range *m.local.Load() {
		if a.Is4() {
			checkSelf(t, "udp wildcard via "+a.String(), m.Lookup(17, netip.AddrPortFrom(a, port), now))
		}
	}
}

func TestLiveIPv6AndDualStack(t *testing.T) {
	m := New(Config{RefreshEvery: time.Millisecond})
	now := time.Now()
	ln6 := listen(t, "tcp6", "[::1]:0")
	checkSelf(t, "tcp [::1]", m.Lookup(6, addrPort(t, ln6.Addr()), now))

	// Go's ":0" listener is one dual-stack [::] socket (in tcp6 only); IPv4
	// traffic to it must still find us.
	ln := listen(t, "tcp", ":0")
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	now = now.Add(time.Second)
	checkSelf(t, "dual-stack via 127.0.0.1", m.Lookup(6, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), now))
	// An IPv4 client connected to it: its accepted end is listed as
	// ::ffff:127.0.0.1 in tcp6 and must be found under 127.0.0.1.
	c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.LocalAddr().String(); got != net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))) {
		t.Logf("accepted local address %s", got)
	}
	now = now.Add(time.Second)
	checkSelf(t, "mapped accepted end", m.Lookup(6, netip.MustParseAddrPort(s.LocalAddr().String()), now))
}

// startChild runs cmd and waits for a line of its stdout matching re.
func startChild(t *testing.T, cmd *exec.Cmd, re *regexp.Regexp) []string {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Skipf("%s: %v", cmd.Path, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				lines <- m
				break
			}
		}
		for sc.Scan() { // keep draining
		}
	}()
	select {
	case m := <-lines:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not start", cmd.Args)
	}
	return nil
}

func TestLiveChildHTTPServer(t *testing.T) {
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip(err)
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1")
	cmd.Dir = dir
	before := time.Now()
	m0 := startChild(t, cmd, regexp.MustCompile(`port (\d+)`))
	after := time.Now()
	port, _ := strconv.Atoi(m0[1])
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))

	c, err := net.Dial("tcp4", server.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client := addrPort(t, c.LocalAddr())

	mon := New(Config{})
	b := &ecsmap.Base{
		Start: time.Now(), Type: "http", Transport: "tcp", IPProtocol: 6, NetworkType: "ipv4",
		Source:       ecsmap.Endpoint{IP: client.Addr(), Port: client.Port()},
		Destination:  ecsmap.Endpoint{IP: server.Addr(), Port: server.Port()},
		ClientServer: true,
	}
	mon.Enrich(b, time.Now())
	checkSelf(t, "client end", b.Source.Process)
	p := b.Destination.Process
	if p == nil {
		t.Fatal("server end not found")
	}
	exe, _ := filepath.EvalSymlinks(py)
	if p.PID != int64(cmd.Process.Pid) || p.PPID != int64(os.Getpid()) || p.Name != "python3" ||
		p.Executable != exe || !slices.Equal(p.Args, cmd.Args) || p.WorkingDir != dir {
		t.Errorf("server process %+v\nwant pid %d ppid %d python3 %s %q %s", *p, cmd.Process.Pid, os.Getpid(), exe, cmd.Args, dir)
	}
	// btime has a 1s resolution and the start ticks 10ms.
	if p.Start.Before(before.Add(-2*time.Second)) || p.Start.After(after.Add(2*time.Second)) {
		t.Errorf("start %v, child started between %v and %v", p.Start, before, after)
	}

	// The document carries it where Packetbeat puts it.
	var w ecsmap.Writer
	doc := ecsmap.Encode(&w, testEvent{b}, &ecsmap.Meta{})
	var got struct {
		Source, Destination, Client, Server struct {
			Process struct {
				PID        int64     `json:"pid"`
				PPID       int64     `json:"ppid"`
				Name       string    `json:"name"`
				Executable string    `json:"executable"`
				Args       []string  `json:"args"`
				WorkingDir string    `json:"working_directory"`
				Start      time.Time `json:"start"`
			} `json:"process"`
		}
	}
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	if got.Server.Process.PID != p.PID || got.Destination.Process.PID != p.PID ||
		got.Server.Process.Name != "python3" || got.Server.Process.Executable != exe ||
		!slices.Equal(got.Server.Process.Args, cmd.Args) || got.Server.Process.WorkingDir != dir ||
		!got.Server.Process.Start.Equal(p.Start) || got.Server.Process.PPID != int64(os.Getpid()) {
		t.Errorf("server.process in %s", doc)
	}
	if got.Client.Process.PID != int64(os.Getpid()) || got.Source.Process.PID != int64(os.Getpid()) {
		t.Errorf("client.process in %s", doc)
	}

	// The server exits: once the answer is stale, the rescan drops it.
	cmd.Process.Kill()
	cmd.Wait()
	c.Close()
	if p := mon.Lookup(6, server, time.Now().Add(11*time.Second)); p != nil {
		t.Errorf("exited server still found: %+v", p)
	}
}

func TestLiveChildUDPTakeover(t *testing.T) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		t.Skip(err)
	}
	// A free UDP port (tiny race with other tests; a failure shows as a skip).
	probe, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(probe.LocalAddr().(*net.UDPAddr).Port)
	probe.Close()
	local := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)

	start := func() *exec.Cmd {
		cmd := exec.Command(socat, "-d", "-d", "-u", "UDP4-RECV:"+strconv.Itoa(int(port))+",bind=127.0.0.1,reuseaddr", "OPEN:/dev/null")
		startChild(t, cmd, regexp.MustCompile(`starting data transfer|listening on`))
		return cmd
	}
	m := New(Config{RefreshEvery: 10 * time.Millisecond})
	now := time.Now()
	waitFor := func(cmd *exec.Cmd) *ecsmap.Process {
		t.Helper()
		for range 300 {
			now = now.Add(11 * time.Second) // every lookup is stale: rescan
			if p := m.Lookup(17, local, now); p != nil && p.PID == int64(cmd.Process.Pid) {
				return p
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("socat pid %d never found on %v", cmd.Process.Pid, local)
		return nil
	}
	first := start()
	p := waitFor(first)
	if p.Name != "socat" || p.Executable != socat || !slices.Equal(p.Args, first.Args) {
		t.Errorf("socat: %+v", *p)
	}
	first.Process.Kill()
	first.Wait()
	second := start()
	if p2 := waitFor(second); p2 == p || p2.PID == p.PID {
		t.Errorf("takeover not noticed: %+v", *p2)
	}
}

type testEvent struct{ b *ecsmap.Base }

func (e testEvent) EventBase() *ecsmap.Base    { return e.b }
func (e testEvent) WriteFields(*ecsmap.Writer) {}

// BenchmarkScanLive measures one full scan of this machine's /proc (tables
// plus every fd walk plus process reads) — the cost a miss pays at most once
// per RefreshEvery.
func BenchmarkScanLive(b *testing.B) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	key := netip.MustParseAddrPort(ln.Addr().String())
	want := sockKey{addr: key.Addr(), port: key.Port(), proto: 6}
	s := newScanner("/proc", defaultMaxEntries)
	b.ReportAllocs()
	for b.Loop() {
		clear(s.inodePID) // force the walk
		res := s.scan(want)
		if res.table[want] == nil {
			b.Fatal("own listener not found")
		}
		s.spare = res.table
	}
}

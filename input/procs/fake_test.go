package procs

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// The fake tree is made by testdata/mkfakeproc.sh; its comments say what
// each socket and process stands for.
const fakeRoot = "testdata/proc"

var fakeBoot = time.Unix(1700000000, 0).UTC()

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestFakeLookups(t *testing.T) {
	m := New(Config{ProcRoot: fakeRoot, LocalAddrs: []netip.Addr{netip.MustParseAddr("10.1.2.3")}})
	now := time.Now()
	cases := []struct {
		name  string
		proto uint8
		local string
		pid   int64 // 0 = not found
	}{
		{"accepted connection: exact, the worker", 6, "10.1.2.3:80", 101},
		{"other address: the 0.0.0.0 listener, the master (pid order)", 6, "192.168.7.7:80", 100},
		{"mapped v4 socket found by its v4 address", 6, "127.0.0.1:8080", 200},
		{"mapped form of the lookup address", 6, "[::ffff:127.0.0.1]:8080", 200},
		{"v6 loopback", 6, "[::1]:9000", 200},
		{"[::] listener, v6 address", 6, "[2001:db8::7]:443", 100},
		{"[::] listener is dual-stack, v4 address", 6, "10.1.2.3:443", 100},
		{"udp 0.0.0.0:53", 17, "10.1.2.3:53", 300},
		{"udp v6 exact", 17, "[2001:db8::1]:5353", 300},
		{"zone ignored", 17, "[2001:db8::1%eth0]:5353", 300},
		{"owner vanished (no stat)", 17, "10.1.2.3:5000", 0},
		{"socket nobody holds", 6, "10.1.2.3:8000", 0},
		{"malformed line not used", 6, "10.1.2.3:81", 0},
		{"bad-hex line not used", 6, "10.1.2.3:82", 0},
		{"TCP port asked as UDP", 17, "10.1.2.3:80", 0},
		{"UDP port asked as TCP", 6, "10.1.2.3:53", 0},
		{"not TCP/UDP", 1, "10.1.2.3:80", 0},
		{"nothing on that port", 6, "10.1.2.3:1", 0},
	}
	for _, c := range cases {
		p := m.Lookup(c.proto, ap(c.local), now)
		switch {
		case c.pid == 0 && p != nil:
			t.Errorf("%s: got pid %d, want none", c.name, p.PID)
		case c.pid != 0 && p == nil:
			t.Errorf("%s: not found, want pid %d", c.name, c.pid)
		case c.pid != 0 && p.PID != c.pid:
			t.Errorf("%s: got pid %d, want %d", c.name, p.PID, c.pid)
		}
	}
	st := m.Stats()
	if st.ScanErrors != 0 || st.Truncated != 0 {
		t.Errorf("stats %+v", st)
	}
	if st.Sockets != 7 { // 1001,1002,2001,2002,2003,3001,3002 have owners
		t.Errorf("table has %d sockets, want 7", st.Sockets)
	}
}

func TestFakeProcessFields(t *testing.T) {
	m := New(Config{ProcRoot: fakeRoot})
	now := time.Now()
	cases := []struct {
		local string
		proto uint8
		want  ecsmap.Process
	}{
		{"0.0.0.0:80", 6, ecsmap.Process{
			PID: 100, PPID: 1, Name: "nginx",
			Executable: "/usr/sbin/nginx", // " (deleted)" stripped
			Args:       []string{"nginx: master process /usr/sbin/nginx"},
			WorkingDir: "/",
			Start:      fakeBoot.Add(123*time.Second + 450*time.Millisecond), // 12345 ticks
		}},
		{"[::1]:9000", 6, ecsmap.Process{
			PID: 200, PPID: 1, Name: "a-very-long-name-server",
			Executable: "/opt/bin/a-very-long-name-server",
			Args:       []string{"/opt/bin/a-very-long-name-server", "--listen", "[::1]:9000"}, // trailing NULs trimmed
			WorkingDir: "/srv/data",
			Start:      fakeBoot.Add(999*time.Second + 990*time.Millisecond),
		}},
		{"0.0.0.0:53", 17, ecsmap.Process{
			PID: 300, PPID: 1, Name: "dns (srv) x",
			Executable: "/usr/bin/dnsd",
			Args:       []string{"dnsd", "-f"},
			WorkingDir: "/var/lib/dns",
			Start:      fakeBoot.Add(5 * time.Second),
		}},
	}
	for _, c := range cases {
		p := m.Lookup(c.proto, ap(c.local), now)
		if p == nil {
			t.Errorf("%s: not found", c.local)
			continue
		}
		if p.PID != c.want.PID || p.PPID != c.want.PPID || p.Name != c.want.Name ||
			p.Executable != c.want.Executable || !slices.Equal(p.Args, c.want.Args) ||
			p.WorkingDir != c.want.WorkingDir || !p.Start.Equal(c.want.Start) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.local, *p, c.want)
		}
	}
	// The accepted socket's worker: ppid is the master.
	if p := m.Lookup(6, ap("10.1.2.3:80"), now); p == nil || p.PPID != 100 || p.Args[0] != "nginx: worker process" {
		t.Errorf("worker: %+v", p)
	}
}

func TestFakeEnrich(t *testing.T) {
	m := New(Config{ProcRoot: fakeRoot, LocalAddrs: []netip.Addr{netip.MustParseAddr("10.1.2.3")}})
	now := time.Now()
	b := &ecsmap.Base{
		Transport: "tcp", IPProtocol: 6,
		Source:      ecsmap.Endpoint{IP: netip.MustParseAddr("192.168.1.9"), Port: 80}, // remote, even if port matches
		Destination: ecsmap.Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 80},
	}
	m.Enrich(b, now)
	if b.Source.Process != nil {
		t.Errorf("remote source enriched: %+v", b.Source.Process)
	}
	if b.Destination.Process == nil || b.Destination.Process.PID != 101 {
		t.Errorf("destination: %+v", b.Destination.Process)
	}

	// Transport from the name when IPProtocol is unset; both ends local.
	b = &ecsmap.Base{
		Transport:   "udp",
		Source:      ecsmap.Endpoint{IP: netip.MustParseAddr("::1"), Port: 5353},
		Destination: ecsmap.Endpoint{IP: netip.MustParseAddr("127.0.0.1"), Port: 53},
	}
	m.Enrich(b, now)
	if b.Destination.Process == nil || b.Destination.Process.PID != 300 {
		t.Errorf("udp destination: %+v", b.Destination.Process)
	}
	if b.Source.Process != nil {
		t.Errorf("::1:5353 has no socket, got %+v", b.Source.Process)
	}

	// ICMP and port-less endpoints are left alone, and so is a process
	// already set.
	set := &ecsmap.Process{PID: 1}
	b = &ecsmap.Base{Transport: "icmp", IPProtocol: 1,
		Source:      ecsmap.Endpoint{IP: netip.MustParseAddr("10.1.2.3")},
		Destination: ecsmap.Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 80, Process: set}}
	m.Enrich(b, now)
	if b.Source.Process != nil || b.Destination.Process != set {
		t.Errorf("icmp: %+v %+v", b.Source.Process, b.Destination.Process)
	}
}

func TestIsLocal(t *testing.T) {
	m := New(Config{ProcRoot: fakeRoot, LocalAddrs: []netip.Addr{netip.MustParseAddr("::ffff:10.9.9.9")}})
	for s, want := range map[string]bool{
		"127.0.0.1": true, "127.255.0.7": true, "::1": true, "::ffff:127.0.0.1": true,
		"10.9.9.9": true, "8.8.8.8": false, "2001:db8::99": false, "0.0.0.0": false,
	} {
		if got := m.IsLocal(netip.MustParseAddr(s)); got != want {
			t.Errorf("IsLocal(%s) = %v", s, got)
		}
	}
	if m.IsLocal(netip.Addr{}) {
		t.Error("zero address is local")
	}
	// The host's own interface addresses count.
	for _, a := range *m.local.Load() {
		if !m.IsLocal(a) {
			t.Errorf("interface address %v not local", a)
		}
	}
}

// copyFake copies the fake tree (symlinks as symlinks) so a test may change it.
func copyFake(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "proc")
	if out, err := exec.Command("cp", "-a", fakeRoot, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshSchedule(t *testing.T) {
	root := copyFake(t)
	m := New(Config{ProcRoot: root, RefreshEvery: time.Second, MaxAge: 10 * time.Second})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	check := func(step string, scans, full uint64) {
		t.Helper()
		if st := m.Stats(); st.Scans != scans || st.FullScans != full {
			t.Fatalf("%s: scans %d full %d, want %d %d", step, st.Scans, st.FullScans, scans, full)
		}
	}

	// A miss scans once; the socket is in no table, so no fd walk.
	if p := m.Lookup(6, ap("10.1.2.3:7777"), t0); p != nil {
		t.Fatal("7777 found")
	}
	check("first miss", 1, 0)
	// Misses within RefreshEvery do not rescan, even for other ports.
	m.Lookup(6, ap("10.1.2.3:7777"), t0.Add(500*time.Millisecond))
	m.Lookup(6, ap("10.1.2.3:80"), t0.Add(999*time.Millisecond))
	check("rate limited", 1, 0)
	// After RefreshEvery: a miss on a socket whose owner is unknown walks fds.
	if p := m.Lookup(6, ap("10.1.2.3:80"), t0.Add(time.Second)); p == nil || p.PID != 101 {
		t.Fatalf("80: %+v", p)
	}
	check("walk", 2, 1)
	// Hits while fresh: no scan.
	for i := range 100 {
		m.Lookup(6, ap("10.1.2.3:80"), t0.Add(time.Second+time.Duration(i)*50*time.Millisecond))
	}
	check("fresh hits", 2, 1)
	// A hit older than MaxAge rescans the tables; owners are known, no walk.
	p1 := m.Lookup(6, ap("10.1.2.3:80"), t0.Add(12*time.Second))
	check("stale hit", 3, 1)
	// ... and the process description is reused, not re-read.
	p2 := m.Lookup(6, ap("10.1.2.3:80"), t0.Add(24*time.Second))
	if p1 == nil || p1 != p2 {
		t.Fatalf("process re-read: %p %p", p1, p2)
	}
	check("stale hit 2", 4, 1)

	// The port is taken over: pid 600 now holds a new socket on 10.1.2.3:80
	// and the worker's socket is gone. The stale hit rescans, sees an
	// unknown inode and walks.
	tcp := filepath.Join(root, "net/tcp")
	b, _ := os.ReadFile(tcp)
	b = []byte(strings.Replace(string(b), " 1002 1 ", " 6002 1 ", 1))
	if err := os.WriteFile(tcp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("socket:[6002]", filepath.Join(root, "600/fd/9")); err != nil {
		t.Fatal(err)
	}
	if p := m.Lookup(6, ap("10.1.2.3:80"), t0.Add(36*time.Second)); p == nil || p.PID != 600 || p.Name != "other" {
		t.Fatalf("after takeover: %+v", p)
	}
	check("takeover", 5, 2)

	// A new UDP socket appears: the next miss after RefreshEvery finds it.
	appendLine(t, filepath.Join(root, "net/udp"), " 9: 0302010A:2710 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 7001 2 0 0\n")
	if err := os.Symlink("socket:[7001]", filepath.Join(root, "300/fd/7")); err != nil {
		t.Fatal(err)
	}
	if p := m.Lookup(17, ap("10.1.2.3:10000"), t0.Add(36500*time.Millisecond)); p != nil {
		t.Fatalf("found within RefreshEvery: %+v", p)
	}
	if p := m.Lookup(17, ap("10.1.2.3:10000"), t0.Add(37*time.Second)); p == nil || p.PID != 300 {
		t.Fatalf("new udp socket: %+v", p)
	}

	// The process exits (its /proc dir goes): the next scan drops it.
	if err := os.RemoveAll(filepath.Join(root, "300")); err != nil {
		t.Fatal(err)
	}
	if p := m.Lookup(17, ap("10.1.2.3:10000"), t0.Add(50*time.Second)); p != nil {
		t.Fatalf("vanished process still answers: %+v", p)
	}

	// A clock that jumps back a long way (a replay) still lets scans run.
	before := m.Stats().Scans
	m.Lookup(6, ap("10.1.2.3:4444"), t0.Add(-time.Hour))
	if m.Stats().Scans != before+1 {
		t.Fatal("no scan after the clock went back")
	}
}

func TestMaxEntries(t *testing.T) {
	m := New(Config{ProcRoot: fakeRoot, MaxEntries: 3})
	m.Lookup(6, ap("10.1.2.3:80"), time.Now())
	st := m.Stats()
	// 9 sockets parse (tcp 3, tcp6 3, udp 2, udp6 1): 3 kept, 6 counted.
	if st.Truncated != 6 || st.Sockets > 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMissingProcRoot(t *testing.T) {
	m := New(Config{ProcRoot: filepath.Join(t.TempDir(), "none")})
	if p := m.Lookup(6, ap("127.0.0.1:80"), time.Now()); p != nil {
		t.Fatal("found a process without /proc")
	}
	if st := m.Stats(); st.ScanErrors != 0 || st.Scans != 1 {
		// Missing tables are "no IPv6"/"no procfs", not errors.
		t.Fatalf("stats %+v", st)
	}
}

// TestConcurrentLookups runs lookups from many goroutines while scans happen
// (run with -race).
func TestConcurrentLookups(t *testing.T) {
	m := New(Config{ProcRoot: fakeRoot, RefreshEvery: time.Nanosecond, MaxAge: time.Nanosecond,
		LocalAddrs: []netip.Addr{netip.MustParseAddr("10.1.2.3")}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				now := time.Now()
				if p := m.Lookup(6, ap("10.1.2.3:80"), now); p != nil && p.PID != 101 {
					t.Errorf("pid %d", p.PID)
				}
				b := ecsmap.Base{IPProtocol: 17,
					Source:      ecsmap.Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: uint16(1000 + g)},
					Destination: ecsmap.Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 53}}
				m.Enrich(&b, now)
				if b.Destination.Process == nil && i > 0 && m.Stats().Scans > 0 {
					// A lookup racing the first scan may miss; afterwards the
					// table always answers.
					if p := m.Lookup(17, ap("10.1.2.3:53"), now); p == nil {
						t.Errorf("udp 53 lost")
					}
				}
			}
		})
	}
	wg.Wait()
	if m.Stats().Scans < 2 {
		t.Fatalf("scans %d", m.Stats().Scans)
	}
}

// TestLookupHitNoAlloc: the cache-hit path allocates nothing.
func TestLookupHitNoAlloc(t *testing.T) {
	m := New(Config{ProcRoot: fakeRoot, LocalAddrs: []netip.Addr{netip.MustParseAddr("10.1.2.3")}})
	now := time.Now()
	exact, wild := ap("10.1.2.3:80"), ap("10.1.2.3:443")
	if m.Lookup(6, exact, now) == nil || m.Lookup(6, wild, now) == nil {
		t.Fatal("priming failed")
	}
	b := ecsmap.Base{IPProtocol: 6,
		Source:      ecsmap.Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: 5000},
		Destination: ecsmap.Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 80}}
	allocs := testing.AllocsPerRun(1000, func() {
		m.Lookup(6, exact, now)
		m.Lookup(6, wild, now)
		b.Destination.Process = nil
		m.Enrich(&b, now)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per hit", allocs)
	}
}

func BenchmarkLookupHit(b *testing.B) {
	m := New(Config{ProcRoot: fakeRoot})
	now := time.Now()
	key := ap("10.1.2.3:80")
	if m.Lookup(6, key, now) == nil {
		b.Fatal("priming failed")
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Lookup(6, key, now)
	}
}

func BenchmarkLookupHitWildcard(b *testing.B) {
	m := New(Config{ProcRoot: fakeRoot})
	now := time.Now()
	key := ap("10.1.2.3:443") // falls through to [::]:443
	if m.Lookup(6, key, now) == nil {
		b.Fatal("priming failed")
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Lookup(6, key, now)
	}
}

func BenchmarkEnrichHit(b *testing.B) {
	m := New(Config{ProcRoot: fakeRoot, LocalAddrs: []netip.Addr{netip.MustParseAddr("10.1.2.3")}})
	now := time.Now()
	base := ecsmap.Base{IPProtocol: 6,
		Source:      ecsmap.Endpoint{IP: netip.MustParseAddr("127.0.0.1"), Port: 8080},
		Destination: ecsmap.Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 80}}
	m.Enrich(&base, now)
	if base.Source.Process == nil || base.Destination.Process == nil {
		b.Fatal("priming failed")
	}
	b.ReportAllocs()
	for b.Loop() {
		base.Source.Process, base.Destination.Process = nil, nil
		m.Enrich(&base, now)
	}
}

// TestScanPanicContained: a scan that panics (here: a broken scanner) leaves
// the previous table, counts an error, and the next scan works again.
func TestScanPanicContained(t *testing.T) {
	m := New(Config{ProcRoot: fakeRoot})
	t0 := time.Now()
	if m.Lookup(6, ap("10.1.2.3:80"), t0) == nil {
		t.Fatal("priming failed")
	}
	m.sc.procs = nil // writing to a nil map panics mid-scan
	if p := m.Lookup(6, ap("10.1.2.3:9"), t0.Add(time.Second)); p != nil {
		t.Fatalf("got %+v", p)
	}
	if st := m.Stats(); st.ScanErrors != 1 || st.Scans != 1 {
		t.Fatalf("stats %+v", st)
	}
	if p := m.Lookup(6, ap("10.1.2.3:80"), t0.Add(time.Second)); p == nil || p.PID != 101 {
		t.Fatalf("old table lost: %+v", p)
	}
	if p := m.Lookup(6, ap("10.1.2.3:80"), t0.Add(20*time.Second)); p == nil || p.PID != 101 || m.Stats().Scans != 2 {
		t.Fatalf("no recovery: %+v %+v", p, m.Stats())
	}
}

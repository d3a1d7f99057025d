package procs

import (
	"net/netip"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// procs.monitored names the processes found in the fake /proc tree after the
// first entry whose cmdline_grep their command line contains; the others,
// and the monitor's shared copies, keep their own name.
func TestNamerOnFakeTree(t *testing.T) {
	m := New(Config{ProcRoot: fakeRoot, LocalAddrs: []netip.Addr{netip.MustParseAddr("10.1.2.3")}})
	b := &ecsmap.Base{
		Transport: "tcp", IPProtocol: 6,
		Source:      ecsmap.Endpoint{IP: netip.MustParseAddr("192.168.1.9"), Port: 40000},
		Destination: ecsmap.Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 80},
	}
	m.Enrich(b, time.Now())
	orig := b.Destination.Process
	if orig == nil {
		t.Fatal("no process for 10.1.2.3:80")
	}
	cmdline := orig.Name
	if len(orig.Args) > 0 {
		cmdline = orig.Args[0]
	}
	n := NewNamer([]Monitored{{Process: "other", CmdlineGrep: "no-such-command"}, {Process: "web", CmdlineGrep: cmdline}})
	n.NameBase(b)
	if b.Destination.Process.Name != "web" || b.Destination.Process.PID != orig.PID {
		t.Errorf("named %+v, want web (pid %d)", b.Destination.Process, orig.PID)
	}
	if orig.Name == "web" {
		t.Error("the monitor's shared process was renamed")
	}
	if b.Source.Process != nil {
		t.Errorf("remote source: %+v", b.Source.Process)
	}
	// Cached: the same copy again, no new allocation.
	again := n.Name(orig)
	if again != b.Destination.Process {
		t.Error("second lookup made a new copy")
	}
	if a := testing.AllocsPerRun(100, func() { n.Name(orig) }); a != 0 {
		t.Errorf("%v allocations per cached rename", a)
	}
	// No entry matches: the process is left as it is.
	n = NewNamer([]Monitored{{Process: "other", CmdlineGrep: "no-such-command"}})
	if got := n.Name(orig); got != orig {
		t.Errorf("unmatched process renamed: %+v", got)
	}
	if NewNamer(nil) != nil {
		t.Error("empty list: want a nil Namer")
	}
}

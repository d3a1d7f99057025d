package capture

import (
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/ecsmap"
	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/input/procs"
)

// procs.monitored: a published document's process.name is the configured
// name of the process whose command line matched (the fake /proc tree of
// input/procs owns 10.1.2.3:80).
func TestProcsMonitoredNamesProcesses(t *testing.T) {
	st := &config.Stream{ID: "http-1", Type: "http", DataStream: config.DataStream{Type: "logs", Dataset: "network_traffic.http", Namespace: "default"}}
	sink := &procSink{}
	p, err := newStreamPublisher(st, nil, sink, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	p.procMon = procs.New(procs.Config{ProcRoot: "../procs/testdata/proc", LocalAddrs: []netip.Addr{netip.MustParseAddr("10.1.2.3")}})
	ev := func() *benchEvent {
		return &benchEvent{base: ecsmap.Base{Type: "http", Transport: "tcp", IPProtocol: 6,
			Source:      ecsmap.Endpoint{IP: netip.MustParseAddr("192.168.1.9"), Port: 40000},
			Destination: ecsmap.Endpoint{IP: netip.MustParseAddr("10.1.2.3"), Port: 80}}}
	}
	first := ev()
	p.Publish(first)
	own := first.base.Destination.Process
	if own == nil || len(sink.docs) != 1 {
		t.Fatalf("no process for 10.1.2.3:80 (%d docs)", len(sink.docs))
	}
	grep := own.Name
	if len(own.Args) > 0 {
		grep = own.Args[0]
	}
	p.procNamer = newProcNamer([]config.MonitoredProc{{Process: "webserver", CmdlineGrep: grep}})
	p.Publish(ev())
	if !strings.Contains(sink.docs[1], `"name":"webserver"`) || strings.Contains(sink.docs[1], `"name":"`+own.Name+`"`) {
		t.Errorf("renamed document: %s", sink.docs[1])
	}
	if !strings.Contains(sink.docs[0], `"name":"`+own.Name+`"`) {
		t.Errorf("document before procs.monitored: %s", sink.docs[0])
	}
}

package reach

import (
	"net"
	"testing"
	"time"
)

// A host whose port refused a connection is probed at most every
// ProbeEvery and reported up once it listens again; a failure that was not
// a connect failure is not probed (the output keeps its backoff).
func TestProbeUntilListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = net.Dial("tcp", addr)
	if !Unreachable(err) {
		t.Fatalf("dial error %v not unreachable", err)
	}
	var p Prober
	dials := 0
	p.dial = func(n, a string, d time.Duration) (net.Conn, error) { dials++; return net.DialTimeout(n, a, d) }
	p.Failed(err)
	now := time.Now()
	if up, next := p.Check(addr, now); up || next <= 0 || dials != 0 {
		t.Fatalf("probed right after the failed connect: up %v next %v dials %d", up, next, dials)
	}
	if up, next := p.Check(addr, now.Add(ProbeEvery)); up || next != ProbeEvery || dials != 1 {
		t.Fatalf("closed port: up %v next %v dials %d", up, next, dials)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer ln.Close()
	if up, _ := p.Check(addr, now.Add(ProbeEvery+ProbeEvery/2)); up {
		t.Fatal("probed again within ProbeEvery")
	}
	if up, _ := p.Check(addr, now.Add(3*ProbeEvery)); !up || dials != 2 {
		t.Fatalf("listening again: up %v dials %d", up, dials)
	}
	p.Failed(net.ErrClosed)
	if up, next := p.Check(addr, now.Add(10*ProbeEvery)); up || next != 0 || dials != 2 {
		t.Fatalf("a request failure was probed: up %v next %v", up, next)
	}
}

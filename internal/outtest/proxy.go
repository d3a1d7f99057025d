package outtest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards TCP to a backend. Cut closes the listener and every
// connection (the output sees resets and refused connections); Restore
// listens again on the same port. It counts and keeps the first bytes
// sent by clients, so tests can look at the wire format.
type Proxy struct {
	Backend string
	Addr    string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	head  []byte // first bytes clients sent, all connections
	Bytes atomic.Int64
	Conns atomic.Int64
	// Delay holds back each read from a client, as a slow network would.
	Delay time.Duration
}

// headMax bounds what Head keeps.
const headMax = 64 << 10

// NewProxy listens on a free loopback port.
func NewProxy(backend string) (*Proxy, error) {
	p := &Proxy{Backend: backend, conns: map[net.Conn]bool{}}
	return p, p.listen("127.0.0.1:0")
}

func (p *Proxy) listen(addr string) error {
	var ln net.Listener
	var err error
	for range 100 { // the port may linger for a moment after Cut
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.Addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.Backend)
			if err != nil {
				c.Close()
				continue
			}
			p.Conns.Add(1)
			p.mu.Lock()
			p.conns[c], p.conns[b] = true, true
			p.mu.Unlock()
			go func() { io.Copy(b, recorder{p, c}); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
	return nil
}

type recorder struct {
	p *Proxy
	c net.Conn
}

func (r recorder) Read(b []byte) (int, error) {
	n, err := r.c.Read(b)
	if n > 0 && r.p.Delay > 0 {
		time.Sleep(r.p.Delay)
	}
	if n > 0 {
		r.p.Bytes.Add(int64(n))
		r.p.mu.Lock()
		if len(r.p.head) < headMax {
			r.p.head = append(r.p.head, b[:min(n, headMax-len(r.p.head))]...)
		}
		r.p.mu.Unlock()
	}
	return n, err
}

// Head returns the first bytes clients sent.
func (p *Proxy) Head() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.head...)
}

// Cut drops every connection and stops listening.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// Restore listens again on the same address.
func (p *Proxy) Restore() error { return p.listen(p.Addr) }

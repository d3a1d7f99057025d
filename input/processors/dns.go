package processors

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dns: {type: reverse, fields: {source.ip: source.domain}, action: append,
// nameservers, timeout: 500ms, tag_on_failure, transport: udp|tls,
// success_cache.capacity.{initial,max}, success_cache.min_ttl,
// failure_cache.capacity.{initial,max}, failure_cache.ttl}.
//
// type reverse (or PTR) looks up the name of an address; A, AAAA and TXT
// look up a name's records. Answers are cached for their TTL (at least
// min_ttl), failures for failure_cache.ttl, so a busy address costs one
// query per TTL. A lookup not in the cache waits for the answer, up to
// timeout, as Beats' does; a failure adds tag_on_failure and leaves the
// event otherwise unchanged. When the nameservers time out, lookups pause
// (1s, doubling up to a minute) so that a dead nameserver does not cost
// the timeout for every new address.

func init() { register("dns", newDNS) }

type dnsProc struct {
	qtype     dnsmessage.Type
	reverse   bool
	fields    []fromTo
	replace   bool
	servers   []string
	timeout   time.Duration
	tags      []string
	useTLS    bool
	okCache   *ttlCache
	failCache *ttlCache
	minTTL    time.Duration
	failTTL   time.Duration
	now       func() time.Time
	queries   int // sent, for tests and stats
	// When no nameserver answers (timeouts), lookups stop waiting for
	// backoff: events get tag_on_failure at once instead of each new
	// address costing the timeout on the capture path. One lookup then
	// probes; success closes the breaker.
	backoff, maxBackoff time.Duration
	openUntil           time.Time
}

// dnsTLSConfig lets tests trust their own DNS-over-TLS server.
var dnsTLSConfig *tls.Config

// resolvConf is where the system's nameservers are read from.
var resolvConf = "/etc/resolv.conf"

func newDNS(cfg map[string]any) (runFunc, error) {
	p, err := parseDNS(cfg)
	if err != nil {
		return nil, err
	}
	return p.run, nil
}

func parseDNS(cfg map[string]any) (*dnsProc, error) {
	if err := checkKeysGroups(cfg, []string{"success_cache", "failure_cache", "fields"}, "type", "action", "nameservers", "timeout", "tag_on_failure", "transport"); err != nil {
		return nil, err
	}
	p := &dnsProc{now: time.Now, maxBackoff: time.Minute}
	typ, err := stringOpt(cfg, "type", "")
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(typ) {
	case "reverse", "ptr":
		p.qtype, p.reverse = dnsmessage.TypePTR, true
	case "a":
		p.qtype = dnsmessage.TypeA
	case "aaaa":
		p.qtype = dnsmessage.TypeAAAA
	case "txt":
		p.qtype = dnsmessage.TypeTXT
	case "":
		return nil, fmt.Errorf("type: required (reverse, A, AAAA, TXT)")
	default:
		return nil, fmt.Errorf("type: %q is not one of reverse, PTR, A, AAAA, TXT", typ)
	}
	fields, err := subOpts(cfg, "fields")
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("fields: required, a map of source field to target field")
	}
	for _, k := range sortedKeys(fields) {
		to, ok := fields[k].(string)
		if !ok || to == "" {
			return nil, fmt.Errorf("fields.%s: the target must be a field name", k)
		}
		p.fields = append(p.fields, fromTo{k, to})
	}
	action, err := stringOpt(cfg, "action", "append")
	if err != nil {
		return nil, err
	}
	switch action {
	case "append":
	case "replace":
		p.replace = true
	default:
		return nil, fmt.Errorf("action: %q is not append or replace", action)
	}
	if p.timeout, err = durationOpt(cfg, "timeout", 500*time.Millisecond); err != nil {
		return nil, err
	}
	if p.timeout <= 0 {
		return nil, fmt.Errorf("timeout: must be positive")
	}
	if v, ok := cfg["tag_on_failure"]; ok && v != nil {
		if p.tags, err = stringList(v); err != nil {
			return nil, fmt.Errorf("tag_on_failure: %v", err)
		}
	}
	transport, err := stringOpt(cfg, "transport", "udp")
	if err != nil {
		return nil, err
	}
	switch transport {
	case "udp":
	case "tls":
		p.useTLS = true
	default:
		return nil, fmt.Errorf("transport: %q is not udp or tls", transport)
	}
	port := "53"
	if p.useTLS {
		port = "853"
	}
	var ns []string
	if v, ok := cfg["nameservers"]; ok && v != nil {
		if ns, err = stringList(v); err != nil {
			return nil, fmt.Errorf("nameservers: %v", err)
		}
	}
	if len(ns) == 0 {
		ns = systemNameservers()
	}
	for _, s := range ns {
		addr, err := hostPort(s, port)
		if err != nil {
			return nil, fmt.Errorf("nameservers: %v", err)
		}
		p.servers = append(p.servers, addr)
	}
	if len(p.servers) == 0 {
		return nil, fmt.Errorf("nameservers: none given and none in %s", resolvConf)
	}
	sc, err := subOpts(cfg, "success_cache")
	if err != nil {
		return nil, err
	}
	fc, err := subOpts(cfg, "failure_cache")
	if err != nil {
		return nil, err
	}
	if err := checkKeys(sc, "capacity.initial", "capacity.max", "min_ttl"); err != nil {
		return nil, fmt.Errorf("success_cache: %v", err)
	}
	if err := checkKeys(fc, "capacity.initial", "capacity.max", "ttl"); err != nil {
		return nil, fmt.Errorf("failure_cache: %v", err)
	}
	if p.okCache, err = newTTLCache(sc, "success_cache"); err != nil {
		return nil, err
	}
	if p.failCache, err = newTTLCache(fc, "failure_cache"); err != nil {
		return nil, err
	}
	if p.minTTL, err = durationOpt(sc, "min_ttl", time.Minute); err != nil {
		return nil, fmt.Errorf("success_cache.%v", err)
	}
	if p.minTTL <= 0 {
		return nil, fmt.Errorf("success_cache.min_ttl: must be positive")
	}
	if p.failTTL, err = durationOpt(fc, "ttl", time.Minute); err != nil {
		return nil, fmt.Errorf("failure_cache.%v", err)
	}
	if p.failTTL <= 0 {
		return nil, fmt.Errorf("failure_cache.ttl: must be positive")
	}
	return p, nil
}

func hostPort(s, port string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(a.String(), port), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	if h, pt, err := net.SplitHostPort(s); err == nil && h != "" && pt != "" {
		return s, nil
	}
	return "", fmt.Errorf("%q is not an address or address:port", s)
}

func systemNameservers() []string {
	f, err := os.Open(resolvConf)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "nameserver" {
			out = append(out, fs[1])
		}
	}
	return out
}

// ttlCache is a bounded map with expiry. When full, an expired entry or
// else an arbitrary one makes room.
type ttlCache struct {
	max int
	m   map[string]cacheEntry
}

type cacheEntry struct {
	values  []string
	expires time.Time
}

func newTTLCache(opts map[string]any, name string) (*ttlCache, error) {
	initial, err := intOpt(opts, "capacity.initial", 1000)
	if err != nil {
		return nil, fmt.Errorf("%s.%v", name, err)
	}
	max, err := intOpt(opts, "capacity.max", 10000)
	if err != nil {
		return nil, fmt.Errorf("%s.%v", name, err)
	}
	if initial < 0 || max < 1 || initial > max {
		return nil, fmt.Errorf("%s.capacity: want 0 <= initial <= max, max at least 1 (got %d, %d)", name, initial, max)
	}
	return &ttlCache{max: max, m: make(map[string]cacheEntry, initial)}, nil
}

func (c *ttlCache) get(k string, now time.Time) ([]string, bool) {
	e, ok := c.m[k]
	if !ok {
		return nil, false
	}
	if now.After(e.expires) {
		delete(c.m, k)
		return nil, false
	}
	return e.values, true
}

func (c *ttlCache) put(k string, v []string, expires time.Time, now time.Time) {
	if len(c.m) >= c.max {
		evicted := false
		for key, e := range c.m {
			if now.After(e.expires) {
				delete(c.m, key)
				evicted = true
			}
		}
		if !evicted {
			for key := range c.m {
				delete(c.m, key)
				break
			}
		}
	}
	c.m[k] = cacheEntry{v, expires}
}

func (p *dnsProc) run(doc map[string]any) (bool, error) {
	failed := false
	for _, f := range p.fields {
		v, ok := getPath(doc, f.from)
		if !ok {
			continue
		}
		q, ok := v.(string)
		if !ok || q == "" {
			continue
		}
		answers, err := p.lookup(q)
		if err != nil {
			failed = true
			continue
		}
		var val any = answers[0]
		if len(answers) > 1 {
			vals := make([]any, len(answers))
			for i, a := range answers {
				vals[i] = a
			}
			val = vals
		}
		if cur, exists := getPath(doc, f.to); exists && !p.replace {
			val = appendUnique(cur, answers)
		}
		if err := putPath(doc, f.to, val); err != nil {
			failed = true
		}
	}
	if failed {
		for _, t := range p.tags {
			_ = addTag(doc, t)
		}
	}
	return false, nil
}

func appendUnique(cur any, add []string) any {
	var list []any
	switch x := cur.(type) {
	case []any:
		list = x
	case nil:
	default:
		list = []any{x}
	}
	for _, a := range add {
		dup := false
		for _, e := range list {
			if e == a {
				dup = true
			}
		}
		if !dup {
			list = append(list, a)
		}
	}
	if len(list) == 1 {
		return list[0]
	}
	return list
}

// lookup answers from the caches or asks the nameservers.
func (p *dnsProc) lookup(q string) ([]string, error) {
	now := p.now()
	if v, ok := p.okCache.get(q, now); ok {
		return v, nil
	}
	if _, ok := p.failCache.get(q, now); ok {
		return nil, errors.New("cached failure")
	}
	name, err := p.questionName(q)
	if err != nil {
		p.failCache.put(q, nil, now.Add(p.failTTL), now)
		return nil, err
	}
	answers, ttl, err := p.query(name)
	if errors.Is(err, errNameserversDown) {
		return nil, err // not this address's fault: asked again once they answer
	}
	if err != nil || len(answers) == 0 {
		if err == nil {
			err = errors.New("no answer")
		}
		p.failCache.put(q, nil, now.Add(p.failTTL), now)
		return nil, err
	}
	if ttl < p.minTTL {
		ttl = p.minTTL
	}
	p.okCache.put(q, answers, now.Add(ttl), now)
	return answers, nil
}

func (p *dnsProc) questionName(q string) (dnsmessage.Name, error) {
	if !p.reverse {
		if !strings.HasSuffix(q, ".") {
			q += "."
		}
		return dnsmessage.NewName(q)
	}
	a, err := netip.ParseAddr(q)
	if err != nil {
		return dnsmessage.Name{}, fmt.Errorf("%q is not an IP address", q)
	}
	a = a.Unmap()
	var b strings.Builder
	if a.Is4() {
		o := a.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d.in-addr.arpa.", o[3], o[2], o[1], o[0])
	} else {
		o := a.As16()
		const hex = "0123456789abcdef"
		for i := 15; i >= 0; i-- {
			b.WriteByte(hex[o[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hex[o[i]>>4])
			b.WriteByte('.')
		}
		b.WriteString("ip6.arpa.")
	}
	return dnsmessage.NewName(b.String())
}

// query asks each nameserver in turn until one answers, within timeout.
func (p *dnsProc) query(name dnsmessage.Name) ([]string, time.Duration, error) {
	if now := p.now(); now.Before(p.openUntil) {
		return nil, 0, errNameserversDown
	}
	answers, ttl, err := p.queryServers(name)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		p.backoff = min(max(2*p.backoff, time.Second), p.maxBackoff)
		p.openUntil = p.now().Add(p.backoff)
	} else {
		p.backoff = 0
	}
	return answers, ttl, err
}

var errNameserversDown = errors.New("nameservers not answering (lookups paused)")

func (p *dnsProc) queryServers(name dnsmessage.Name) ([]string, time.Duration, error) {
	deadline := time.Now().Add(p.timeout)
	var lastErr error
	for _, s := range p.servers {
		if time.Now().After(deadline) {
			break
		}
		p.queries++
		answers, ttl, err := p.exchange(s, name, deadline)
		if err == nil {
			return answers, ttl, nil
		}
		lastErr = err
		var rc rcodeError
		if errors.As(err, &rc) && rc.code == dnsmessage.RCodeNameError {
			break // NXDOMAIN is an answer: other servers would say the same
		}
	}
	if lastErr == nil {
		lastErr = errors.New("timed out")
	}
	return nil, 0, lastErr
}

type rcodeError struct{ code dnsmessage.RCode }

func (e rcodeError) Error() string { return "DNS answer " + e.code.String() }

func (p *dnsProc) exchange(server string, name dnsmessage.Name, deadline time.Time) ([]string, time.Duration, error) {
	id := uint16(rand.Uint32())
	b := dnsmessage.NewBuilder(make([]byte, 2, 514), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: name, Type: p.qtype, Class: dnsmessage.ClassINET})
	msg, err := b.Finish()
	if err != nil {
		return nil, 0, err
	}
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-2)) // TCP length prefix
	var reply []byte
	if p.useTLS {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if dnsTLSConfig != nil {
			cfg = dnsTLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(server)
		}
		d := &tls.Dialer{NetDialer: &net.Dialer{Deadline: deadline}, Config: cfg}
		conn, err := d.Dial("tcp", server)
		if err != nil {
			return nil, 0, err
		}
		defer conn.Close()
		reply, err = streamExchange(conn, msg, deadline)
		if err != nil {
			return nil, 0, err
		}
	} else {
		conn, err := net.DialTimeout("udp", server, time.Until(deadline))
		if err != nil {
			return nil, 0, err
		}
		defer conn.Close()
		_ = conn.SetDeadline(deadline)
		if _, err := conn.Write(msg[2:]); err != nil {
			return nil, 0, err
		}
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return nil, 0, err
			}
			if n >= 2 && binary.BigEndian.Uint16(buf) == id {
				reply = buf[:n]
				break
			}
		}
	}
	return p.parseReply(reply, id, name)
}

func streamExchange(conn net.Conn, msg []byte, deadline time.Time) ([]byte, error) {
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, err
	}
	reply := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, reply); err != nil {
		return nil, err
	}
	return reply, nil
}

func (p *dnsProc) parseReply(reply []byte, id uint16, name dnsmessage.Name) ([]string, time.Duration, error) {
	var m dnsmessage.Message
	if err := m.Unpack(reply); err != nil {
		return nil, 0, fmt.Errorf("bad DNS reply: %v", err)
	}
	if m.ID != id || !m.Response {
		return nil, 0, errors.New("reply does not match the query")
	}
	if m.RCode != dnsmessage.RCodeSuccess {
		return nil, 0, rcodeError{m.RCode}
	}
	var out []string
	ttl := time.Duration(-1)
	for _, a := range m.Answers {
		if a.Header.Type != p.qtype {
			continue
		}
		var v string
		switch r := a.Body.(type) {
		case *dnsmessage.PTRResource:
			v = strings.TrimSuffix(r.PTR.String(), ".")
		case *dnsmessage.AResource:
			v = netip.AddrFrom4(r.A).String()
		case *dnsmessage.AAAAResource:
			v = netip.AddrFrom16(r.AAAA).String()
		case *dnsmessage.TXTResource:
			v = strings.Join(r.TXT, "")
		default:
			continue
		}
		out = append(out, v)
		if d := time.Duration(a.Header.TTL) * time.Second; ttl < 0 || d < ttl {
			ttl = d
		}
	}
	if len(out) == 0 {
		return nil, 0, errors.New("no answer")
	}
	return out, ttl, nil
}

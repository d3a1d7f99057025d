package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/internal/outtest"
)

// The tests start Debian's redis-server (see .ci/setup) on free loopback
// ports: fixed ones collide when packages' tests run in parallel.
const (
	portA = 0
	portB = 0
)

func startRedis(t *testing.T, port int, args ...string) string {
	t.Helper()
	return outtest.StartRedis(t, port, args...)
}

func reader(t *testing.T, addr string, db int, password string) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DB: db, Password: password, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

func newOutput(t *testing.T, m map[string]any) *Output {
	t.Helper()
	o, err := FromMap(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func samples(t *testing.T) []outtest.Sample {
	t.Helper()
	s, err := outtest.Samples()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seqOf(t *testing.T, doc string) int {
	var m struct {
		Seq *int `json:"seq"`
	}
	if err := json.Unmarshal([]byte(doc), &m); err != nil || m.Seq == nil {
		t.Fatalf("not a document with seq: %.100s (%v)", doc, err)
	}
	return *m.Seq
}

// exactlyOnce checks the seqs are 0..n-1, each once.
func exactlyOnce(t *testing.T, docs []string, n int) {
	t.Helper()
	seen := make([]int, n)
	for _, d := range docs {
		s := seqOf(t, d)
		if s < 0 || s >= n {
			t.Fatalf("seq %d out of range", s)
		}
		seen[s]++
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("seq %d arrived %d times (%d documents for %d)", i, c, len(docs), n)
		}
	}
}

func TestListsWithKeyRules(t *testing.T) {
	addr := startRedis(t, portA)
	o := newOutput(t, map[string]any{
		"hosts": []any{addr},
		"key":   "%{[data_stream.type]}-%{[data_stream.dataset]}",
		"keys": []any{
			map[string]any{"key": "nt-dns", "when": map[string]any{"equals": map[string]any{"network.protocol": "dns"}}},
			map[string]any{"key": "nt-%{[fields.team]}", "mappings": map[string]any{"nt-blue": "team-blue"}},
		},
		"bulk_max_size": 16,
	})
	ss := samples(t)
	batch := outtest.Docs(ss, 0, 200)
	if err := o.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	// Where each document must be, in order.
	want := map[string][]output.Doc{}
	for i, d := range batch {
		s := ss[i%len(ss)]
		key := s.Index[:strings.LastIndexByte(s.Index, '-')] // logs-network_traffic.<stream>
		if s.Stream == "dns" {
			key = "nt-dns"
		}
		want[key] = append(want[key], d)
	}
	r := reader(t, addr, 0, "")
	ctx := context.Background()
	keys, _ := r.Keys(ctx, "*").Result()
	var lists int
	for _, k := range keys {
		if strings.HasPrefix(k, "network-traffic:chunk:") {
			continue // the marker of the last chunk on each connection
		}
		lists++
		got, err := r.LRange(ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatal(k, err)
		}
		w := want[k]
		if len(got) != len(w) {
			t.Fatalf("%s: %d documents, want %d", k, len(got), len(w))
		}
		for i := range got {
			if got[i] != string(w[i].Body) {
				t.Fatalf("%s[%d]: got %.80s want %.80s", k, i, got[i], w[i].Body)
			}
		}
	}
	if lists != len(want) || lists < 5 {
		t.Errorf("%d lists, want %d: %v", lists, len(want), keys)
	}
	// A mapped rule value, and an event no rule or key can name.
	extra := []output.Doc{
		{Body: []byte(`{"seq":1000,"fields":{"team":"blue"}}`)},
		{Body: []byte(`{"seq":1001,"fields":{"team":"red"}}`)},
	}
	if err := o.Publish(ctx, extra); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.LRange(ctx, "team-blue", 0, -1).Result(); len(got) != 1 || seqOf(t, got[0]) != 1000 {
		t.Errorf("team-blue: %v", got)
	}
	st := o.Stats()
	if st.Published != 201 || st.Failed != 1 || !strings.Contains(st.LastError, "data_stream.type") {
		t.Errorf("stats %+v", st)
	}
}

func TestChannels(t *testing.T) {
	addr := startRedis(t, portA)
	r := reader(t, addr, 0, "")
	ctx := context.Background()
	sub := r.PSubscribe(ctx, "logs-*")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // subscription confirmed
		t.Fatal(err)
	}
	o := newOutput(t, map[string]any{"hosts": []any{addr}, "datatype": "channel", "key": "%{[data_stream.type]}-%{[data_stream.dataset]}"})
	ss := samples(t)
	batch := outtest.Docs(ss, 0, 300)
	if err := o.Publish(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var got []string
	ch := sub.Channel()
	timeout := time.After(10 * time.Second)
	for len(got) < len(batch) {
		select {
		case m := <-ch:
			s := seqOf(t, m.Payload)
			if want := ss[s%len(ss)].Index; !strings.HasPrefix(want, m.Channel+"-") {
				t.Fatalf("seq %d on channel %s, want %s", s, m.Channel, want)
			}
			if m.Payload != string(batch[s].Body) {
				t.Fatalf("seq %d changed on the way", s)
			}
			got = append(got, m.Payload)
		case <-timeout:
			t.Fatalf("received %d of %d", len(got), len(batch))
		}
	}
	exactlyOnce(t, got, len(batch))
}

func TestDBAndPassword(t *testing.T) {
	addr := startRedis(t, portA, "--requirepass", "s3cret")
	ss := samples(t)
	ctx := context.Background()
	for _, cfg := range []map[string]any{
		{"hosts": []any{addr}, "password": "s3cret", "db": 3, "key": "nt"},
		{"hosts": []any{"redis://:s3cret@" + addr + "/3"}, "key": "nt"},
	} {
		o := newOutput(t, cfg)
		if err := o.Publish(ctx, outtest.Docs(ss, 0, 10)); err != nil {
			t.Fatal(err)
		}
	}
	r := reader(t, addr, 3, "s3cret")
	if n, _ := r.LLen(ctx, "nt").Result(); n != 20 {
		t.Errorf("db 3 has %d documents, want 20", n)
	}
	if n, _ := reader(t, addr, 0, "s3cret").LLen(ctx, "nt").Result(); n != 0 {
		t.Errorf("db 0 has %d", n)
	}
	o := newOutput(t, map[string]any{"hosts": []any{addr}, "password": "wrong", "backoff": map[string]any{"init": "20ms", "max": "50ms"}})
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := o.Publish(cctx, outtest.Docs(ss, 0, 1)); err == nil {
		t.Fatal("published with a wrong password")
	}
	if st := o.Stats(); st.Published != 0 || st.Retries == 0 || !strings.Contains(st.LastError, "WRONGPASS") {
		t.Errorf("stats %+v", st)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	certs, err := outtest.NewCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	portTLS := outtest.FreePort(t)
	addr := startRedis(t, portTLS, "--port", "0", "--tls-port", fmt.Sprint(portTLS),
		"--tls-cert-file", certs.ServerCert, "--tls-key-file", certs.ServerKey,
		"--tls-ca-cert-file", certs.CA, "--tls-auth-clients", "yes")
	ssl := map[string]any{"certificate_authorities": []any{certs.CA}, "certificate": certs.ClientCert, "key": certs.ClientKey}
	o := newOutput(t, map[string]any{"hosts": []any{addr}, "ssl": ssl, "key": "tls"})
	ctx := context.Background()
	if err := o.Publish(ctx, outtest.Docs(samples(t), 0, 25)); err != nil {
		t.Fatal(err)
	}
	// Read back over TLS with the same certificates.
	tc := o.cfg.TLS.Clone()
	tc.ServerName = "127.0.0.1"
	r := goredis.NewClient(&goredis.Options{Addr: addr, TLSConfig: tc, Protocol: 2, DisableIdentity: true})
	defer r.Close()
	got, err := r.LRange(ctx, "tls", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, got, 25)

	for name, ssl := range map[string]map[string]any{
		"no client certificate": {"certificate_authorities": []any{certs.CA}},
		"unknown CA":            {"certificate": certs.ClientCert, "key": certs.ClientKey},
	} {
		o := newOutput(t, map[string]any{"hosts": []any{addr}, "ssl": ssl, "timeout": "2s",
			"backoff": map[string]any{"init": "50ms", "max": "100ms"}})
		// Long enough for a handshake on a loaded machine; the attempts
		// fail and are retried until then.
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := o.Publish(cctx, outtest.Docs(samples(t), 0, 1))
		cancel()
		if st := o.Stats(); err == nil || st.Published != 0 || st.LastError == "" {
			t.Errorf("%s: err %v stats %+v", name, err, st)
		} else {
			t.Logf("%s: %s", name, st.LastError)
		}
	}
}

func TestLoadBalanceAndFailover(t *testing.T) {
	a, b := startRedis(t, portA), startRedis(t, portB)
	ctx := context.Background()
	ss := samples(t)
	ra, rb := reader(t, a, 0, ""), reader(t, b, 0, "")
	// Through proxies that add 5ms per request: both connections have work
	// in flight at once, so both get a share however the goroutines run.
	pa, err := outtest.NewProxy(a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := outtest.NewProxy(b)
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Cut()
	defer pb.Cut()
	pa.Delay, pb.Delay = 5*time.Millisecond, 5*time.Millisecond
	o := newOutput(t, map[string]any{"hosts": []any{pa.Addr, pb.Addr}, "key": "lb", "bulk_max_size": 10})
	if err := o.Publish(ctx, outtest.Docs(ss, 0, 400)); err != nil {
		t.Fatal(err)
	}
	la, _ := ra.LRange(ctx, "lb", 0, -1).Result()
	lb, _ := rb.LRange(ctx, "lb", 0, -1).Result()
	// Both hosts take batches; how evenly depends on scheduling (a loaded
	// machine saw 390 and 10).
	if len(la) == 0 || len(lb) == 0 {
		t.Errorf("loadbalance: %d and %d", len(la), len(lb))
	}
	exactlyOnce(t, append(la, lb...), 400)

	// One batch below bulk_max_size is cut in two chunks, one per host.
	o = newOutput(t, map[string]any{"hosts": []any{pa.Addr, pb.Addr}, "key": "spread"})
	if err := o.Publish(ctx, outtest.Docs(ss, 0, 128)); err != nil {
		t.Fatal(err)
	}
	sa, _ := ra.LRange(ctx, "spread", 0, -1).Result()
	sb, _ := rb.LRange(ctx, "spread", 0, -1).Result()
	if len(sa) != 64 || len(sb) != 64 {
		t.Errorf("spread: %d and %d, want 64 each", len(sa), len(sb))
	}
	exactlyOnce(t, append(sa, sb...), 128)

	o = newOutput(t, map[string]any{"hosts": []any{a, b}, "key": "fo", "loadbalance": false, "bulk_max_size": 10,
		"backoff": map[string]any{"init": "20ms", "max": "50ms"}})
	if err := o.Publish(ctx, outtest.Docs(ss, 0, 100)); err != nil {
		t.Fatal(err)
	}
	na, _ := ra.LLen(ctx, "fo").Result()
	nb, _ := rb.LLen(ctx, "fo").Result()
	if na+nb != 100 || (na != 0 && nb != 0) {
		t.Fatalf("failover mode wrote %d and %d", na, nb)
	}
	// The host in use goes away: the rest goes to the other.
	used, other := ra, rb
	if nb > 0 {
		used, other = rb, ra
	}
	used.Shutdown(ctx)
	if err := o.Publish(ctx, outtest.Docs(ss, 100, 100)); err != nil {
		t.Fatal(err)
	}
	if n, _ := other.LLen(ctx, "fo").Result(); n != 100 {
		t.Errorf("failover host has %d", n)
	}
}

func TestWrongTypeDropped(t *testing.T) {
	addr := startRedis(t, portA)
	ctx := context.Background()
	r := reader(t, addr, 0, "")
	r.Set(ctx, "logs-network_traffic.dns", "a string", 0)
	o := newOutput(t, map[string]any{"hosts": []any{addr}, "key": "%{[data_stream.type]}-%{[data_stream.dataset]}"})
	ss := samples(t)
	batch := outtest.Docs(ss, 0, 100)
	if err := o.Publish(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var dns int
	for i := range batch {
		if ss[i%len(ss)].Stream == "dns" {
			dns++
		}
	}
	st := o.Stats()
	if st.Failed != uint64(dns) || st.Published != uint64(100-dns) || !strings.Contains(st.LastError, "logs-network_traffic.dns holds a value that is not a list") {
		t.Errorf("stats %+v (dns %d)", st, dns)
	}
	if n, _ := r.LLen(ctx, "logs-network_traffic.http").Result(); n == 0 {
		t.Error("other keys not written")
	}
}

// TestTimeoutNoDuplicate: Redis stalls (DEBUG SLEEP) longer than the
// output's timeout, so the output gives up on a chunk Redis then runs, and
// sends it again: the marker keeps it from being written twice.
func TestTimeoutNoDuplicate(t *testing.T) {
	addr := startRedis(t, portA, "--enable-debug-command", "yes")
	ctx := context.Background()
	r := reader(t, addr, 0, "")
	o := newOutput(t, map[string]any{"hosts": []any{addr}, "key": "slow", "timeout": "300ms",
		"backoff": map[string]any{"init": "1s", "max": "1s"}})
	ss := samples(t)
	if err := o.Publish(ctx, outtest.Docs(ss, 0, 10)); err != nil {
		t.Fatal(err)
	}
	go r.Do(ctx, "DEBUG", "SLEEP", "0.8")
	time.Sleep(50 * time.Millisecond)
	if err := o.Publish(ctx, outtest.Docs(ss, 10, 10)); err != nil {
		t.Fatal(err)
	}
	got, _ := r.LRange(ctx, "slow", 0, -1).Result()
	exactlyOnce(t, got, 20)
	if st := o.Stats(); st.Retries == 0 || o.Resent() != 1 {
		t.Errorf("stats %+v resent %d: the timed-out chunk should have been found written", st, o.Resent())
	}
}

func TestScriptsRefusedFallBack(t *testing.T) {
	addr := startRedis(t, portA)
	ctx := context.Background()
	r := reader(t, addr, 0, "")
	if err := r.Do(ctx, "ACL", "SETUSER", "default", "-eval", "-evalsha", "-script").Err(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	o := newOutput(t, map[string]any{"hosts": []any{addr}, "key": "plain"})
	o.log = slogTo(&logs)
	if err := o.Publish(ctx, outtest.Docs(samples(t), 0, 50)); err != nil {
		t.Fatal(err, o.Stats())
	}
	got, _ := r.LRange(ctx, "plain", 0, -1).Result()
	exactlyOnce(t, got, 50)
	if !o.plain.Load() || !strings.Contains(logs.String(), "refuses Lua scripts") {
		t.Errorf("plain %v, log %q", o.plain.Load(), logs.String())
	}
}

// TestNoLossThroughCut: the connection to Redis is cut for 2s in the middle
// of a stream of batches, then restored: every document is in the list
// exactly once.
func TestNoLossThroughCut(t *testing.T) {
	addr := startRedis(t, portA)
	px, err := outtest.NewProxy(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Cut()
	o := newOutput(t, map[string]any{"hosts": []any{px.Addr}, "key": "cut", "bulk_max_size": 50, "worker": 2, "timeout": "1s",
		"backoff": map[string]any{"init": "50ms", "max": "500ms"}})
	ss := samples(t)
	const total, per = 5000, 250
	var sent atomic.Int64
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < total; i += per {
			if err := o.Publish(context.Background(), outtest.Docs(ss, i, per)); err != nil {
				errc <- err
				return
			}
			sent.Store(int64(i + per))
		}
		errc <- nil
	}()
	for sent.Load() < 1000 {
		time.Sleep(time.Millisecond)
	}
	px.Cut()
	atCut := sent.Load()
	time.Sleep(2 * time.Second)
	if err := px.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if atCut >= total {
		t.Fatal("cut after everything was sent")
	}
	got, _ := reader(t, addr, 0, "").LRange(context.Background(), "cut", 0, -1).Result()
	exactlyOnce(t, got, total)
	st := o.Stats()
	if st.Published != total || st.Retries == 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("cut after %d documents for 2s: %d in the list, each once; chunks found already written on resend: %d; stats %+v", atCut, len(got), o.Resent(), st)
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(map[string]any{"hosts": []any{"r1", "r2:6380", "rediss://:pw@r3/2"}, "type": "redis"})
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := c.Keys.Const(); !ok || k != "network-traffic" {
		t.Errorf("default key %q", k)
	}
	h := c.Hosts
	if h[0].Addr != "r1:6379" || h[1].Addr != "r2:6380" || h[2].Addr != "r3:6379" || h[2].Password != "pw" || h[2].DB != 2 || !h[2].TLS {
		t.Errorf("hosts %+v", h)
	}
	if c, err := ParseConfig(map[string]any{"hosts": "a", "index": "old-%{[x]}", "max_retries": -1}); err != nil || c.Keys.String() != "old-%{[x]}" {
		t.Errorf("index as key: %v", err)
	}
	if !c.LoadBalance || c.DataType != "list" || c.Timeout != 5*time.Second || c.BulkMaxSize != 2048 {
		t.Errorf("defaults %+v", c)
	}
	for want, m := range map[string]map[string]any{
		"hosts: at least one":                   {},
		"unknown redis output setting sentinel": {"hosts": "a", "sentinel": "x"},
		"datatype: \"set\"":                     {"hosts": "a", "datatype": "set"},
		"codec: not supported":                  {"hosts": "a", "codec": map[string]any{"format": map[string]any{"string": "%{[message]}"}}},
		"keys[0]: when:":                        {"hosts": "a", "keys": []any{map[string]any{"key": "x", "when": map[string]any{"nope": 1}}}},
		"key: format":                           {"hosts": "a", "key": "%{[unclosed"},
		"db: -1":                                {"hosts": "a", "db": -1},
		"scheme \"http\"":                       {"hosts": "http://a"},
		"proxy_url: not supported":              {"hosts": "a", "proxy_url": "socks5://p"},
	} {
		_, err := ParseConfig(m)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: got %v, want %q", m, err, want)
		}
	}
}

func slogTo(b *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

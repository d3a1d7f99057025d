package shipper

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/output/shipper/shipperfake"
)

func docs(from, n int) []output.Doc {
	out := make([]output.Doc, n)
	for i := range out {
		out[i] = output.Doc{Index: "logs-network_traffic.dns-default", Body: []byte(fmt.Sprintf(
			`{"@timestamp":"2026-01-02T03:04:05.123456789Z","seq":%d,"data_stream":{"type":"logs","dataset":"network_traffic.dns","namespace":"default"},"dns":{"id":%d}}`, from+i, from+i))}
	}
	return out
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newOut(t *testing.T, addr string) *Output {
	o, err := FromMap(map[string]any{"type": "shipper", "server": addr, "bulk_max_size": float64(50),
		"backoff": map[string]any{"init": "10ms", "max": "100ms"}, "ack_polling_interval": "10ms", "timeout": "2s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func seqs(t *testing.T, st *shipperfake.Store) []int {
	var out []int
	for _, ev := range st.Events() {
		out = append(out, int(ev.Fields.Data["seq"].GetNumberValue()))
	}
	sort.Ints(out)
	return out
}

func TestPublishConvertsAndWaitsForPersistence(t *testing.T) {
	st := shipperfake.NewStore()
	addr := freeAddr(t)
	sh := mustStart(t, addr, st, 30*time.Millisecond)
	defer sh.Kill()
	o := newOut(t, addr)
	start := time.Now()
	if err := o.Publish(context.Background(), docs(0, 120)); err != nil {
		t.Fatal(err)
	}
	// Publish returns only once persisted: everything is in the store now.
	if n := st.Count(); n != 120 {
		t.Fatalf("persisted %d of 120 when Publish returned (after %v)", n, time.Since(start))
	}
	var ev = func() any {
		for _, e := range st.Events() {
			if e.Fields.Data["seq"].GetNumberValue() == 7 {
				return e
			}
		}
		return nil
	}()
	e := ev.(interface{ String() string }).String()
	for _, want := range []string{`type:"logs"`, `dataset:"network_traffic.dns"`, `namespace:"default"`, `seconds:1767323045`, `nanos:123456789`, `"_id"`} {
		if !strings.Contains(e, want) {
			t.Errorf("event lacks %s: %s", want, e)
		}
	}
	if strings.Contains(e, `"@timestamp"`) {
		t.Error("@timestamp should move to the event timestamp")
	}
	if s := o.Stats(); s.Published != 120 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInvalidDocumentCounted(t *testing.T) {
	st := shipperfake.NewStore()
	addr := freeAddr(t)
	sh := mustStart(t, addr, st, 10*time.Millisecond)
	defer sh.Kill()
	o := newOut(t, addr)
	batch := append(docs(0, 2), output.Doc{Index: "x", Body: []byte(`{"broken`)})
	if err := o.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if s := o.Stats(); s.Published != 2 || s.Failed != 1 || !strings.Contains(s.LastError, "invalid document") {
		t.Fatalf("stats %+v", s)
	}
}

func TestShipperAwayBlocks(t *testing.T) {
	o := newOut(t, freeAddr(t)) // nobody listening
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := o.Publish(ctx, docs(0, 3))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if s := o.Stats(); s.Retries == 0 || s.Published != 0 || s.LastError == "" {
		t.Fatalf("stats %+v", s)
	}
}

// Kill the shipper mid-stream (losing what it accepted but had not
// persisted), restart it with a new uuid on the same address: every document
// arrives exactly once.
func TestKillRestartExactlyOnce(t *testing.T) {
	st := shipperfake.NewStore()
	addr := freeAddr(t)
	sh := mustStart(t, addr, st, 40*time.Millisecond)
	o := newOut(t, addr)
	const total, per = 1000, 40
	var wg sync.WaitGroup
	var pubErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < total; i += per {
			if err := o.Publish(context.Background(), docs(i, per)); err != nil {
				pubErr = err
				return
			}
		}
	}()
	// Kill while the shipper holds accepted, unpersisted events.
	var lost int
	for !sh.KillWhen(func(queued, stored int) bool { lost = queued; return stored >= 200 && queued > 0 }) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	sh2 := mustStart(t, addr, st, 40*time.Millisecond)
	defer sh2.Kill()
	wg.Wait()
	if pubErr != nil {
		t.Fatal(pubErr)
	}
	got := seqs(t, st)
	if len(got) != total {
		t.Fatalf("store has %d documents, want %d", len(got), total)
	}
	for i, s := range got {
		if s != i {
			t.Fatalf("seq %d at %d", s, i)
		}
	}
	s := o.Stats()
	if s.Published != total || s.Retries == 0 {
		t.Fatalf("stats %+v", s)
	}
	t.Logf("killed with %d accepted-unpersisted events; client resent %d; dupes at store %d", lost, o.resent.Load(), st.Dupes())
	// Events persisted just before the kill whose acknowledgement the
	// client never saw are resent; the _id makes the store (like
	// Elasticsearch, 409) keep one copy. Lost ones must have been resent.
	if lost == 0 {
		t.Fatal("the kill lost nothing; the test did not exercise recovery")
	}
}

func TestParseConfig(t *testing.T) {
	if _, err := ParseConfig(map[string]any{"type": "shipper"}); err == nil {
		t.Error("no server accepted")
	}
	c, err := ParseConfig(map[string]any{"server": "unix:///run/shipper.sock", "timeout": "5s"})
	if err != nil || c.Server != "unix:///run/shipper.sock" || c.Timeout != 5*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := ParseConfig(map[string]any{"server": "x:1", "ssl": map[string]any{"certificate_authorities": []any{"/nope"}}}); err == nil {
		t.Error("missing CA accepted")
	}
}

// The shipper accepts a batch, then restarts before persisting it: the client
// must notice the new uuid and send the batch again.
func TestRestartBeforePersistResends(t *testing.T) {
	st := shipperfake.NewStore()
	addr := freeAddr(t)
	sh := mustStart(t, addr, st, time.Hour) // never persists
	o := newOut(t, addr)
	done := make(chan error, 1)
	go func() { done <- o.Publish(context.Background(), docs(0, 30)) }()
	for sh.Queued() != 30 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond) // client is now polling the persisted index
	sh.Kill()
	sh2 := mustStart(t, addr, st, 10*time.Millisecond)
	defer sh2.Kill()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Publish did not finish after the restart")
	}
	if got := seqs(t, st); len(got) != 30 || got[0] != 0 || got[29] != 29 {
		t.Fatalf("store %v", got)
	}
	if r := o.resent.Load(); r != 30 {
		t.Fatalf("resent %d, want 30", r)
	}
}

func mustStart(t *testing.T, addr string, st *shipperfake.Store, persist time.Duration) *shipperfake.Server {
	t.Helper()
	s, err := shipperfake.Start(addr, st, persist)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

package logstash

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	lumber "github.com/elastic/go-lumber/client/v2"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/output/reach"
)

// Output is a lumberjack v2 output. Publish splits the batch into windows
// and returns once every event of it has been acknowledged by a server:
// a window whose acknowledgement does not come (connection lost, timeout)
// is sent again, from the first event the server did not acknowledge, on
// the same host after reconnecting or on another. Delivery is at least
// once: a server that received a window but whose acknowledgement was lost
// gets it twice, as with Beats.
type Output struct {
	cfg *Config
	log *slog.Logger

	slots  []*slot // len(Hosts) * Workers, host-major
	active int     // failover mode: index of the host in use
	mu     sync.Mutex

	idPrefix string
	idSeq    atomic.Uint64

	published atomic.Uint64
	retries   atomic.Uint64
	errMu     sync.Mutex
	lastErr   string

	// sleep waits with ctx; replaced by tests.
	sleep func(ctx context.Context, d time.Duration) error
	// idle is how long a connection may sit unused before it is replaced
	// (idleReconnect; shorter in tests).
	idle time.Duration
}

// slot is one connection to one host, used by one goroutine at a time.
type slot struct {
	host    string
	cl      *lumber.Client
	conn    net.Conn
	since   time.Time // connected at (ttl)
	used    time.Time // last window sent
	win     int       // current window size
	backoff time.Duration
	retryAt time.Time // after a failure, not used before this
	// probe: while connecting fails, the host is probed every second so
	// the first connection it accepts ends the backoff.
	probe reach.Prober
}

// New builds the output. It connects lazily: a Logstash that is down at start
// is the same as one that goes down later.
func New(cfg *Config, log *slog.Logger) (*Output, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var rnd [9]byte
	_, _ = rand.Read(rnd[:])
	o := &Output{cfg: cfg, log: log, sleep: sleepCtx, idle: idleReconnect, idPrefix: base64.RawURLEncoding.EncodeToString(rnd[:])}
	for _, h := range cfg.Hosts {
		for range cfg.Workers {
			s := &slot{host: h, backoff: cfg.BackoffInit, win: cfg.BulkMaxSize}
			if cfg.SlowStart {
				s.win = 1
			}
			o.slots = append(o.slots, s)
		}
	}
	if !cfg.LoadBalance && len(cfg.Hosts) > 1 {
		// Like Beats: start on a random host so many agents spread out.
		var b [2]byte
		_, _ = rand.Read(b[:])
		o.active = int(binary.BigEndian.Uint16(b[:])) % len(cfg.Hosts)
	}
	return o, nil
}

// FromMap parses the output unit's config and builds the output.
func FromMap(m map[string]any, log *slog.Logger) (*Output, error) {
	cfg, err := ParseConfig(m)
	if err != nil {
		return nil, err
	}
	return New(cfg, log)
}

// Stats implements output.StatsReporter. Published counts acknowledged
// events; Retries counts events sent again.
func (o *Output) Stats() output.Stats {
	o.errMu.Lock()
	defer o.errMu.Unlock()
	return output.Stats{
		Published: o.published.Load(),
		Retries:   o.retries.Load(),
		LastError: o.lastErr,
	}
}

// ReusesBodies implements publish.BodyReuser: events are copied into the
// window's buffer, nothing is kept after Publish.
func (o *Output) ReusesBodies() bool { return true }

// Close closes every connection. Publish must not run concurrently.
func (o *Output) Close() error {
	for _, s := range o.slots {
		s.disconnect()
	}
	return nil
}

// queue holds the events of one Publish not yet acknowledged, in order.
type queue struct {
	mu    sync.Mutex
	items [][]byte
}

// take removes up to n events from the front.
func (q *queue) take(n int) [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.items))
	if n == 0 {
		return nil
	}
	w := q.items[:n:n]
	q.items = q.items[n:]
	return w
}

// putBack returns unacknowledged events to the front.
func (q *queue) putBack(windows ...[][]byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var n int
	for _, w := range windows {
		n += len(w)
	}
	if n == 0 {
		return
	}
	items := make([][]byte, 0, n+len(q.items))
	for _, w := range windows {
		items = append(items, w...)
	}
	q.items = append(items, q.items...)
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func (q *queue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0
}

// Publish sends the batch and returns once every event is acknowledged, or
// ctx's error.
func (o *Output) Publish(ctx context.Context, batch []output.Doc) error {
	if len(batch) == 0 {
		return nil
	}
	q := &queue{items: make([][]byte, len(batch))}
	size := 0
	for _, d := range batch {
		size += len(d.Body) + len(d.Index) + metaOverhead
	}
	buf := make([]byte, 0, size)
	for i, d := range batch {
		start := len(buf)
		buf = o.appendEvent(buf, d)
		q.items[i] = buf[start:len(buf):len(buf)]
	}
	for !q.empty() {
		if err := ctx.Err(); err != nil {
			return err
		}
		slots, wait := o.ready()
		if len(slots) == 0 {
			if err := o.sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		// Spread a batch over the connections so they work at once (Beats
		// gets that from several batches in flight; Publish has one): each
		// takes at most its share this round. Not over the pipeline of one
		// connection: each window costs a new compressor.
		share := max(minShare, (q.len()+len(slots)-1)/len(slots))
		var wg sync.WaitGroup
		var failed atomic.Bool
		for _, s := range slots {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if !o.drain(ctx, s, q, share) {
					failed.Store(true)
				}
			}()
		}
		wg.Wait()
		if !o.cfg.LoadBalance && len(o.cfg.Hosts) > 1 && failed.Load() {
			o.mu.Lock()
			o.active = (o.active + 1) % len(o.cfg.Hosts)
			o.mu.Unlock()
		}
	}
	return nil
}

// ready returns the slots to use now: with loadbalance every slot not
// backing off, else the active host's. With none ready, how long to wait.
func (o *Output) ready() ([]*slot, time.Duration) {
	now := time.Now()
	o.mu.Lock()
	active := o.active
	o.mu.Unlock()
	var out []*slot
	wait := o.cfg.BackoffMax
	for i, s := range o.slots {
		if !o.cfg.LoadBalance && i/o.cfg.Workers != active {
			continue
		}
		if d := s.retryAt.Sub(now); d > 0 {
			up, next := s.probe.Check(s.host, now)
			if !up {
				if next > 0 {
					d = min(d, next)
				}
				wait = min(wait, d)
				continue
			}
			s.retryAt = time.Time{} // the backoff is over: later batches use it too
			o.log.Info("logstash output: host accepts connections again, resending", "host", s.host)
		}
		out = append(out, s)
	}
	return out, wait
}

// drain sends windows from q over s until q is empty; it reports false when
// the connection failed (what was not acknowledged is back in q).
func (o *Output) drain(ctx context.Context, s *slot, q *queue, share int) bool {
	if err := o.connect(ctx, s); err != nil {
		o.fail(s, err, q.len())
		return false
	}
	// A cancelled Publish must not wait for a read deadline.
	stop := unblockOnCancel(ctx, s.conn)
	defer func() { stop() }()
	var inflight [][][]byte
	taken := 0
	for {
		for len(inflight) <= o.cfg.Pipelining && !s.expired(o.cfg.TTL) && taken < share {
			w := q.take(min(s.win, share-taken))
			if w == nil {
				break
			}
			if err := s.cl.Send(anys(w)); err != nil {
				inflight = append(inflight, w)
				q.putBack(inflight...)
				if ctx.Err() != nil {
					s.disconnect()
					return false
				}
				o.fail(s, fmt.Errorf("send to %s: %w", s.host, err), count(inflight))
				return false
			}
			s.used = time.Now()
			taken += len(w)
			inflight = append(inflight, w)
		}
		if len(inflight) == 0 {
			if q.empty() || taken >= share {
				return true // done, or the rest is for others / the next round
			}
			// ttl reached with nothing in flight: reconnect and go on.
			stop()
			s.disconnect()
			if err := o.connect(ctx, s); err != nil {
				o.fail(s, err, q.len())
				return false
			}
			stop = unblockOnCancel(ctx, s.conn)
			continue
		}
		w := inflight[0]
		n, err := awaitACK(s.cl, len(w))
		o.published.Add(uint64(n))
		if err != nil {
			rest := append([][][]byte{w[n:]}, inflight[1:]...)
			q.putBack(rest...)
			if ctx.Err() != nil {
				s.disconnect()
				return false
			}
			o.fail(s, fmt.Errorf("no acknowledgement from %s for %d of %d events: %w", s.host, len(w)-n, len(w), err), count(rest))
			return false
		}
		inflight = inflight[1:]
		s.backoff = o.cfg.BackoffInit
		s.probe.Succeeded()
		if o.cfg.SlowStart && len(w) == s.win {
			s.win = min(s.win*2, o.cfg.BulkMaxSize)
		}
	}
}

// minShare: windows are not cut smaller than this to spread a batch.
const minShare = 32

// idleReconnect: Logstash's beats input closes clients idle for 60s by
// default (client_inactivity_timeout); a window written into such a socket
// is lost to a reset and counts as a retry. Reconnecting first avoids it.
const idleReconnect = 45 * time.Second

func (s *slot) expired(ttl time.Duration) bool {
	return ttl > 0 && time.Since(s.since) >= ttl
}

func (o *Output) connect(ctx context.Context, s *slot) error {
	if s.cl != nil && (s.expired(o.cfg.TTL) || time.Since(s.used) > o.idle) {
		s.disconnect()
	}
	if s.cl != nil {
		return nil
	}
	d := net.Dialer{Timeout: o.cfg.Timeout}
	c, err := d.DialContext(ctx, "tcp", s.host)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", s.host, err)
	}
	if o.cfg.TLS != nil {
		tc := o.cfg.TLS.Clone()
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(s.host)
		}
		conn := tls.Client(c, tc)
		hctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
		err := conn.HandshakeContext(hctx)
		cancel()
		if err != nil {
			c.Close()
			return fmt.Errorf("TLS handshake with %s: %w", s.host, err)
		}
		c = conn
	}
	cl, err := lumber.NewWithConn(c,
		lumber.Timeout(o.cfg.Timeout),
		lumber.CompressionLevel(o.cfg.CompressionLevel),
		lumber.JSONEncoder(rawJSON))
	if err != nil {
		c.Close()
		return err
	}
	s.cl, s.conn, s.since, s.used = cl, c, time.Now(), time.Now()
	return nil
}

func (s *slot) disconnect() {
	if s.cl != nil {
		s.cl.Close()
		s.cl, s.conn = nil, nil
	}
}

// awaitACK reads acknowledgements until the window of n events is
// acknowledged. Keepalives (seq 0) and partial acknowledgements extend the
// wait; on error it returns how many events were acknowledged so far, so
// only the rest is sent again.
func awaitACK(cl *lumber.Client, n int) (int, error) {
	acked := 0
	for acked < n {
		seq, err := cl.ReceiveACK()
		if err != nil {
			return acked, err
		}
		if int(seq) > n {
			return acked, fmt.Errorf("acknowledgement for event %d of a window of %d", seq, n)
		}
		acked = max(acked, int(seq))
	}
	return acked, nil
}

func unblockOnCancel(ctx context.Context, c net.Conn) func() bool {
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
}

func count(ws [][][]byte) int {
	n := 0
	for _, w := range ws {
		n += len(w)
	}
	return n
}

// fail closes the connection, notes the error and backs the slot off;
// resent events were put back in the queue and count as retries.
func (o *Output) fail(s *slot, err error, resent int) {
	s.disconnect()
	o.noteError(err)
	o.retries.Add(uint64(resent))
	if o.cfg.SlowStart {
		s.win = max(s.win/2, 1)
	}
	s.retryAt = time.Now().Add(s.backoff)
	s.backoff = min(s.backoff*2, o.cfg.BackoffMax)
	s.probe.Failed(err)
	o.log.Warn("logstash output: retrying", "host", s.host, "error", err)
}

func (o *Output) noteError(err error) {
	o.errMu.Lock()
	o.lastErr = err.Error()
	o.errMu.Unlock()
}

// metaOverhead is about what appendEvent adds besides the index name.
const metaOverhead = 128

// appendEvent writes the document with an @metadata object in front, the
// way Beats sends events to Logstash: pipelines route on
// [@metadata][beat] and, for data streams, [@metadata][raw_index].
// [@metadata][_id] is unique per event and the same when a window is sent
// again, so a pipeline with `document_id => "%{[@metadata][_id]}"` stores
// a resent event once.
func (o *Output) appendEvent(buf []byte, d output.Doc) []byte {
	body := d.Body
	for len(body) > 0 && (body[len(body)-1] == '\n' || body[len(body)-1] == ' ') {
		body = body[:len(body)-1]
	}
	if len(body) < 2 || body[0] != '{' {
		// Not an object: send as is, Logstash reports it.
		return append(buf, body...)
	}
	buf = append(buf, `{"@metadata":{"beat":`...)
	buf = appendJSONString(buf, o.cfg.Index)
	buf = append(buf, `,"type":"_doc","_id":`...)
	if d.ID != "" {
		// Set before the output (a processor, or queue.disk so that a
		// resend after a restart keeps it).
		buf = appendJSONString(buf, d.ID)
	} else {
		buf = append(buf, '"')
		buf = append(buf, o.idPrefix...)
		var seq [8]byte
		binary.BigEndian.PutUint64(seq[:], o.idSeq.Add(1))
		buf = base64.RawURLEncoding.AppendEncode(buf, seq[2:])
		buf = append(buf, '"')
	}
	if d.Index != "" {
		buf = append(buf, `,"raw_index":`...)
		buf = appendJSONString(buf, d.Index)
	}
	buf = append(buf, '}')
	rest := body[1:]
	if len(rest) > 0 && rest[0] != '}' {
		buf = append(buf, ',')
	}
	return append(buf, rest...)
}

func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(buf, b...)
}

// rawJSON is the go-lumber encoder: events are already JSON.
func rawJSON(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, errors.New("event is not encoded JSON")
	}
	return b, nil
}

func anys(w [][]byte) []any {
	out := make([]any, len(w))
	for i, b := range w {
		out[i] = b
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

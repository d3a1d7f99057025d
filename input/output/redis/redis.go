package redis

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"github.com/network-traffic/network-traffic/input/output/ratelog"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/output/reach"
)

// Output writes documents to Redis. Publish returns once every event of the
// batch is written (the server replied) or counted as failed.
//
// Each round trip (up to bulk_max_size events) is one Lua script that
// first sets a marker key for the chunk (SET NX with an expiry) and writes
// only if the marker was not there. A chunk whose reply was lost (the
// connection cut after Redis ran it) is sent again and finds its marker, so
// lists and channels get every event exactly once. The marker is deleted by
// the next chunk on the same connection, so only markers of lost replies
// stay, until they expire. A server that refuses scripts (ACLs without
// EVAL) gets plain pipelined RPUSH/PUBLISH instead, at least once, with a
// warning.
type Output struct {
	cfg *Config
	log *slog.Logger

	slots  []*slot
	active int // without loadbalance: the host in use
	mu     sync.Mutex

	plain    atomic.Bool // the server refused the script
	idPrefix string
	idSeq    atomic.Uint64

	published atomic.Uint64
	failed    atomic.Uint64
	retries   atomic.Uint64
	resent    atomic.Uint64 // chunks found already written (lost replies)
	errMu     sync.Mutex
	lastErr   string
	warnLimit ratelog.Limiter

	sleep func(ctx context.Context, d time.Duration) error
}

type slot struct {
	host    Host
	cl      *goredis.Client
	stale   []string // markers of chunks acknowledged, to delete
	backoff time.Duration
	retryAt time.Time
	// probe: while connecting fails, the host is probed every second so
	// the first connection it accepts ends the backoff.
	probe reach.Prober
}

// minShare: chunks are not cut smaller than this to spread a batch.
const minShare = 32

// markerTTL bounds how long a marker of a chunk whose reply was lost stays:
// a resend within it is recognised.
const markerTTL = time.Hour

// writeScript: KEYS[1] the chunk's marker, KEYS[2..1+ARGV[3]] markers to
// delete, then the destination keys. ARGV: marker ttl (ms), the command
// (RPUSH or PUBLISH), the number of markers to delete, then pairs of
// (index into KEYS, document). With RPUSH, keys holding another type are
// reported before anything is written.
var writeScript = goredis.NewScript(`
local ndel = tonumber(ARGV[3])
for i = 2, 1 + ndel do redis.call('DEL', KEYS[i]) end
if ARGV[2] == 'RPUSH' then
  local bad = {}
  for i = 2 + ndel, #KEYS do
    local t = redis.call('TYPE', KEYS[i]).ok
    if t ~= 'list' and t ~= 'none' then table.insert(bad, KEYS[i]) end
  end
  if #bad > 0 then return bad end
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
for i = 4, #ARGV, 2 do redis.call(ARGV[2], KEYS[tonumber(ARGV[i])], ARGV[i + 1]) end
return 1
`)

// New builds the output; it connects lazily.
func New(cfg *Config, log *slog.Logger) (*Output, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var rnd [9]byte
	_, _ = rand.Read(rnd[:])
	// go-redis logs through a package-wide logger, by default plain lines
	// on stderr; in agent mode stderr carries JSON log lines only.
	goredis.SetLogger(redisLog{log})
	o := &Output{cfg: cfg, log: log, sleep: sleepCtx,
		idPrefix: "network-traffic:chunk:" + base64.RawURLEncoding.EncodeToString(rnd[:]) + ":"}
	for _, h := range cfg.Hosts {
		for range cfg.Workers {
			o.slots = append(o.slots, &slot{host: h, cl: o.client(h), backoff: cfg.BackoffInit})
		}
	}
	if !cfg.LoadBalance && len(cfg.Hosts) > 1 {
		var b [2]byte
		_, _ = rand.Read(b[:])
		o.active = int(binary.BigEndian.Uint16(b[:])) % len(cfg.Hosts)
	}
	return o, nil
}

func (o *Output) client(h Host) *goredis.Client {
	opts := &goredis.Options{
		Addr:                  h.Addr,
		Password:              h.Password,
		DB:                    h.DB,
		Protocol:              2, // RESP2: any Redis version, no HELLO
		DialTimeout:           o.cfg.Timeout,
		ReadTimeout:           o.cfg.Timeout,
		WriteTimeout:          o.cfg.Timeout,
		ContextTimeoutEnabled: true,
		PoolSize:              1,  // one connection per slot; worker sets how many
		MaxRetries:            -1, // we retry whole chunks, with backoff
		DialerRetries:         1,  // likewise for connecting
		DisableIdentity:       true,
	}
	if o.cfg.TLS != nil || h.TLS {
		var tc = o.cfg.TLS
		if tc == nil {
			tc = defaultTLS()
		}
		tc = tc.Clone()
		if tc.ServerName == "" {
			tc.ServerName, _, _ = net.SplitHostPort(h.Addr)
		}
		opts.TLSConfig = tc
	}
	return goredis.NewClient(opts)
}

// FromMap parses the output unit's config and builds the output.
func FromMap(m map[string]any, log *slog.Logger) (*Output, error) {
	cfg, err := ParseConfig(m)
	if err != nil {
		return nil, err
	}
	return New(cfg, log)
}

// Stats implements output.StatsReporter.
func (o *Output) Stats() output.Stats {
	o.errMu.Lock()
	defer o.errMu.Unlock()
	return output.Stats{
		Published: o.published.Load(),
		Failed:    o.failed.Load(),
		Retries:   o.retries.Load(),
		LastError: o.lastErr,
	}
}

// Resent counts chunks sent again that Redis had already written (their
// reply was lost); they were not written twice.
func (o *Output) Resent() uint64 { return o.resent.Load() }

// ReusesBodies implements publish.BodyReuser: go-redis writes the bytes
// during the call and keeps nothing.
func (o *Output) ReusesBodies() bool { return true }

// Close closes every connection.
func (o *Output) Close() error {
	for _, s := range o.slots {
		_ = s.cl.Close()
	}
	return nil
}

// chunk is one round trip's events.
type chunk struct {
	id    string
	keys  []string // distinct destination keys
	index []int    // per event: index into keys
	docs  [][]byte
}

// Publish writes the batch and returns once every event is written or
// counted as failed, or ctx's error.
func (o *Output) Publish(ctx context.Context, batch []output.Doc) error {
	// A batch smaller than bulk_max_size is spread over the connections
	// ready now, so they write at once.
	ready, _ := o.ready()
	size := o.cfg.BulkMaxSize
	if n := len(ready); n > 1 {
		size = min(size, max(minShare, (len(batch)+n-1)/n))
	}
	chunks := o.chunks(batch, size)
	q := &queue{items: chunks}
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
		var wg sync.WaitGroup
		var failed atomic.Bool
		for _, s := range slots {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if !o.drain(ctx, s, q) {
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

// chunks selects each event's key and cuts the batch into round trips.
func (o *Output) chunks(batch []output.Doc, size int) []*chunk {
	var out []*chunk
	var cur *chunk
	var keyIdx map[string]int
	constKey, isConst := o.cfg.Keys.Const()
	for _, d := range batch {
		key := constKey
		if !isConst {
			k, err := o.cfg.Keys.Select(d.Body)
			if err != nil {
				o.failed.Add(1)
				o.noteError(err)
				o.logLimited("redis output: event dropped", "error", err)
				continue
			}
			key = k
		}
		if cur == nil || len(cur.docs) == size {
			cur = &chunk{id: o.nextID()}
			out = append(out, cur)
			keyIdx = map[string]int{}
		}
		i, ok := keyIdx[key]
		if !ok {
			i = len(cur.keys)
			keyIdx[key] = i
			cur.keys = append(cur.keys, key)
		}
		cur.index = append(cur.index, i)
		cur.docs = append(cur.docs, d.Body)
	}
	return out
}

func (o *Output) nextID() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], o.idSeq.Add(1))
	return o.idPrefix + base64.RawURLEncoding.EncodeToString(b[2:])
}

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
			up, next := s.probe.Check(s.host.Addr, now)
			if !up {
				if next > 0 {
					d = min(d, next)
				}
				wait = min(wait, d)
				continue
			}
			s.retryAt = time.Time{} // the backoff is over: later batches use it too
			o.log.Info("redis output: host accepts connections again, resending", "host", s.host.Addr)
		}
		out = append(out, s)
	}
	return out, wait
}

// drain writes chunks from q over s until q is empty; false when the
// connection failed (the chunk is back in q).
func (o *Output) drain(ctx context.Context, s *slot, q *queue) bool {
	for {
		c := q.take()
		if c == nil {
			return true
		}
		rest, err := o.write(ctx, s, c)
		if err != nil {
			q.putBack(c)
			if ctx.Err() == nil {
				o.fail(s, err, len(c.docs))
			}
			return false
		}
		if rest != nil {
			q.putBack(rest)
		}
		s.backoff = o.cfg.BackoffInit
		s.probe.Succeeded()
	}
}

// write sends one chunk. It returns an error when the chunk must be sent
// again, or a new chunk of the events still to write after events for keys
// of the wrong type were dropped.
func (o *Output) write(ctx context.Context, s *slot, c *chunk) (*chunk, error) {
	if o.plain.Load() {
		return nil, o.writePlain(ctx, s, c)
	}
	cmd := "RPUSH"
	if o.cfg.DataType == "channel" {
		cmd = "PUBLISH"
	}
	keys := make([]string, 0, 1+len(s.stale)+len(c.keys))
	keys = append(keys, c.id)
	keys = append(keys, s.stale...)
	keys = append(keys, c.keys...)
	base := 1 + 1 + len(s.stale) // Lua index of the first destination key
	args := make([]any, 0, 3+2*len(c.docs))
	args = append(args, markerTTL.Milliseconds(), cmd, len(s.stale))
	for i, d := range c.docs {
		args = append(args, base+c.index[i], d)
	}
	res, err := writeScript.Run(ctx, s.cl, keys, args...).Result()
	if err != nil {
		if refusesScripts(err) {
			o.plain.Store(true)
			o.log.Warn("redis output: the server refuses Lua scripts; writing with plain commands, a chunk whose reply is lost may be written twice", "error", err)
			return nil, o.writePlain(ctx, s, c)
		}
		return nil, fmt.Errorf("%s on %s: %w", strings.ToLower(cmd), s.host.Addr, err)
	}
	s.stale = s.stale[:0]
	switch r := res.(type) {
	case int64:
		if r == 0 {
			o.resent.Add(1)
		}
		s.stale = append(s.stale, c.id)
		o.published.Add(uint64(len(c.docs)))
		return nil, nil
	case []any:
		// Keys holding another type: drop their events, write the rest.
		bad := map[string]bool{}
		for _, k := range r {
			if ks, ok := k.(string); ok {
				bad[ks] = true
			}
		}
		rest := &chunk{id: o.nextID()}
		idx := map[string]int{}
		dropped := 0
		for i, d := range c.docs {
			k := c.keys[c.index[i]]
			if bad[k] {
				dropped++
				continue
			}
			j, ok := idx[k]
			if !ok {
				j = len(rest.keys)
				idx[k] = j
				rest.keys = append(rest.keys, k)
			}
			rest.index = append(rest.index, j)
			rest.docs = append(rest.docs, d)
		}
		o.failed.Add(uint64(dropped))
		names := make([]string, 0, len(bad))
		for k := range bad {
			names = append(names, k)
		}
		err := fmt.Errorf("redis key %s holds a value that is not a list: %d events dropped", strings.Join(names, ", "), dropped)
		o.noteError(err)
		o.logLimited("redis output: events dropped", "error", err)
		if len(rest.docs) == 0 {
			return nil, nil
		}
		return rest, nil
	}
	return nil, fmt.Errorf("unexpected script reply %v", res)
}

// writePlain pipelines RPUSH (consecutive events of one key in one
// command) or PUBLISH.
func (o *Output) writePlain(ctx context.Context, s *slot, c *chunk) error {
	pipe := s.cl.Pipeline()
	if o.cfg.DataType == "channel" {
		for i, d := range c.docs {
			pipe.Publish(ctx, c.keys[c.index[i]], d)
		}
	} else {
		for i := 0; i < len(c.docs); {
			j := i + 1
			for j < len(c.docs) && c.index[j] == c.index[i] {
				j++
			}
			vals := make([]any, 0, j-i)
			for _, d := range c.docs[i:j] {
				vals = append(vals, d)
			}
			pipe.RPush(ctx, c.keys[c.index[i]], vals...)
			i = j
		}
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		for _, cmd := range cmds {
			if cmd.Err() != nil && goredis.HasErrorPrefix(cmd.Err(), "WRONGTYPE") {
				// Resending cannot help; count the chunk as failed.
				o.failed.Add(uint64(len(c.docs)))
				o.noteError(fmt.Errorf("redis: %v", cmd.Err()))
				return nil
			}
		}
		return fmt.Errorf("redis on %s: %w", s.host.Addr, err)
	}
	o.published.Add(uint64(len(c.docs)))
	return nil
}

// refusesScripts: EVAL is not allowed (ACL) or not there.
func refusesScripts(err error) bool {
	msg := err.Error()
	return goredis.HasErrorPrefix(err, "NOPERM") || strings.Contains(msg, "unknown command") && strings.Contains(strings.ToLower(msg), "eval")
}

func (o *Output) fail(s *slot, err error, n int) {
	o.noteError(err)
	o.retries.Add(uint64(n))
	s.retryAt = time.Now().Add(s.backoff)
	s.backoff = min(s.backoff*2, o.cfg.BackoffMax)
	s.probe.Failed(err)
	o.logLimited("redis output: retrying", "host", s.host.Addr, "error", err)
}

func (o *Output) noteError(err error) {
	o.errMu.Lock()
	o.lastErr = err.Error()
	o.errMu.Unlock()
}

// logLimited logs at most one warning per second.
func (o *Output) logLimited(msg string, args ...any) {
	o.warnLimit.Warn(o.log, time.Second, msg, args...)
}

type queue struct {
	mu    sync.Mutex
	items []*chunk
}

func (q *queue) take() *chunk {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil
	}
	c := q.items[0]
	q.items = q.items[1:]
	return c
}

func (q *queue) putBack(c *chunk) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = append([]*chunk{c}, q.items...)
}

func (q *queue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0
}

// redisLog sends go-redis' messages to slog at debug level: the errors it
// logs are the ones Publish returns, noted in Stats and logged there.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("go-redis: " + fmt.Sprintf(format, v...))
}

func defaultTLS() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12} }

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

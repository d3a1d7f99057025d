package kafka

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/network-traffic/network-traffic/input/output/ratelog"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/output/reach"
)

// Output produces documents to Kafka. Publish sends the batch in requests
// of at most bulk_max_size records and returns once the broker has
// acknowledged every record (with required_acks 0, once it is written to
// the connection: there is no acknowledgement), or the record was counted
// as failed: larger than max_message_bytes, no topic, or refused by the
// broker in a way resending cannot fix (invalid topic name, record too
// large). Everything else (broker down, no leader, unknown topic, wrong
// credentials, TLS failure) is retried with backoff.init..backoff.max until
// published (or max_retries, when set), which holds the capture's queue
// instead of losing documents; Stats says why.
type Output struct {
	cfg *Config
	cl  *kgo.Client
	sel topicSelector
	log *slog.Logger

	recs  []kgo.Record // reused when no record of the last batch is still in the client
	dirty bool
	arena []byte // keys and pretty bodies of the current batch

	published atomic.Uint64
	failed    atomic.Uint64
	retries   atomic.Uint64
	tooLarge  atomic.Uint64
	mu        sync.Mutex
	lastErr   string
	warnLimit ratelog.Limiter
	closed    atomic.Bool

	sleep func(ctx context.Context, d time.Duration) error
	// unreachable: the last connection attempt to a broker failed to
	// connect (refused, unreachable): the client retries every second.
	unreachable atomic.Bool
}

// FromMap parses the output unit's config and builds the output.
func FromMap(m map[string]any, log *slog.Logger) (*Output, error) {
	cfg, err := ParseConfig(m)
	if err != nil {
		return nil, fmt.Errorf("kafka output: %w", err)
	}
	return New(cfg, log)
}

// New builds the output. It does not wait for a broker: one that is down
// at start is the same as one that goes down later (retry, backpressure).
func New(cfg *Config, log *slog.Logger) (*Output, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sel, err := newRuleSelector(cfg.topic, cfg.topics)
	if err != nil {
		return nil, err
	}
	o := &Output{cfg: cfg, sel: sel, log: log, sleep: sleepCtx}
	part := cfg.Partition
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Hosts...),
		kgo.ClientID(cfg.ClientID),
		kgo.MaxVersions(cfg.versions),
		kgo.AllowAutoTopicCreation(), // as Beats: the broker decides
		kgo.ProducerBatchCompression(cfg.codec),
		// A batch holds at least one record of max_message_bytes plus its
		// key and headers; the broker's message.max.bytes should be at
		// least max_message_bytes, as for Beats.
		kgo.ProducerBatchMaxBytes(int32(cfg.MaxMessageBytes + 1024)),
		kgo.ProduceRequestTimeout(cfg.BrokerTimeout),
		kgo.RequestTimeoutOverhead(cfg.Timeout),
		kgo.DialTimeout(cfg.Timeout),
		kgo.ProducerLinger(cfg.FlushFrequency),
		kgo.RecordPartitioner(&part),
		// No RecordDeliveryTimeout: franz-go measures it from the record's
		// timestamp, which is the event's (possibly hours old in a replay).
		// The client retries retriable errors itself; the hooks make them
		// visible in Stats.
		kgo.MetadataMaxAge(cfg.MetadataRefresh),
		// metadata.retry.backoff spaces metadata requests (default 250ms
		// instead of franz-go's 5s): a topic the broker just created has
		// no leader on the first look.
		kgo.MetadataMinAge(cfg.MetadataRetryBackoff),
		kgo.RequestRetries(cfg.MetadataRetries),
		kgo.RetryBackoffFn(func(n int) time.Duration {
			d := min(cfg.MetadataRetryBackoff<<min(n, 10), cfg.BackoffMax)
			if o.unreachable.Load() {
				// Connecting is what fails: a connect attempt every
				// second is the probe, so a broker back after a long
				// outage is used at once, not after up to backoff.max
				// (a 60s outage cost 28s more without this).
				d = min(d, reach.ProbeEvery)
			}
			return d
		}),
		kgo.WithHooks(append([]kgo.Hook{hooks{o}}, testHooks...)...),
		kgo.WithLogger(kgoLogger{log}),
	}
	if cfg.MaxRetries >= 0 {
		opts = append(opts, kgo.RecordRetries(cfg.MaxRetries+1))
	}
	switch cfg.RequiredAcks {
	case -1:
		// Idempotent writes: the broker drops duplicates of a resent batch.
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case 0:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	}
	if cfg.RequiredAcks != -1 {
		// Without idempotence franz-go keeps one produce request in flight
		// per broker; sarama (Beats) keeps 5, and so do idempotent writes.
		// A batch spread over partitions goes out in parallel requests.
		opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(5))
	}
	switch cfg.Mechanism {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: cfg.Username, Pass: cfg.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: cfg.Username, Pass: cfg.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: cfg.Username, Pass: cfg.Password}.AsSha512Mechanism()))
	}
	if cfg.KeepAlive > 0 {
		opts = append(opts, kgo.Dialer(dialer(cfg)))
	} else if cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg.TLS))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	o.cl = cl
	return o, nil
}

// testHooks are added to every client (tests count requests and batches).
var testHooks []kgo.Hook

// dialer sets TCP keep-alive (keep_alive), with TLS when configured.
func dialer(cfg *Config) func(ctx context.Context, network, host string) (net.Conn, error) {
	nd := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: cfg.KeepAlive}
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		if cfg.TLS == nil {
			return nd.DialContext(ctx, network, host)
		}
		tc := cfg.TLS.Clone()
		if tc.ServerName == "" {
			if h, _, err := net.SplitHostPort(host); err == nil {
				tc.ServerName = h
			}
		}
		return (&tls.Dialer{NetDialer: nd, Config: tc}).DialContext(ctx, network, host)
	}
}

// Stats implements output.StatsReporter. Retries counts failed connection
// attempts and requests and records sent again.
func (o *Output) Stats() output.Stats {
	o.mu.Lock()
	last := o.lastErr
	o.mu.Unlock()
	return output.Stats{
		Published: o.published.Load(),
		Failed:    o.failed.Load(),
		Retries:   o.retries.Load(),
		LastError: last,
	}
}

// Close stops the client. Records still in it (a Publish cancelled by an
// output swap) are abandoned: the queue sends that batch to the new output.
func (o *Output) Close() error {
	if o.closed.Swap(true) {
		return nil
	}
	o.cl.Close()
	return nil
}

// item is one document on its way.
type item struct {
	rec  *kgo.Record
	hash int64 // see partition.go; noHash when nothing to hash
}

type result struct {
	rec *kgo.Record
	err error
}

// Publish implements output.Output.
func (o *Output) Publish(ctx context.Context, batch []output.Doc) error {
	if len(batch) == 0 {
		return nil
	}
	if o.dirty {
		// The last Publish was cancelled with records still in the client,
		// which may yet read them and the keys in the arena.
		o.recs, o.arena, o.dirty = nil, nil, false
	}
	if cap(o.recs) < len(batch) {
		o.recs = make([]kgo.Record, len(batch))
	}
	recs := o.recs[:len(batch)]
	items := make([]item, 0, len(batch))
	o.arena = o.arena[:0]
	for i := range batch {
		it, ok := o.prepare(&recs[i], batch[i].Body)
		if ok {
			items = append(items, it)
		}
	}
	backoff := o.cfg.BackoffInit
	for attempt := 0; len(items) > 0; attempt++ {
		if attempt > 0 {
			if err := o.sleep(ctx, jitter(backoff)); err != nil {
				return err
			}
			backoff = min(backoff*2, o.cfg.BackoffMax)
		}
		var retry []item
		for len(items) > 0 {
			n := min(o.cfg.BulkMaxSize, len(items))
			again, err := o.send(ctx, items[:n])
			if err != nil {
				return err
			}
			retry = append(retry, again...)
			items = items[n:]
		}
		items = retry
	}
	return nil
}

// prepare fills rec for one document; false when the document is counted
// as failed instead.
func (o *Output) prepare(rec *kgo.Record, body []byte) (item, bool) {
	body = bytes.TrimRight(body, "\n")
	if o.cfg.Pretty {
		start := len(o.arena)
		var buf bytes.Buffer
		if json.Indent(&buf, body, "", "  ") == nil {
			o.arena = append(o.arena, buf.Bytes()...)
			body = o.arena[start:]
		}
	}
	if len(body) > o.cfg.MaxMessageBytes {
		o.tooLarge.Add(1)
		o.fail(fmt.Errorf("document of %d bytes is larger than max_message_bytes (%d)", len(body), o.cfg.MaxMessageBytes),
			"document dropped: larger than max_message_bytes", "bytes", len(body), "max_message_bytes", o.cfg.MaxMessageBytes)
		return item{}, false
	}
	topic, err := o.sel.topic(body)
	if err != nil {
		o.fail(fmt.Errorf("no topic for a document: %w", err), "document dropped: no topic", "error", err.Error())
		return item{}, false
	}
	*rec = kgo.Record{Topic: topic, Value: body, Headers: o.cfg.Headers}
	if ts, ok := lookup(body, "@timestamp"); ok && len(ts) > 2 && ts[0] == '"' {
		// The record's time is the event's, as Beats sets it.
		if t, err := time.Parse(time.RFC3339Nano, string(ts[1:len(ts)-1])); err == nil {
			rec.Timestamp = t
		}
	}
	if o.cfg.Key != nil {
		start := len(o.arena)
		if o.arena, err = o.cfg.Key.appendTo(o.arena, body); err == nil {
			rec.Key = o.arena[start:len(o.arena):len(o.arena)]
		} else {
			o.arena = o.arena[:start] // no key: Kafka's null key
		}
	}
	it := item{rec: rec, hash: noHash}
	if o.cfg.Partition.kind == partHash {
		it.hash = o.hashOf(rec, body)
	}
	return it, true
}

// hashOf hashes the configured fields' values, or the key.
func (o *Output) hashOf(rec *kgo.Record, body []byte) int64 {
	h := newFNV()
	if len(o.cfg.Partition.hashFields) == 0 {
		if len(rec.Key) == 0 {
			return noHash
		}
		h.write(rec.Key)
		return int64(uint32(h))
	}
	found := false
	var scratch [64]byte
	for _, f := range o.cfg.Partition.hashFields {
		if v, ok := lookup(body, f); ok {
			h.write(appendValue(scratch[:0], v))
			found = true
		}
	}
	if !found {
		return noHash
	}
	return int64(uint32(h))
}

// send produces one request's worth of records and waits for all of them.
// It returns the records to send again.
func (o *Output) send(ctx context.Context, items []item) ([]item, error) {
	results := make(chan result, len(items))
	promise := func(r *kgo.Record, err error) { results <- result{r, err} }
	for i := range items {
		it := &items[i]
		r := it.rec
		// Reset what the client set on an earlier attempt.
		r.Partition, r.Offset, r.LeaderEpoch, r.ProducerEpoch, r.ProducerID = 0, it.hash, 0, 0, 0
		r.Attrs = kgo.RecordAttrs{}
		o.cl.Produce(ctx, r, promise)
	}
	var failedRecs map[*kgo.Record]error
	ok := 0
	for range items {
		var res result
		select {
		case res = <-results:
		case <-ctx.Done():
			o.dirty = true // records may still be in the client
			return nil, ctx.Err()
		}
		if res.err == nil {
			ok++
			continue
		}
		if failedRecs == nil {
			failedRecs = map[*kgo.Record]error{}
		}
		failedRecs[res.rec] = res.err
	}
	o.published.Add(uint64(ok))
	if failedRecs == nil {
		return nil, nil
	}
	if ctx.Err() != nil {
		o.dirty = true
		return nil, ctx.Err()
	}
	var retry []item
	var lastRetry error
	for _, it := range items {
		err, bad := failedRecs[it.rec]
		if !bad {
			continue
		}
		switch {
		case errors.Is(err, kerr.InvalidTimestamp) && !it.rec.Timestamp.IsZero():
			// An event time outside what the broker accepts
			// (log.message.timestamp.*.max.ms, a skewed clock): send
			// again with the time of sending instead of losing it. The
			// broker refuses the whole batch, so its other records get
			// the sending time too.
			it.rec.Timestamp = time.Time{}
			retry = append(retry, it)
			lastRetry = err
		case permanent(err):
			o.fail(fmt.Errorf("record to topic %s refused: %w", it.rec.Topic, err),
				"document dropped: refused by the broker", "topic", it.rec.Topic, "error", err.Error())
		case o.cfg.MaxRetries >= 0:
			// The client already made max_retries+1 tries.
			o.fail(fmt.Errorf("record to topic %s dropped after max_retries (%d): %w", it.rec.Topic, o.cfg.MaxRetries, err),
				"document dropped: max_retries reached", "topic", it.rec.Topic, "error", err.Error())
		default:
			retry = append(retry, it)
			lastRetry = err
		}
	}
	if len(retry) > 0 {
		o.retries.Add(uint64(len(retry)))
		o.noteError(fmt.Errorf("%d of %d records to resend: %w", len(retry), len(items), explain(lastRetry)))
	}
	return retry, nil
}

// permanent tells errors that resending the same record cannot fix.
func permanent(err error) bool {
	switch {
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge),
		errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.InvalidRecord),
		errors.Is(err, kerr.CorruptMessage), errors.Is(err, kerr.UnsupportedCompressionType),
		errors.Is(err, kerr.UnsupportedForMessageFormat), errors.Is(err, kerr.InvalidRequiredAcks),
		errors.Is(err, kerr.InvalidTimestamp):
		return true
	}
	return false
}

// explain adds what a Fleet user can do to the errors they can act on.
func explain(err error) error {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("%w (the topic does not exist and the broker does not create topics: create it or enable auto.create.topics.enable)", err)
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return fmt.Errorf("%w (the user may not write to this topic: check the broker's ACLs)", err)
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("%w (check username, password and sasl.mechanism)", err)
	}
	return err
}

func (o *Output) fail(err error, msg string, args ...any) {
	o.failed.Add(1)
	o.noteError(err)
	o.logLimited(msg, args...)
}

func (o *Output) noteError(err error) {
	o.mu.Lock()
	o.lastErr = err.Error()
	o.mu.Unlock()
}

// logLimited logs at most one warning per second: a bad topic repeats for
// every document of a stream.
func (o *Output) logLimited(msg string, args ...any) {
	o.warnLimit.Warn(o.log, time.Second, msg, args...)
}

// hooks make connection and request failures visible in Stats while the
// client retries them internally.
type hooks struct{ o *Output }

func (h hooks) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	h.o.unreachable.Store(err != nil && reach.Unreachable(err))
	if err != nil {
		h.o.retries.Add(1)
		h.o.noteError(fmt.Errorf("connecting to %s: %w", net.JoinHostPort(meta.Host, fmt.Sprint(meta.Port)), explain(err)))
	}
}

func (h hooks) OnBrokerE2E(meta kgo.BrokerMetadata, _ int16, e2e kgo.BrokerE2E) {
	if err := e2e.Err(); err != nil && !errors.Is(err, context.Canceled) && !h.o.closed.Load() {
		h.o.retries.Add(1)
		h.o.noteError(fmt.Errorf("request to %s: %w", net.JoinHostPort(meta.Host, fmt.Sprint(meta.Port)), explain(err)))
	}
}

// kgoLogger passes the client's warnings and errors to slog.
type kgoLogger struct{ log *slog.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	switch level {
	case kgo.LogLevelError:
		l.log.Error("kafka: "+msg, kv...)
	case kgo.LogLevelWarn:
		l.log.Warn("kafka: "+msg, kv...)
	default:
		l.log.Debug("kafka: "+msg, kv...)
	}
}

func jitter(d time.Duration) time.Duration {
	var b [2]byte
	_, _ = rand.Read(b[:])
	// 75%..100% of d, so many agents don't retry in lockstep.
	return d*3/4 + time.Duration(uint64(d/4)*uint64(binary.BigEndian.Uint16(b[:]))/65535)
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

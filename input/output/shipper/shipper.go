// Package shipper publishes documents to the Elastic Agent shipper over gRPC
// (elastic-agent-shipper-client v0.2.0 protocol).
//
// Delivery: a batch is done when the shipper has accepted every event and
// its persisted index has reached the index of the last accepted event.
// Until then the events stay in memory. If the shipper restarts (its uuid
// changes), events it accepted but had not persisted are sent again; a
// shipper that is briefly away is retried with backoff, blocking Publish
// (backpressure). Each event carries `_id` in its metadata, the document id
// the shipper's Elasticsearch output uses, so a resend after a lost reply
// does not make a second document.
package shipper

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/elastic/elastic-agent-shipper-client/pkg/helpers"
	pb "github.com/elastic/elastic-agent-shipper-client/pkg/proto"
	"github.com/elastic/elastic-agent-shipper-client/pkg/proto/messages"

	"github.com/network-traffic/network-traffic/input/output"
)

// Config of the shipper output.
type Config struct {
	// Server is "host:port" or "unix:///path/to/socket".
	Server      string
	TLS         *tls.Config // nil: plaintext (local socket)
	BulkMaxSize int
	Timeout     time.Duration // per RPC
	BackoffInit time.Duration
	BackoffMax  time.Duration
	// AckPollInterval is how often the persisted index is polled while
	// waiting for acknowledgement.
	AckPollInterval time.Duration
}

// ParseConfig reads the output map: server, ssl.{certificate_authorities,
// certificate, key}, bulk_max_size, timeout, backoff.{init,max},
// ack_polling_interval.
func ParseConfig(m map[string]any) (*Config, error) {
	c := &Config{BulkMaxSize: 1000, Timeout: 30 * time.Second, BackoffInit: 100 * time.Millisecond,
		BackoffMax: 10 * time.Second, AckPollInterval: 50 * time.Millisecond}
	if t, ok := m["type"].(string); ok && t != "" && t != "shipper" {
		return nil, fmt.Errorf("output type %q is not shipper", t)
	}
	c.Server, _ = m["server"].(string)
	if c.Server == "" {
		if hs, ok := m["hosts"].([]any); ok && len(hs) > 0 {
			c.Server, _ = hs[0].(string)
		}
	}
	if c.Server == "" {
		return nil, errors.New("server: the shipper address is required (host:port or unix:///path)")
	}
	var err error
	if v, ok := m["bulk_max_size"].(float64); ok {
		if v < 1 {
			return nil, fmt.Errorf("bulk_max_size: %v must be at least 1", v)
		}
		c.BulkMaxSize = int(v)
	}
	durations := map[string]*time.Duration{"timeout": &c.Timeout, "ack_polling_interval": &c.AckPollInterval}
	if bm, ok := m["backoff"].(map[string]any); ok {
		for k, dst := range map[string]*time.Duration{"init": &c.BackoffInit, "max": &c.BackoffMax} {
			if s, ok := bm[k].(string); ok {
				if *dst, err = time.ParseDuration(s); err != nil {
					return nil, fmt.Errorf("backoff.%s: %w", k, err)
				}
			}
		}
	}
	for k, dst := range durations {
		if s, ok := m[k].(string); ok {
			if *dst, err = time.ParseDuration(s); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	if ssl, ok := m["ssl"].(map[string]any); ok && ssl["enabled"] != false {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cas, ok := ssl["certificate_authorities"].([]any); ok && len(cas) > 0 {
			pool := x509.NewCertPool()
			for _, ca := range cas {
				pem, err := pemOrFile(fmt.Sprint(ca))
				if err != nil || !pool.AppendCertsFromPEM(pem) {
					return nil, fmt.Errorf("ssl.certificate_authorities: no certificate in %v (%v)", ca, err)
				}
			}
			tc.RootCAs = pool
		}
		cert, _ := ssl["certificate"].(string)
		key, _ := ssl["key"].(string)
		if cert != "" {
			cp, err1 := pemOrFile(cert)
			kp, err2 := pemOrFile(key)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("ssl: %w", err)
			}
			pair, err := tls.X509KeyPair(cp, kp)
			if err != nil {
				return nil, fmt.Errorf("ssl.certificate/key: %w", err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		if ssl["verification_mode"] == "none" {
			tc.InsecureSkipVerify = true
		}
		c.TLS = tc
	}
	return c, nil
}

func pemOrFile(ref string) ([]byte, error) {
	if strings.Contains(ref, "-----BEGIN") {
		return []byte(ref), nil
	}
	return os.ReadFile(ref)
}

// Output is the shipper client.
type Output struct {
	cfg  *Config
	conn *grpc.ClientConn
	cl   pb.ProducerClient
	log  *slog.Logger

	uuid string // shipper process we last talked to

	idPrefix string
	idSeq    uint64

	published, failed, retries, resent atomic.Uint64
	mu                                 sync.Mutex
	lastErr                            string
}

// New dials lazily: a shipper that is not up yet is retried by Publish.
func New(cfg *Config, log *slog.Logger) (*Output, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = credentials.NewTLS(cfg.TLS)
	}
	target := cfg.Server
	if !strings.Contains(target, "://") {
		target = "passthrough:///" + target
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("shipper %s: %w", cfg.Server, err)
	}
	var rnd [9]byte
	_, _ = rand.Read(rnd[:])
	return &Output{cfg: cfg, conn: conn, cl: pb.NewProducerClient(conn), log: log,
		idPrefix: base64.RawURLEncoding.EncodeToString(rnd[:])}, nil
}

// FromMap parses the output unit's config and builds the output.
func FromMap(m map[string]any, log *slog.Logger) (*Output, error) {
	cfg, err := ParseConfig(m)
	if err != nil {
		return nil, err
	}
	return New(cfg, log)
}

// Close closes the connection.
func (o *Output) Close() error { return o.conn.Close() }

// Stats implements output.StatsReporter.
func (o *Output) Stats() output.Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return output.Stats{Published: o.published.Load(), Failed: o.failed.Load(), Retries: o.retries.Load(), LastError: o.lastErr}
}

func (o *Output) noteErr(err error) {
	o.mu.Lock()
	o.lastErr = err.Error()
	o.mu.Unlock()
}

// accepted is a run of events the shipper took, waiting for persistence.
type accepted struct {
	events []*messages.Event
	index  int64 // accepted_index of the reply
}

// Publish sends the batch and returns when all of it is persisted by the
// shipper (or ctx ends). Documents that cannot be converted (invalid JSON)
// are counted as failed.
func (o *Output) Publish(ctx context.Context, batch []output.Doc) error {
	pending := make([]*messages.Event, 0, len(batch))
	for _, d := range batch {
		ev, err := o.convert(d)
		if err != nil {
			o.failed.Add(1)
			o.noteErr(err)
			o.log.Warn("document dropped: cannot convert for the shipper", "index", d.Index, "error", err)
			continue
		}
		pending = append(pending, ev)
	}
	var waiting []accepted
	backoff := o.cfg.BackoffInit
	fail := func(err error) error {
		o.noteErr(err)
		o.retries.Add(1)
		if serr := sleepCtx(ctx, backoff); serr != nil {
			return serr
		}
		backoff = min(backoff*2, o.cfg.BackoffMax)
		return nil
	}
	for len(pending) > 0 || len(waiting) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		var uuid string
		var persisted int64
		var took int
		if len(pending) > 0 {
			n := min(len(pending), o.cfg.BulkMaxSize)
			rctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
			reply, err := o.cl.PublishEvents(rctx, &messages.PublishRequest{Uuid: o.uuid, Events: pending[:n]})
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if status.Code(err) == codes.ResourceExhausted {
					err = fmt.Errorf("shipper queue full: %w", err)
				} else {
					err = fmt.Errorf("shipper %s: %w", o.cfg.Server, err)
				}
				if ferr := fail(err); ferr != nil {
					return ferr
				}
				continue
			}
			uuid, persisted = reply.Uuid, reply.PersistedIndex
			if uuid == o.uuid || o.uuid == "" {
				took = int(reply.AcceptedCount)
				if took > 0 {
					waiting = append(waiting, accepted{events: pending[:took], index: reply.AcceptedIndex})
					pending = pending[took:]
				}
			}
		} else {
			// Everything accepted: wait for the persisted index to catch up.
			var err error
			uuid, persisted, err = o.persistedIndex(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if ferr := fail(fmt.Errorf("shipper %s: persisted index: %w", o.cfg.Server, err)); ferr != nil {
					return ferr
				}
				continue
			}
		}
		if o.uuid != "" && uuid != o.uuid {
			// The shipper restarted: what it accepted but had not
			// persisted is gone with it. Send those events again first.
			var again []*messages.Event
			for _, a := range waiting {
				again = append(again, a.events...)
			}
			if len(again) > 0 {
				o.resent.Add(uint64(len(again)))
				o.log.Info("shipper restarted; resending unacknowledged events", "count", len(again))
			}
			pending = append(again, pending...)
			waiting = nil
			took = 0
		}
		o.uuid = uuid
		keep := waiting[:0]
		for _, a := range waiting {
			if a.index <= persisted {
				o.published.Add(uint64(len(a.events)))
				continue
			}
			keep = append(keep, a)
		}
		waiting = keep
		if took > 0 {
			backoff = o.cfg.BackoffInit
		} else if len(pending) > 0 || len(waiting) > 0 {
			// Queue full, stale uuid, or waiting for persistence: poll.
			if err := sleepCtx(ctx, o.cfg.AckPollInterval); err != nil {
				return err
			}
		}
	}
	return nil
}

// persistedIndex reads one reply of the PersistedIndex stream.
func (o *Output) persistedIndex(ctx context.Context) (string, int64, error) {
	rctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	st, err := o.cl.PersistedIndex(rctx, &messages.PersistedIndexRequest{})
	if err != nil {
		return "", 0, err
	}
	r, err := st.Recv()
	if err != nil {
		return "", 0, err
	}
	return r.Uuid, r.PersistedIndex, nil
}

// convert turns an encoded document into a shipper event: @timestamp becomes
// the event timestamp, the index becomes the data stream, the rest of the
// document the fields.
func (o *Output) convert(d output.Doc) (*messages.Event, error) {
	var m map[string]any
	if err := json.Unmarshal(d.Body, &m); err != nil {
		return nil, fmt.Errorf("invalid document: %w", err)
	}
	ev := &messages.Event{DataStream: dataStream(d.Index, m)}
	if s, ok := m["@timestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			ev.Timestamp = timestamppb.New(t)
			delete(m, "@timestamp")
		}
	}
	if ev.Timestamp == nil {
		ev.Timestamp = timestamppb.Now()
	}
	fields, err := helpers.NewStruct(m)
	if err != nil {
		return nil, err
	}
	ev.Fields = fields
	o.idSeq++
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], o.idSeq)
	ev.Metadata = &messages.Struct{Data: map[string]*messages.Value{
		"_id": helpers.NewStringValue(o.idPrefix + base64.RawURLEncoding.EncodeToString(b[2:])),
	}}
	if in, ok := m["input_id"].(string); ok {
		ev.Source = &messages.Source{InputId: in}
		ev.Source.StreamId, _ = m["stream_id"].(string)
	}
	return ev, nil
}

// dataStream prefers the document's data_stream object; otherwise it splits
// "<type>-<dataset>-<namespace>".
func dataStream(index string, m map[string]any) *messages.DataStream {
	if ds, ok := m["data_stream"].(map[string]any); ok {
		t, _ := ds["type"].(string)
		d, _ := ds["dataset"].(string)
		n, _ := ds["namespace"].(string)
		if t != "" && d != "" {
			return &messages.DataStream{Type: t, Dataset: d, Namespace: n}
		}
	}
	first := strings.IndexByte(index, '-')
	last := strings.LastIndexByte(index, '-')
	if first > 0 && last > first {
		return &messages.DataStream{Type: index[:first], Dataset: index[first+1 : last], Namespace: index[last+1:]}
	}
	return &messages.DataStream{Type: "logs", Dataset: index, Namespace: "default"}
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

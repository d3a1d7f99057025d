package elasticsearch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/network-traffic/network-traffic/input/output/ratelog"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/network-traffic/network-traffic/input/output"
)

// Output is a bulk-indexing output. Publish blocks until every document of
// the batch is indexed or permanently rejected, retrying 429s, 5xx and
// connection errors with exponential backoff: a node that is down stops
// capture's queue instead of growing memory.
//
// Each document gets an _id when it is first seen and keeps it across
// retries, so a bulk request whose response was lost (node killed mid-way)
// is replayed without duplicates: `create` of an existing _id is a 409,
// which counts as delivered.
type Output struct {
	cfg *Config
	// hosts are the configured nodes, each with its own health; requests
	// go round-robin over the healthy ones (see pick).
	hosts []*host
	rr    atomic.Uint64
	ht    *http.Transport
	log   *slog.Logger

	idPrefix string
	idSeq    atomic.Uint64

	published atomic.Uint64
	failed    atomic.Uint64
	retries   atomic.Uint64
	dupes     atomic.Uint64
	mu        sync.Mutex
	lastErr   string
	lastErrAt time.Time
	// warnLimit and retryLimit rate-limit logLimited and logRetry apart.
	warnLimit, retryLimit ratelog.Limiter
	closed                atomic.Bool

	// hostBackoff* bound how long a failed host sits out (tests shorten).
	hostBackoffInit, hostBackoffMax time.Duration

	// sleep is time.Sleep with ctx; replaced by tests.
	sleep func(ctx context.Context, d time.Duration) error
}

// New builds the output. It does not contact the node: a node that is down
// at start is the same as one that goes down later (retry, backpressure).
func New(cfg *Config, log *slog.Logger) (*Output, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.TLSClientConfig = cfg.TLS
	switch {
	case cfg.ProxyDisable:
		ht.Proxy = nil
	case cfg.ProxyURL != nil:
		ht.Proxy = http.ProxyURL(cfg.ProxyURL)
	}
	ht.MaxIdleConnsPerHost = max(cfg.Workers, 2)
	ht.ResponseHeaderTimeout = cfg.Timeout
	if cfg.IdleConnTimeout > 0 {
		ht.IdleConnTimeout = cfg.IdleConnTimeout
	}
	// One elastictransport client per host (its single-node pool): it
	// builds the request, auth, headers and gzip. Its own multi-node pool is
	// not used: it marks a node dead only on transport errors, never on
	// 502/503/504, and resurrects it after 60 s doubling per failure, where
	// we want a short per-host backoff and a probe (host.go).
	var hosts []*host
	for _, h := range cfg.Hosts {
		u, err := url.Parse(h)
		if err != nil {
			return nil, fmt.Errorf("host %q: %w", h, err)
		}
		tp, err := elastictransport.New(elastictransport.Config{
			UserAgent:                "network-traffic",
			URLs:                     []*url.URL{u},
			Username:                 cfg.Username,
			Password:                 cfg.Password,
			APIKey:                   cfg.encodedAPIKey(),
			ServiceToken:             cfg.ServiceToken,
			Header:                   cfg.header(),
			DisableRetry:             true, // we retry per document, with our own backoff
			CompressRequestBody:      cfg.CompressionLevel > 0,
			CompressRequestBodyLevel: cfg.CompressionLevel,
			PoolCompressor:           cfg.CompressionLevel > 0,
			Transport:                ht,
		})
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, &host{url: u.Redacted(), tp: tp})
	}
	var rnd [9]byte
	_, _ = rand.Read(rnd[:])
	return &Output{
		cfg:      cfg,
		hosts:    hosts,
		ht:       ht,
		log:      log,
		idPrefix: base64.RawURLEncoding.EncodeToString(rnd[:]),
		sleep:    sleepCtx,

		hostBackoffInit: hostBackoffInit,
		hostBackoffMax:  hostBackoffMax,
	}, nil
}

// FromMap parses the output unit's config and builds the output.
func FromMap(m map[string]any, log *slog.Logger) (*Output, error) {
	cfg, err := ParseConfig(m)
	if err != nil {
		return nil, err
	}
	return New(cfg, log)
}

// Stats implements output.StatsReporter. Duplicates (409 on retry) count as
// published.
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

// Close releases idle connections. Publish must not run concurrently.
func (o *Output) Close() error {
	if o.closed.Swap(true) {
		return nil
	}
	o.ht.CloseIdleConnections()
	return nil
}

// item is one document on its way, with the _id it keeps across retries.
type item struct {
	doc output.Doc
	id  string
}

// Publish indexes the batch, splitting it into bulk_max_size requests sent by
// up to `worker` goroutines. It returns nil once every document is indexed or
// permanently failed, or ctx's error if cancelled first.
func (o *Output) Publish(ctx context.Context, batch []output.Doc) error {
	if len(batch) == 0 {
		return nil
	}
	items := make([]item, len(batch))
	for i, d := range batch {
		id := d.ID
		if id == "" {
			id = o.nextID()
		}
		items[i] = item{doc: d, id: id}
	}
	size := o.cfg.BulkMaxSize
	var chunks [][]item
	for len(items) > 0 {
		n := min(size, len(items))
		chunks = append(chunks, items[:n])
		items = items[n:]
	}
	// worker is per host, as in Beats: two hosts and worker 3 send up to
	// six requests at once.
	workers := o.cfg.Workers * len(o.hosts)
	if len(chunks) == 1 || workers <= 1 {
		for _, ch := range chunks {
			if err := o.sendChunk(ctx, ch); err != nil {
				return err
			}
		}
		return nil
	}
	work := make(chan []item)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range min(workers, len(chunks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range work {
				if err := o.sendChunk(ctx, ch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for _, ch := range chunks {
		select {
		case work <- ch:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// nextID is unique per output instance: a random prefix and a counter
// (no per-document randomness on the hot path).
func (o *Output) nextID() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], o.idSeq.Add(1))
	return o.idPrefix + base64.RawURLEncoding.EncodeToString(b[2:])
}

// sendChunk sends one bulk request and resends what must be retried until
// nothing is left. A host that does not answer (or answers 502/503/504) is
// marked down and the request goes at once to the next healthy host; only
// when no host is healthy does the chunk wait out its backoff.
func (o *Output) sendChunk(ctx context.Context, pending []item) error {
	backoff := o.cfg.BackoffInit
	var body bytes.Buffer
	unreachable := false // the last attempt never got an HTTP answer
	failover := false    // the last attempt's host is down and another is healthy
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			o.retries.Add(uint64(len(pending)))
		}
		if attempt > 0 && !failover {
			wait := jitter(backoff)
			var err error
			if unreachable {
				err = o.waitReachable(ctx, wait)
			} else {
				err = o.sleep(ctx, wait)
			}
			if err != nil {
				return err
			}
			backoff = min(backoff*2, o.cfg.BackoffMax)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		h := o.pick()
		retry, progressed, err := o.bulk(ctx, h, pending, &body)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			o.noteError(err)
			var re *errRequest
			isReq := errors.As(err, &re)
			unreachable = isReq && re.status == 0
			failover = false
			if isReq && hostFault(re.status) {
				h.markDown(time.Now(), o.hostBackoffInit, o.hostBackoffMax)
				failover = o.anyHealthy(time.Now())
			}
			o.logRetry("bulk request failed, retrying", "host", h.url, "documents", len(pending), "attempt", attempt+1,
				"failover", failover, "error", err.Error())
			continue // whole request failed: resend all
		}
		h.answered.Add(1)
		h.markUp()
		unreachable, failover = false, false
		if progressed {
			backoff = o.cfg.BackoffInit
		}
		pending = retry
	}
	return nil
}

// probeEvery is how often a backed-off output checks whether an unreachable
// node is back. A GET / costs the node next to nothing (and a refused
// connection costs it nothing at all), so recovery is noticed within about
// a second instead of after a backoff that has grown toward BackoffMax,
// while a bulk body is only resent once the node answers.
const probeEvery = time.Second

// waitReachable waits up to d, returning early once any host answers a
// probe (that host is then marked up, so pick chooses it). Used only after
// connection-level failures with no healthy host left: a node that answers
// with 429 or 5xx is up and is given its full backoff.
func (o *Output) waitReachable(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		step := min(probeEvery, time.Until(deadline))
		if step <= 0 {
			return nil
		}
		if err := o.sleep(ctx, step); err != nil {
			return err
		}
		for _, h := range o.hosts {
			if o.probe(ctx, h) {
				h.markUp()
				o.log.Info("elasticsearch reachable again, resending", "host", h.url)
				return nil
			}
		}
	}
}

// probe reports whether a node answers HTTP at all (any status).
func (o *Output) probe(ctx context.Context, h *host) bool {
	pctx, cancel := context.WithTimeout(ctx, min(o.cfg.Timeout, 2*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, "/", nil)
	if err != nil {
		return false
	}
	res, err := h.tp.Perform(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
	res.Body.Close()
	return true
}

type bulkResponse struct {
	Errors bool `json:"errors"`
	Items  []map[string]struct {
		Status int             `json:"status"`
		Error  json.RawMessage `json:"error"`
	} `json:"items"`
}

type itemError struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// errRequest is a whole-request failure (connection, 429, 5xx, auth):
// retried. A request-level status that retrying cannot fix is reported via
// permanent.
type errRequest struct {
	status int
	msg    string
}

func (e *errRequest) Error() string {
	if e.status == 0 {
		return e.msg
	}
	return fmt.Sprintf("bulk request: HTTP %d: %s", e.status, e.msg)
}

// bulk sends one request. It returns the items to retry, whether anything
// was settled, or an error when the whole request must be resent.
func (o *Output) bulk(ctx context.Context, h *host, items []item, body *bytes.Buffer) ([]item, bool, error) {
	body.Reset()
	for _, it := range items {
		body.WriteString(`{"create":{"_index":`)
		writeJSONString(body, it.doc.Index)
		body.WriteString(`,"_id":"`)
		body.WriteString(it.id)
		body.WriteString("\"}}\n")
		body.Write(bytes.TrimRight(it.doc.Body, "\n"))
		body.WriteByte('\n')
	}
	req := esapi.BulkRequest{
		Body:       bytes.NewReader(body.Bytes()),
		FilterPath: []string{"errors", "items.*.status", "items.*.error.type", "items.*.error.reason"},
	}
	rctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	res, err := req.Do(rctx, h.tp)
	if err != nil {
		return nil, false, &errRequest{msg: "bulk request: " + err.Error()}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, false, &errRequest{msg: "bulk response: " + err.Error()}
	}
	switch {
	case res.StatusCode == http.StatusRequestEntityTooLarge && len(items) > 1:
		// Split and send halves; each half retries on its own.
		half := len(items) / 2
		if err := o.sendChunk(ctx, items[:half]); err != nil {
			return nil, false, err
		}
		if err := o.sendChunk(ctx, items[half:]); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	case res.StatusCode == 429 || res.StatusCode >= 500 ||
		res.StatusCode == 401 || res.StatusCode == 403 || res.StatusCode == 404:
		// 401/403: credentials may be fixed by a policy change; 404: a proxy
		// in front may be misrouting. Keep the data and wait.
		return nil, false, &errRequest{status: res.StatusCode, msg: snippet(raw)}
	case res.StatusCode >= 400:
		// The request itself is refused; resending it cannot help.
		o.failed.Add(uint64(len(items)))
		e := &errRequest{status: res.StatusCode, msg: snippet(raw)}
		o.noteError(e)
		o.logLimited("bulk request rejected, documents dropped", "count", len(items), "error", e.Error())
		return nil, true, nil
	}
	var br bulkResponse
	if err := json.Unmarshal(raw, &br); err != nil {
		return nil, false, &errRequest{msg: "bulk response: " + err.Error()}
	}
	if !br.Errors && len(br.Items) == 0 {
		// Nothing per item to look at; the node says all went in.
		o.published.Add(uint64(len(items)))
		return nil, true, nil
	}
	if len(br.Items) != len(items) {
		return nil, false, &errRequest{msg: fmt.Sprintf("bulk response has %d items for %d documents", len(br.Items), len(items))}
	}
	var retry []item
	var settled, published, dupes, failed int
	var lastRetry string
	for i, res := range br.Items {
		var st int
		var ie json.RawMessage
		for _, v := range res {
			st, ie = v.Status, v.Error
		}
		switch {
		case st >= 200 && st < 300:
			published++
		case st == http.StatusConflict:
			// Already indexed by an earlier attempt whose reply we lost.
			dupes++
		case st == 429 || st >= 500 || st == 0:
			retry = append(retry, items[i])
			lastRetry = fmt.Sprintf("HTTP %d %s", st, errText(ie))
			continue
		default:
			failed++
			msg := fmt.Sprintf("document rejected by %s: HTTP %d %s", items[i].doc.Index, st, errText(ie))
			o.noteError(errors.New(msg))
			o.logLimited("document dropped", "index", items[i].doc.Index, "status", st, "error", errText(ie))
		}
		settled++
	}
	o.published.Add(uint64(published + dupes))
	o.dupes.Add(uint64(dupes))
	o.failed.Add(uint64(failed))
	if len(retry) > 0 {
		o.noteError(fmt.Errorf("%d of %d documents to retry: %s", len(retry), len(items), lastRetry))
	}
	return retry, settled > 0, nil
}

func errText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var ie itemError
	if json.Unmarshal(raw, &ie) == nil && ie.Type != "" {
		return ie.Type + ": " + ie.Reason
	}
	return snippet(raw)
}

func (o *Output) noteError(err error) {
	o.mu.Lock()
	o.lastErr = err.Error()
	o.lastErrAt = time.Now()
	o.mu.Unlock()
}

// logRetry logs a retried failure at most every 5 s: during an outage the
// operator sees that and why documents are held back, without one line per
// attempt.
func (o *Output) logRetry(msg string, args ...any) {
	o.retryLimit.Warn(o.log, 5*time.Second, msg, args...)
}

// logLimited logs at most one warning per second: a mapping error repeats for
// every document of a stream.
func (o *Output) logLimited(msg string, args ...any) {
	o.warnLimit.Warn(o.log, time.Second, msg, args...)
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

func writeJSONString(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			b, _ := json.Marshal(s)
			buf.Write(b)
			return
		}
	}
	buf.WriteByte('"')
	buf.WriteString(s)
	buf.WriteByte('"')
}

func jitter(d time.Duration) time.Duration {
	var b [2]byte
	_, _ = rand.Read(b[:])
	// 75%..100% of d, so many outputs don't retry in lockstep.
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

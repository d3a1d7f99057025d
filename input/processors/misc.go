package processors

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Processors that add identities or limits: add_id, add_locale,
// fingerprint, rate_limit.

func init() {
	register("add_id", newAddID)
	register("add_locale", newAddLocale)
	register("fingerprint", newFingerprint)
	register("rate_limit", newRateLimit)
}

// add_id: {target_field: @metadata._id, type: elasticsearch}. The ID is
// Elasticsearch's time-based kind: 15 bytes (a sequence, the time in
// milliseconds and a random node id) in URL-safe base64, 20 characters,
// sortable by time. In @metadata._id it becomes the document's _id in
// Elasticsearch (see Chain.DocID).
func newAddID(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg, "target_field", "type"); err != nil {
		return nil, err
	}
	target, err := stringOpt(cfg, "target_field", "@metadata._id")
	if err != nil {
		return nil, err
	}
	if target == "" {
		return nil, fmt.Errorf("target_field: must not be empty")
	}
	typ, err := stringOpt(cfg, "type", "elasticsearch")
	if err != nil {
		return nil, err
	}
	if typ != "elasticsearch" {
		return nil, fmt.Errorf("type: %q is not supported (elasticsearch)", typ)
	}
	return func(doc map[string]any) (bool, error) {
		return false, putPath(doc, target, esIDs.next())
	}, nil
}

// esIDGen makes Elasticsearch-style time-based IDs: never the same twice
// in this process, even when the clock steps back.
type esIDGen struct {
	mu     sync.Mutex
	seq    uint32
	lastMs int64
	node   [6]byte
	now    func() time.Time
}

var esIDs = newESIDGen()

func newESIDGen() *esIDGen {
	g := &esIDGen{now: time.Now}
	var b [9]byte
	_, _ = io.ReadFull(rand.Reader, b[:])
	copy(g.node[:], b[:6])
	g.seq = uint32(b[6])<<16 | uint32(b[7])<<8 | uint32(b[8])
	return g
}

func (g *esIDGen) next() string {
	g.mu.Lock()
	g.seq = (g.seq + 1) & 0xffffff
	ms := g.now().UnixMilli()
	if ms <= g.lastMs {
		ms = g.lastMs
		if g.seq == 0 {
			ms++ // the sequence wrapped within a millisecond
		}
	}
	g.lastMs = ms
	seq := g.seq
	g.mu.Unlock()
	var b [15]byte
	// Layout as Elasticsearch's: the low sequence byte first (spreads
	// prefixes), time high bytes next, then node and the rest.
	b[0] = byte(seq)
	b[1] = byte(seq >> 16)
	b[2] = byte(ms >> 40)
	b[3] = byte(ms >> 32)
	b[4] = byte(ms >> 24)
	b[5] = byte(ms >> 16)
	b[6] = byte(ms >> 8)
	copy(b[7:13], g.node[:])
	b[13] = byte(ms)
	b[14] = byte(seq >> 8)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// add_locale: {format: offset | abbreviation}. Adds event.timezone, the
// local zone's offset ("+01:00") or abbreviation ("CET").
func newAddLocale(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg, "format"); err != nil {
		return nil, err
	}
	format, err := stringOpt(cfg, "format", "offset")
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(format) {
	case "offset", "abbreviation":
	default:
		return nil, fmt.Errorf("format: %q is not offset or abbreviation", format)
	}
	abbrev := strings.ToLower(format) == "abbreviation"
	return func(doc map[string]any) (bool, error) {
		name, off := localNow().Zone()
		if abbrev {
			return false, putPath(doc, "event.timezone", name)
		}
		return false, putPath(doc, "event.timezone", formatOffset(off))
	}, nil
}

// localNow is the local time; tests pin it.
var localNow = time.Now

func formatOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	return fmt.Sprintf("%c%02d:%02d", sign, sec/3600, sec%3600/60)
}

// fingerprint: {fields, target_field: fingerprint, method: sha256,
// encoding: hex, ignore_missing: false}. The hashed text is Beats':
// "|field|value" for each field in name order, then "|". Methods md5, sha1,
// sha256, sha384, sha512, xxhash; encodings hex, base32, base64.
func newFingerprint(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "fields", "target_field", "method", "encoding", "ignore_missing")
	if err != nil {
		return nil, err
	}
	fields, err := stringList(cfg["fields"])
	if err != nil || len(fields) == 0 {
		return nil, fmt.Errorf("fields: required, a list of field names")
	}
	fields = append([]string(nil), fields...)
	sort.Strings(fields)
	target, err := stringOpt(cfg, "target_field", "fingerprint")
	if err != nil {
		return nil, err
	}
	method, err := stringOpt(cfg, "method", "sha256")
	if err != nil {
		return nil, err
	}
	newHash := map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New,
		"sha384": sha512.New384, "sha512": sha512.New, "xxhash": func() hash.Hash { return xxhash.New() }}[method]
	if newHash == nil {
		return nil, fmt.Errorf("method: %q is not one of md5, sha1, sha256, sha384, sha512, xxhash", method)
	}
	encoding, err := stringOpt(cfg, "encoding", "hex")
	if err != nil {
		return nil, err
	}
	encode := map[string]func([]byte) string{"hex": hex.EncodeToString,
		"base32": base32.StdEncoding.EncodeToString, "base64": base64.StdEncoding.EncodeToString}[encoding]
	if encode == nil {
		return nil, fmt.Errorf("encoding: %q is not one of hex, base32, base64", encoding)
	}
	h := newHash()
	return func(doc map[string]any) (bool, error) {
		h.Reset()
		for _, f := range fields {
			v, ok := getPath(doc, f)
			if !ok {
				if o.ignoreMissing {
					continue
				}
				return false, fmt.Errorf("failed to find field [%s] in event", f)
			}
			if _, isObj := v.(map[string]any); isObj {
				return false, fmt.Errorf("cannot compute fingerprint using non-scalar field [%s]", f)
			}
			if f == "@timestamp" {
				// Beats hashes its timestamp as Go prints a UTC time.
				if s, ok := v.(string); ok {
					if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
						v = ts.UTC()
					}
				}
			}
			fmt.Fprintf(h, "|%v|%v", f, v)
		}
		io.WriteString(h, "|")
		return false, putPath(doc, target, encode(h.Sum(nil)))
	}, nil
}

// rate_limit: {limit: "N/s|m|h", fields, algorithm: {token_bucket:
// {burst_multiplier: 1}}}. Events over the limit (per distinct values of
// fields) are dropped. Buckets of keys not seen for a while are freed and
// their number is bounded.
func newRateLimit(cfg map[string]any) (runFunc, error) {
	rl, err := parseRateLimit(cfg)
	if err != nil {
		return nil, err
	}
	return rl.run, nil
}

func parseRateLimit(cfg map[string]any) (*rateLimiter, error) {
	if err := checkKeysGroups(cfg, []string{"algorithm"}, "limit", "fields", "id"); err != nil {
		return nil, err
	}
	limit, err := stringOpt(cfg, "limit", "")
	if err != nil || limit == "" {
		return nil, fmt.Errorf("limit: required, like \"10000/m\"")
	}
	count, rate, err := parseRate(limit)
	if err != nil {
		return nil, fmt.Errorf("limit: %v", err)
	}
	var fields []string
	if v, ok := cfg["fields"]; ok && v != nil {
		if fields, err = stringList(v); err != nil {
			return nil, fmt.Errorf("fields: %v", err)
		}
		sort.Strings(fields)
	}
	alg, err := subOpts(cfg, "algorithm")
	if err != nil {
		return nil, err
	}
	burst := 1.0
	gcInterval := time.Minute
	for k, v := range alg {
		switch k {
		case "token_bucket.burst_multiplier":
			f, ok := toFloat(v)
			if !ok || f < 1 {
				return nil, fmt.Errorf("algorithm.token_bucket.burst_multiplier: want a number of at least 1, got %s", describe(v))
			}
			burst = f
		case "token_bucket.gc.interval":
			if gcInterval, err = durationOpt(map[string]any{"interval": v}, "interval", time.Minute); err != nil || gcInterval <= 0 {
				return nil, fmt.Errorf("algorithm.token_bucket.gc.interval: not a positive duration")
			}
		case "token_bucket.gc.threshold", "token_bucket":
		default:
			return nil, fmt.Errorf("algorithm: unknown option %q (only token_bucket with burst_multiplier and gc)", k)
		}
	}
	rl := &rateLimiter{fields: fields, rate: rate, capacity: count * burst, buckets: map[string]*bucket{}, gcEvery: gcInterval, now: time.Now}
	return rl, nil
}

// parseRate turns "N/unit" into N and events per second.
func parseRate(s string) (count, perSecond float64, err error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want N/s, N/m or N/h", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
	if err != nil || v <= 0 {
		return 0, 0, fmt.Errorf("%q: %q is not a positive number", s, n)
	}
	switch strings.TrimSpace(unit) {
	case "s":
		return v, v, nil
	case "m":
		return v, v / 60, nil
	case "h":
		return v, v / 3600, nil
	}
	return 0, 0, fmt.Errorf("%q: unit %q is not s, m or h", s, unit)
}

// maxBuckets bounds the keys a rate limiter tracks.
const maxBuckets = 100000

type bucket struct {
	tokens float64
	last   time.Time
}

type rateLimiter struct {
	fields   []string
	rate     float64 // tokens per second
	capacity float64
	buckets  map[string]*bucket
	gcEvery  time.Duration
	lastGC   time.Time
	now      func() time.Time
	keyBuf   []byte
}

func (rl *rateLimiter) run(doc map[string]any) (bool, error) {
	now := rl.now()
	rl.keyBuf = rl.keyBuf[:0]
	for _, f := range rl.fields {
		v, _ := getPath(doc, f)
		rl.keyBuf = binary.AppendUvarint(rl.keyBuf, uint64(len(f)))
		rl.keyBuf = fmt.Appendf(rl.keyBuf, "%s=%v;", f, v)
	}
	if now.Sub(rl.lastGC) >= rl.gcEvery {
		rl.gc(now)
	}
	b, ok := rl.buckets[string(rl.keyBuf)]
	if !ok {
		if len(rl.buckets) >= maxBuckets {
			rl.gc(now)
		}
		b = &bucket{tokens: rl.capacity, last: now}
		rl.buckets[string(rl.keyBuf)] = b
	}
	b.tokens = min(rl.capacity, b.tokens+now.Sub(b.last).Seconds()*rl.rate)
	b.last = now
	if b.tokens < 1 {
		return true, nil
	}
	b.tokens--
	return false, nil
}

// gc frees buckets that have refilled (they behave as new ones); if that
// is not enough, the oldest half.
func (rl *rateLimiter) gc(now time.Time) {
	rl.lastGC = now
	for k, b := range rl.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*rl.rate >= rl.capacity {
			delete(rl.buckets, k)
		}
	}
	if len(rl.buckets) < maxBuckets {
		return
	}
	ages := make([]time.Time, 0, len(rl.buckets))
	for _, b := range rl.buckets {
		ages = append(ages, b.last)
	}
	sort.Slice(ages, func(i, j int) bool { return ages[i].Before(ages[j]) })
	cut := ages[len(ages)/2]
	for k, b := range rl.buckets {
		if b.last.Before(cut) {
			delete(rl.buckets, k)
		}
	}
}

// Package kafka sends documents to Apache Kafka with franz-go, taking the
// settings of the Beats Kafka output that Fleet's Kafka output form sends:
// one record per document, the JSON document as the value, the topic from
// `topic`/`topics`, and a Publish that returns only once the broker
// acknowledged every record (or it was counted as failed).
package kafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/network-traffic/network-traffic/input/output/outcfg"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Config is the parsed `kafka` output.
type Config struct {
	Hosts    []string
	Version  string // protocol version cap ("2.1.0"); "" negotiates the newest
	versions *kversion.Versions
	ClientID string

	topic  any // `topic` and `topics` as given; parsed by newRuleSelector
	topics any
	Key    *fmtString

	Partition partitioner
	Headers   []kgo.RecordHeader

	RequiredAcks     int // -1, 0, 1
	Compression      string
	CompressionLevel int // 0: the codec's default
	codec            kgo.CompressionCodec
	MaxMessageBytes  int
	BrokerTimeout    time.Duration
	Timeout          time.Duration
	KeepAlive        time.Duration
	BulkMaxSize      int
	FlushFrequency   time.Duration
	MaxRetries       int // <0: until published
	BackoffInit      time.Duration
	BackoffMax       time.Duration

	MetadataRefresh      time.Duration
	MetadataRetries      int
	MetadataRetryBackoff time.Duration

	Username  string
	Password  string
	Mechanism string // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; "" when no user

	TLS    *tls.Config
	Pretty bool // codec.json.pretty
}

// Defaults are the Beats Kafka output's, except MaxRetries (see below).
const (
	DefaultVersion         = "2.1.0"
	DefaultClientID        = "beats"
	DefaultRequiredAcks    = 1
	DefaultCompression     = "gzip"
	DefaultGzipLevel       = 4
	DefaultMaxMessageBytes = 1000000
	DefaultBrokerTimeout   = 10 * time.Second
	DefaultTimeout         = 30 * time.Second
	DefaultBulkMaxSize     = 2048
	DefaultBackoffInit     = time.Second
	DefaultBackoffMax      = 60 * time.Second
	// Beats retries a failed batch 3 times and then drops it unless the
	// pipeline guarantees delivery (as under Elastic Agent). Here the
	// default is to retry until published: the queue holds what cannot be
	// sent and health says why. max_retries >= 0 restores dropping.
	DefaultMaxRetries      = -1
	DefaultMetadataRefresh = 10 * time.Minute
	DefaultMetadataRetries = 3
	DefaultMetadataBackoff = 250 * time.Millisecond
)

// ParseConfig reads the output unit's map. Every key must be one this
// output honours: a Beats setting it cannot honour (kerberos,
// codec.format, metadata.full, ...) or an unknown key is an error naming
// it, so the unit fails with a message instead of silently doing less.
func ParseConfig(m map[string]any) (*Config, error) {
	c := &Config{
		Version:              DefaultVersion,
		ClientID:             DefaultClientID,
		RequiredAcks:         DefaultRequiredAcks,
		Compression:          DefaultCompression,
		MaxMessageBytes:      DefaultMaxMessageBytes,
		BrokerTimeout:        DefaultBrokerTimeout,
		Timeout:              DefaultTimeout,
		BulkMaxSize:          DefaultBulkMaxSize,
		MaxRetries:           DefaultMaxRetries,
		BackoffInit:          DefaultBackoffInit,
		BackoffMax:           DefaultBackoffMax,
		MetadataRefresh:      DefaultMetadataRefresh,
		MetadataRetries:      DefaultMetadataRetries,
		MetadataRetryBackoff: DefaultMetadataBackoff,
		// As sarama's default: hash of the key, random without a key.
		Partition: partitioner{kind: partHash, group: 1, hashRandom: true},
	}
	levelSet := false
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		var err error
		switch k {
		case "type":
			if s, _ := v.(string); s != "kafka" {
				return nil, fmt.Errorf("type: %v is not kafka", v)
			}
		case "enabled":
			if b, ok := v.(bool); !ok || !b {
				return nil, errors.New("enabled: the kafka output is disabled (enabled: false)")
			}
		case "queue", "status_reporting":
			// The queue is configured by the publisher, and whether output
			// health is reported is the agent's business, not the output's.
		case "hosts":
			c.Hosts, err = parseHosts(v)
		case "version":
			c.Version, err = str(v)
			if err == nil && c.Version == "" {
				err = errors.New("must not be empty")
			}
		case "client_id":
			c.ClientID, err = str(v)
		case "topic":
			c.topic = v
		case "topics":
			c.topics = v
		case "key":
			var s string
			if s, err = str(v); err == nil && s != "" {
				c.Key, err = parseFmt(s)
			}
		case "partition":
			if v != nil {
				c.Partition, err = parsePartition(v)
			}
		case "headers":
			c.Headers, err = parseHeaders(v)
		case "required_acks":
			c.RequiredAcks, err = outcfg.AsInt(v)
			if err == nil && (c.RequiredAcks < -1 || c.RequiredAcks > 1) {
				err = fmt.Errorf("%d: use -1 (all replicas), 0 (none) or 1 (leader)", c.RequiredAcks)
			}
		case "compression":
			c.Compression, err = str(v)
		case "compression_level":
			c.CompressionLevel, err = outcfg.AsInt(v)
			levelSet = true
		case "max_message_bytes":
			c.MaxMessageBytes, err = outcfg.AsInt(v)
			if err == nil && c.MaxMessageBytes < 1 {
				err = errors.New("must be positive")
			}
		case "broker_timeout":
			c.BrokerTimeout, err = asDuration(v)
		case "timeout":
			c.Timeout, err = asDuration(v)
		case "keep_alive":
			c.KeepAlive, err = asDuration(v)
		case "bulk_max_size":
			c.BulkMaxSize, err = outcfg.AsInt(v)
			if err == nil && c.BulkMaxSize <= 0 {
				c.BulkMaxSize = DefaultBulkMaxSize
			}
		case "bulk_flush_frequency":
			c.FlushFrequency, err = asDuration(v)
		case "max_retries":
			c.MaxRetries, err = outcfg.AsInt(v)
		case "backoff":
			err = eachKey(v, func(sk string, sv any) (err error) {
				switch sk {
				case "init":
					c.BackoffInit, err = asDuration(sv)
				case "max":
					c.BackoffMax, err = asDuration(sv)
				default:
					err = errors.New("unknown setting")
				}
				return err
			})
		case "metadata":
			err = parseMetadata(c, v)
		case "username":
			c.Username, err = str(v)
		case "password":
			c.Password, err = str(v)
		case "sasl":
			err = eachKey(v, func(sk string, sv any) (err error) {
				if sk != "mechanism" {
					return errors.New("unknown setting")
				}
				c.Mechanism, err = str(sv)
				return err
			})
		case "ssl":
			c.TLS, err = outcfg.TLSBlock(v) // the ssl block every output reads
		case "codec":
			err = parseCodec(c, v)
		case "kerberos":
			err = errors.New("Kerberos (GSSAPI) authentication is not supported by network-traffic's kafka output; use SASL PLAIN or SCRAM")
		case "channel_buffer_size":
			err = errors.New("not supported (a sarama buffer; this output keeps at most one batch in flight)")
		default:
			err = errors.New("unknown setting of the kafka output")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if len(c.Hosts) == 0 {
		return nil, errors.New("hosts: at least one Kafka broker is required")
	}
	if c.topic == nil && c.topics == nil {
		return nil, errors.New("topic: required (a topic name or format string such as %{[data_stream.type]}-%{[data_stream.dataset]})")
	}
	if _, err := newRuleSelector(c.topic, c.topics); err != nil {
		return nil, err
	}
	c.versions = kversion.FromString(c.Version)
	if c.versions == nil {
		return nil, fmt.Errorf("version: %q is not a Kafka version (e.g. 2.1.0, 3.6, 4.0)", c.Version)
	}
	if err := c.parseCompression(levelSet); err != nil {
		return nil, err
	}
	switch {
	case c.Username == "" && c.Password != "":
		return nil, errors.New("password: set without username")
	case c.Username != "" && c.Password == "":
		return nil, errors.New("username: set without password")
	case c.Username == "" && c.Mechanism != "":
		return nil, errors.New("sasl.mechanism: set without username and password")
	case c.Username != "" && c.Mechanism == "":
		c.Mechanism = "PLAIN" // as Beats
	}
	switch strings.ToUpper(c.Mechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		c.Mechanism = strings.ToUpper(c.Mechanism)
	default:
		return nil, fmt.Errorf("sasl.mechanism: %q (use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", c.Mechanism)
	}
	if c.Mechanism != "" && !atLeast(c.Version, 0, 10) {
		return nil, fmt.Errorf("sasl.mechanism: SASL needs version 0.10.0 or later (version is %s)", c.Version)
	}
	if c.BrokerTimeout <= 0 || c.Timeout <= 0 {
		return nil, errors.New("timeout and broker_timeout: must be positive")
	}
	if c.FlushFrequency < 0 || c.FlushFrequency > time.Minute {
		return nil, fmt.Errorf("bulk_flush_frequency: %s (0 to 1m)", c.FlushFrequency)
	}
	if c.BackoffInit <= 0 || c.BackoffMax < c.BackoffInit {
		return nil, errors.New("backoff: init must be positive and max at least init")
	}
	return c, nil
}

func (c *Config) parseCompression(levelSet bool) error {
	lvl := c.CompressionLevel
	switch c.Compression {
	case "none":
		c.codec = kgo.NoCompression()
	case "snappy":
		c.codec = kgo.SnappyCompression()
	case "gzip":
		if !levelSet {
			lvl = DefaultGzipLevel
		}
		if lvl < 1 || lvl > 9 {
			return fmt.Errorf("compression_level: %d (gzip takes 1 to 9)", lvl)
		}
		c.CompressionLevel = lvl
		c.codec = kgo.GzipCompression().WithLevel(lvl)
		return nil
	case "lz4":
		c.codec = kgo.Lz4Compression()
		if levelSet {
			if lvl < 1 || lvl > 9 {
				return fmt.Errorf("compression_level: %d (lz4 takes 1 to 9)", lvl)
			}
			// pierrec/lz4 levels are 1<<(8+n) for n in 1..9.
			c.codec = c.codec.WithLevel(1 << (8 + lvl))
		}
		return nil
	case "zstd":
		if !atLeast(c.Version, 2, 1) {
			return fmt.Errorf("compression: zstd needs version 2.1.0 or later (version is %s)", c.Version)
		}
		c.codec = kgo.ZstdCompression()
		if levelSet {
			if lvl < 1 || lvl > 9 {
				return fmt.Errorf("compression_level: %d (zstd takes 1 to 9)", lvl)
			}
			// klauspost/compress has four speeds: 1 fastest .. 4 best.
			c.codec = c.codec.WithLevel([]int{1, 1, 2, 2, 2, 3, 3, 4, 4}[lvl-1])
		}
		return nil
	default:
		return fmt.Errorf("compression: %q (use none, gzip, snappy, lz4 or zstd)", c.Compression)
	}
	if levelSet {
		return fmt.Errorf("compression_level: %s has no levels (only gzip, lz4 and zstd do)", c.Compression)
	}
	return nil
}

// atLeast compares a version string's major.minor.
func atLeast(v string, major, minor int) bool {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	ma, _ := strconv.Atoi(parts[0])
	mi := 0
	if len(parts) > 1 {
		mi, _ = strconv.Atoi(parts[1])
	}
	return ma > major || ma == major && mi >= minor
}

func parseHosts(v any) ([]string, error) {
	hs, err := outcfg.StrList(v)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, errors.New("empty host")
		}
		if strings.Contains(h, "://") {
			return nil, fmt.Errorf("%q: give host:port, without a scheme (TLS is set with ssl)", h)
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "9092")
		}
		out = append(out, h)
	}
	return out, nil
}

func parsePartition(v any) (partitioner, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return partitioner{}, errors.New("must name exactly one of random, round_robin, hash")
	}
	var p partitioner
	for kind, opts := range m {
		p.kind = kind
		p.group = 1
		switch kind {
		case partRandom, partRoundRobin, partHash:
		default:
			return p, fmt.Errorf("%s: unknown partitioner (use random, round_robin or hash)", kind)
		}
		if opts == nil {
			return p, nil
		}
		err := eachKey(opts, func(k string, v any) (err error) {
			switch {
			case k == "reachable_only":
				p.reachableOnly, err = asBool(v)
			case k == "group_events" && kind != partHash:
				p.group, err = outcfg.AsInt(v)
				if err == nil && p.group < 1 {
					err = errors.New("must be at least 1")
				}
			case k == "hash" && kind == partHash:
				p.hashFields, err = outcfg.StrList(v)
			case k == "random" && kind == partHash:
				p.hashRandom, err = asBool(v)
			default:
				err = fmt.Errorf("not a setting of the %s partitioner", kind)
			}
			return err
		})
		if err != nil {
			return p, fmt.Errorf("%s.%w", kind, err)
		}
	}
	return p, nil
}

func parseHeaders(v any) ([]kgo.RecordHeader, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, errors.New("must be a list of {key, value}")
	}
	var hs []kgo.RecordHeader
	for i, it := range list {
		var h kgo.RecordHeader
		var haveKey bool
		err := eachKey(it, func(k string, v any) (err error) {
			var s string
			switch k {
			case "key":
				s, err = str(v)
				h.Key, haveKey = s, true
			case "value":
				s, err = str(v)
				h.Value = []byte(s)
			default:
				err = errors.New("unknown setting (a header has key and value)")
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("[%d].%w", i, err)
		}
		if !haveKey || h.Key == "" {
			return nil, fmt.Errorf("[%d]: key is required", i)
		}
		hs = append(hs, h)
	}
	return hs, nil
}

func parseMetadata(c *Config, v any) error {
	return eachKey(v, func(k string, v any) (err error) {
		switch k {
		case "refresh_frequency":
			c.MetadataRefresh, err = asDuration(v)
		case "full":
			var full bool
			if full, err = asBool(v); err == nil && full {
				err = errors.New("true is not supported: metadata is fetched for the topics in use")
			}
		case "retry":
			err = eachKey(v, func(k string, v any) (err error) {
				switch k {
				case "max":
					c.MetadataRetries, err = outcfg.AsInt(v)
				case "backoff":
					c.MetadataRetryBackoff, err = asDuration(v)
				default:
					err = errors.New("unknown setting")
				}
				if err != nil {
					err = fmt.Errorf("%s: %w", k, err)
				}
				return err
			})
		default:
			err = errors.New("unknown setting")
		}
		return err
	})
}

func parseCodec(c *Config, v any) error {
	return eachKey(v, func(k string, v any) error {
		if k != "json" {
			return errors.New("only codec.json is supported (documents are sent as encoded)")
		}
		return eachKey(v, func(k string, v any) (err error) {
			switch k {
			case "pretty":
				c.Pretty, err = asBool(v)
			case "escape_html":
				var esc bool
				if esc, err = asBool(v); err == nil && esc {
					err = errors.New("true is not supported")
				}
			default:
				err = errors.New("unknown setting")
			}
			return err
		})
	})
}

// eachKey calls fn for each key of a map in sorted order, prefixing errors
// with the key.
func eachKey(v any, fn func(k string, v any) error) error {
	if v == nil {
		return nil // `sasl:` with nothing under it, as YAML and Fleet can send
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("must be a map, got %T", v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, m[k]); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

func str(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("%v is not a string", v)
}

func asBool(v any) (bool, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return false, fmt.Errorf("%v is not true or false", v)
}

// asDuration takes "30s" or a number of seconds (Fleet sends `timeout: 30`).
func asDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		if n, err := strconv.ParseFloat(x, 64); err == nil {
			return time.Duration(n * float64(time.Second)), nil
		}
		return time.ParseDuration(x)
	case int:
		return time.Duration(x) * time.Second, nil
	case int64:
		return time.Duration(x) * time.Second, nil
	case float64:
		return time.Duration(x * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%v is not a duration", v)
}

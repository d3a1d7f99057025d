// Package elasticsearch sends documents to Elasticsearch (or an
// Elasticsearch-compatible node) with the _bulk API, one `create` per
// document into the document's data stream.
package elasticsearch

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/network-traffic/network-traffic/input/output/outcfg"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is the `elasticsearch` output as the agent's output unit (or a
// standalone config) gives it. Names follow the Beats output options Fleet
// users already write.
type Config struct {
	Hosts    []string
	APIKey   string // "id:key" (encoded here) or already base64
	Username string
	Password string
	// ServiceToken is sent as "Authorization: Bearer <token>": the shape of
	// Fleet's remote Elasticsearch output.
	ServiceToken string
	Headers      map[string]string
	// Path is a URL path prefix (proxying ES under a path).
	Path string
	// ProxyURL sends requests through an HTTP(S) proxy; ProxyDisable
	// ignores the HTTP_PROXY environment too.
	ProxyURL     *url.URL
	ProxyDisable bool

	TLS *tls.Config // nil: system defaults

	BulkMaxSize      int           // documents per _bulk request
	Workers          int           // concurrent _bulk requests per Publish
	CompressionLevel int           // gzip level, 0 = off
	Timeout          time.Duration // per HTTP request
	BackoffInit      time.Duration
	BackoffMax       time.Duration
	// IdleConnTimeout closes pooled connections idle this long
	// (idle_connection_timeout).
	IdleConnTimeout time.Duration

	// Preset is the performance preset Fleet sent ("" when none), and
	// Queue the memory-queue settings it (or an explicit queue.mem) stands
	// for. The output does not run the queue: whoever builds it takes the
	// preset's values through QueueSection.
	Preset string
	Queue  QueueSettings
}

// QueueSettings are the queue.mem values a preset stands for.
type QueueSettings struct {
	Events         int
	FlushMinEvents int
	FlushTimeout   time.Duration
}

// preset is one row of Elastic's "Performance tuning settings" table
// (Fleet, Elasticsearch output settings; agents 8.12+).
type preset struct {
	bulkMaxSize, worker, compressionLevel int
	queue                                 QueueSettings
	idleConnTimeout                       time.Duration
}

var presets = map[string]preset{
	"balanced":   {1600, 1, 1, QueueSettings{3200, 1600, 10 * time.Second}, 3 * time.Second},
	"throughput": {1600, 4, 1, QueueSettings{12800, 1600, 5 * time.Second}, 15 * time.Second},
	"scale":      {1600, 1, 1, QueueSettings{3200, 1600, 20 * time.Second}, 1 * time.Second},
	"latency":    {50, 1, 1, QueueSettings{4100, 2050, 1 * time.Second}, 60 * time.Second},
}

// presetKeys are the settings a non-custom preset fixes. Elastic's docs say
// preset values take precedence over such settings (and Fleet switches the
// preset to custom when the advanced YAML sets one); silently ignoring a
// setting the user wrote is worse than saying so, so here it is an error.
var presetKeys = []string{"bulk_max_size", "worker", "workers", "compression_level", "idle_connection_timeout",
	"queue.mem.events", "queue.mem.flush.min_events", "queue.mem.flush.timeout", "queue.disk"}

// QueueSection is the `queue:` section the publish queue is to be built
// from for the output config cfg, given the queue section written for it
// (explicit: the output unit's `queue`, or the standalone file's `queue:`
// beside `streams:`; nil for none). A non-custom Elasticsearch preset
// stands for its queue.mem values (events, flush.min_events,
// flush.timeout), returned as a queue.mem section. A queue section beside
// such a preset is refused naming both, as ParseConfig refuses a bulk
// setting beside one: the preset would otherwise silently win or lose.
// Other outputs, preset custom or none: explicit, unchanged.
func QueueSection(cfg map[string]any, explicit any) (any, error) {
	if t, _ := cfg["type"].(string); t != "elasticsearch" {
		return explicit, nil
	}
	name, _ := cfg["preset"].(string)
	ps, ok := presets[name]
	if !ok {
		return explicit, nil
	}
	if explicit != nil {
		key := "queue"
		if m, isMap := explicit.(map[string]any); isMap {
			if len(m) == 0 {
				explicit = nil
			}
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if len(keys) > 0 {
				key += "." + keys[0]
			}
		}
		if explicit != nil {
			return nil, fmt.Errorf("%s: set beside preset %q, which sets queue.mem (events %d, flush.min_events %d, flush.timeout %s); remove it or use preset: custom",
				key, name, ps.queue.Events, ps.queue.FlushMinEvents, ps.queue.FlushTimeout)
		}
	}
	return map[string]any{"mem": map[string]any{
		"events":           ps.queue.Events,
		"flush.min_events": ps.queue.FlushMinEvents,
		"flush.timeout":    ps.queue.FlushTimeout.String(),
	}}, nil
}

// Defaults match the Beats output defaults.
const (
	DefaultBulkMaxSize      = 1600
	DefaultWorkers          = 1
	DefaultCompressionLevel = 1
	DefaultTimeout          = 90 * time.Second
	DefaultBackoffInit      = time.Second
	DefaultBackoffMax       = 60 * time.Second
)

// ParseConfig reads the output map. Unknown keys are ignored: the agent sends
// options meant for other parts of the stack (e.g. `preset`, `queue`).
func ParseConfig(m map[string]any) (*Config, error) {
	c := &Config{
		BulkMaxSize:      DefaultBulkMaxSize,
		Workers:          DefaultWorkers,
		CompressionLevel: DefaultCompressionLevel,
		Timeout:          DefaultTimeout,
		BackoffInit:      DefaultBackoffInit,
		BackoffMax:       DefaultBackoffMax,
		IdleConnTimeout:  presets["balanced"].idleConnTimeout,
		Queue:            presets["balanced"].queue,
	}
	if t, ok := m["type"].(string); ok && t != "" && t != "elasticsearch" {
		return nil, fmt.Errorf("output type %q is not elasticsearch", t)
	}
	hosts, err := outcfg.StrList(m["hosts"])
	if err != nil {
		return nil, fmt.Errorf("hosts: %w", err)
	}
	if len(hosts) == 0 {
		if h, ok := m["host"].(string); ok && h != "" {
			hosts = []string{h}
		}
	}
	if len(hosts) == 0 {
		return nil, errors.New("hosts: at least one Elasticsearch host is required")
	}
	scheme := "http"
	if p, ok := m["protocol"].(string); ok && p != "" {
		scheme = p
	}
	// The ssl block every output reads (outcfg): nil when absent or
	// disabled; a setting it cannot honour is an error naming it.
	if c.TLS, err = outcfg.New(m).TLS(); err != nil {
		return nil, err
	}
	if c.TLS != nil && scheme == "http" {
		if _, set := m["protocol"]; !set {
			scheme = "https"
		}
	}
	c.Path, _ = m["path"].(string)
	for _, h := range hosts {
		u, err := hostURL(h, scheme, c.Path)
		if err != nil {
			return nil, fmt.Errorf("hosts: %q: %w", h, err)
		}
		c.Hosts = append(c.Hosts, u)
	}
	if p, ok := m["proxy_url"].(string); ok && p != "" {
		if c.ProxyURL, err = url.Parse(p); err != nil || c.ProxyURL.Host == "" {
			return nil, fmt.Errorf("proxy_url: %q is not a URL", p)
		}
	}
	c.ProxyDisable, _ = m["proxy_disable"].(bool)
	c.APIKey, _ = m["api_key"].(string)
	c.Username, _ = m["username"].(string)
	c.Password, _ = m["password"].(string)
	c.ServiceToken, _ = m["service_token"].(string)
	if c.ServiceToken != "" && (c.APIKey != "" || c.Username != "") {
		return nil, errors.New("service_token: set either service_token, api_key or username/password, not several")
	}
	if p, ok := m["preset"]; ok {
		name, _ := p.(string)
		if _, known := presets[name]; !known && name != "custom" && p != "" {
			return nil, fmt.Errorf("preset: %v: use balanced, throughput, scale, latency or custom", p)
		}
		c.Preset = name
	}
	if ps, ok := presets[c.Preset]; ok {
		for _, k := range presetKeys {
			if _, set := lookup(m, k); set {
				return nil, fmt.Errorf("%s: set by preset %q; remove it or use preset: custom", k, c.Preset)
			}
		}
		c.BulkMaxSize, c.Workers, c.CompressionLevel = ps.bulkMaxSize, ps.worker, ps.compressionLevel
		c.Queue, c.IdleConnTimeout = ps.queue, ps.idleConnTimeout
	}
	if v, ok := m["idle_connection_timeout"]; ok {
		if c.IdleConnTimeout, err = asDuration(v); err != nil || c.IdleConnTimeout < 0 {
			return nil, fmt.Errorf("idle_connection_timeout: %v is not a duration", v)
		}
	}
	if err := c.Queue.parse(m); err != nil {
		return nil, err
	}
	if hm, ok := m["headers"].(map[string]any); ok {
		c.Headers = map[string]string{}
		for k, v := range hm {
			c.Headers[k] = fmt.Sprint(v)
		}
	}
	if v, ok := m["bulk_max_size"]; ok {
		if c.BulkMaxSize, err = asInt(v); err != nil || c.BulkMaxSize < 0 {
			return nil, fmt.Errorf("bulk_max_size: %v is not a non-negative number", v)
		}
		if c.BulkMaxSize == 0 {
			c.BulkMaxSize = DefaultBulkMaxSize
		}
	}
	for _, k := range []string{"worker", "workers"} {
		if v, ok := m[k]; ok {
			if c.Workers, err = asInt(v); err != nil || c.Workers < 1 {
				return nil, fmt.Errorf("%s: %v must be at least 1", k, v)
			}
		}
	}
	if v, ok := m["compression_level"]; ok {
		if c.CompressionLevel, err = asInt(v); err != nil || c.CompressionLevel < 0 || c.CompressionLevel > 9 {
			return nil, fmt.Errorf("compression_level: %v must be 0 to 9", v)
		}
	}
	if v, ok := m["timeout"]; ok {
		if c.Timeout, err = asDuration(v); err != nil {
			return nil, fmt.Errorf("timeout: %w", err)
		}
	}
	if bm, ok := m["backoff"].(map[string]any); ok {
		if v, ok := bm["init"]; ok {
			if c.BackoffInit, err = asDuration(v); err != nil {
				return nil, fmt.Errorf("backoff.init: %w", err)
			}
		}
		if v, ok := bm["max"]; ok {
			if c.BackoffMax, err = asDuration(v); err != nil {
				return nil, fmt.Errorf("backoff.max: %w", err)
			}
		}
	}
	return c, nil
}

// lookup finds a dotted key either flat ("queue.mem.events": 1) or nested
// (queue: {mem: {events: 1}}), as YAML from Fleet's advanced box can be.
func lookup(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	head, rest, found := strings.Cut(key, ".")
	if !found {
		return nil, false
	}
	for k, v := range m {
		if k == head {
			if sub, ok := v.(map[string]any); ok {
				return lookup(sub, rest)
			}
		}
		// "queue.mem": {events: 1}
		if strings.HasPrefix(key, k+".") {
			if sub, ok := v.(map[string]any); ok {
				if r, ok := lookup(sub, strings.TrimPrefix(key, k+".")); ok {
					return r, true
				}
			}
		}
	}
	return nil, false
}

func (q *QueueSettings) parse(m map[string]any) error {
	var err error
	if v, ok := lookup(m, "queue.mem.events"); ok {
		if q.Events, err = asInt(v); err != nil || q.Events < 1 {
			return fmt.Errorf("queue.mem.events: %v must be at least 1", v)
		}
	}
	if v, ok := lookup(m, "queue.mem.flush.min_events"); ok {
		if q.FlushMinEvents, err = asInt(v); err != nil || q.FlushMinEvents < 0 {
			return fmt.Errorf("queue.mem.flush.min_events: %v is not a non-negative number", v)
		}
	}
	if v, ok := lookup(m, "queue.mem.flush.timeout"); ok {
		if q.FlushTimeout, err = asDuration(v); err != nil || q.FlushTimeout < 0 {
			return fmt.Errorf("queue.mem.flush.timeout: %v is not a duration", v)
		}
	}
	return nil
}

// encodedAPIKey turns Fleet's "id:key" into the base64 form the
// Authorization header needs; a value without ':' is taken as encoded.
func (c *Config) encodedAPIKey() string {
	if c.APIKey == "" || !strings.Contains(c.APIKey, ":") {
		return c.APIKey
	}
	return base64.StdEncoding.EncodeToString([]byte(c.APIKey))
}

func hostURL(h, scheme, path string) (string, error) {
	if !strings.Contains(h, "://") {
		h = scheme + "://" + h
	}
	u, err := url.Parse(h)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", errors.New("no host")
	}
	if u.Port() == "" {
		u.Host += ":9200"
	}
	if path != "" && (u.Path == "" || u.Path == "/") {
		u.Path = "/" + strings.Trim(path, "/")
	}
	return u.String(), nil
}

func (c *Config) header() http.Header {
	h := http.Header{}
	for k, v := range c.Headers {
		h.Set(k, v)
	}
	return h
}

func asInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("%v is not whole", x)
		}
		return int(x), nil
	case string:
		return strconv.Atoi(x)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

func asDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		return time.ParseDuration(x)
	case int:
		return time.Duration(x) * time.Second, nil
	case float64:
		return time.Duration(x * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%v is not a duration", v)
}

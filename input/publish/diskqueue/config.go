package diskqueue

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/publish"
)

// FromConfig builds the queue a `queue:` section asks for: `mem` (events,
// flush.min_events, flush.timeout) or `disk` (path, max_size,
// segment_size, read_ahead, write_ahead, retry_interval,
// max_retry_interval), nested or with dotted keys as Fleet's advanced YAML
// sends them. No section is a memory queue of defaultEvents. Unknown
// settings are errors naming them.
func FromConfig(section any, out output.Output, defaultEvents int, log *slog.Logger) (publish.Pipeline, error) {
	qc, err := ParseConfig(section, defaultEvents)
	if err != nil {
		return nil, err
	}
	return qc.Open(out, log)
}

// QueueConfig is a parsed `queue:` section: Disk set for queue.disk, else
// Mem.
type QueueConfig struct {
	Mem  publish.MemConfig
	Disk *Config
}

// Open builds the queue.
func (qc QueueConfig) Open(out output.Output, log *slog.Logger) (publish.Pipeline, error) {
	if qc.Disk != nil {
		return Open(*qc.Disk, out, log)
	}
	return publish.NewQueueWith(out, qc.Mem), nil
}

// ParseConfig checks a `queue:` section without opening anything.
func ParseConfig(section any, defaultEvents int) (QueueConfig, error) {
	if section == nil {
		return QueueConfig{Mem: publish.MemConfig{Events: defaultEvents}}, nil
	}
	m, ok := section.(map[string]any)
	if !ok {
		return QueueConfig{}, errors.New("queue must be a map (mem: {...} or disk: {...})")
	}
	flat := map[string]any{}
	flatten("", m, flat)
	mem, disk := map[string]any{}, map[string]any{}
	for k, v := range flat {
		switch {
		case strings.HasPrefix(k, "mem."):
			mem[strings.TrimPrefix(k, "mem.")] = v
		case strings.HasPrefix(k, "disk."):
			disk[strings.TrimPrefix(k, "disk.")] = v
		default:
			return QueueConfig{}, fmt.Errorf("queue.%s: unknown setting (queue.mem.* or queue.disk.*)", k)
		}
	}
	if len(mem) > 0 && len(disk) > 0 {
		return QueueConfig{}, errors.New("queue: mem and disk are exclusive")
	}
	if len(disk) == 0 {
		var c publish.MemConfig
		for _, k := range sortedKeys(mem) {
			v := mem[k]
			var err error
			switch k {
			case "events":
				c.Events, err = toInt(v)
			case "flush.min_events":
				c.MinEvents, err = toInt(v)
			case "flush.timeout":
				c.FlushTimeout, err = toDuration(v)
			default:
				err = errors.New("unknown setting")
			}
			if err != nil {
				return QueueConfig{}, fmt.Errorf("queue.mem.%s: %w", k, err)
			}
		}
		if c.Events == 0 {
			c.Events = defaultEvents
		}
		return QueueConfig{Mem: c}, nil
	}
	var c Config
	for _, k := range sortedKeys(disk) {
		v := disk[k]
		var err error
		switch k {
		case "path":
			c.Path, ok = v.(string)
			if !ok {
				err = errors.New("must be a string")
			}
		case "max_size":
			c.MaxSize, err = toBytes(v)
		case "segment_size":
			c.SegmentSize, err = toBytes(v)
		case "read_ahead":
			c.ReadAhead, err = toInt(v)
		case "write_ahead":
			c.WriteAhead, err = toInt(v)
		case "retry_interval":
			c.RetryInterval, err = toDuration(v)
		case "max_retry_interval":
			c.MaxRetryInterval, err = toDuration(v)
		default:
			err = errors.New("unknown setting")
		}
		if err != nil {
			return QueueConfig{}, fmt.Errorf("queue.disk.%s: %w", k, err)
		}
	}
	if c.Path == "" {
		return QueueConfig{}, errors.New("queue.disk.path is required")
	}
	if c.SegmentSize > 0 && c.MaxSize > 0 && c.SegmentSize > c.MaxSize {
		return QueueConfig{}, fmt.Errorf("queue.disk.segment_size %d is larger than max_size %d", c.SegmentSize, c.MaxSize)
	}
	return QueueConfig{Disk: &c}, nil
}

func flatten(prefix string, m map[string]any, dst map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, dst)
			continue
		}
		dst[key] = v
	}
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case int:
		if n < 0 {
			return 0, errors.New("must not be negative")
		}
		return n, nil
	case int64:
		return toInt(int(n))
	case uint64:
		return toInt(int(n))
	case float64:
		if n != math.Trunc(n) {
			return 0, fmt.Errorf("%v is not a whole number", n)
		}
		return toInt(int(n))
	case string:
		i, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", n)
		}
		return toInt(i)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

func toDuration(v any) (time.Duration, error) {
	if s, ok := v.(string); ok {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not a duration (1s, 500ms)", s)
		}
		return d, nil
	}
	n, err := toInt(v) // a bare number is seconds, as in Beats
	return time.Duration(n) * time.Second, err
}

// toBytes reads a size: a number of bytes or a number with a unit (KB = 1000,
// KiB = 1024, up to TB/TiB), as Beats' humanized sizes.
func toBytes(v any) (int64, error) {
	s, ok := v.(string)
	if !ok {
		n, err := toInt(v)
		return int64(n), err
	}
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size (100MiB, 10GB)", s)
	}
	mult := map[string]float64{"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("%q: unknown unit %q", s, unit)
	}
	return int64(f * mult), nil
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/output/elasticsearch"
	"github.com/network-traffic/network-traffic/input/output/kafka"
	"github.com/network-traffic/network-traffic/input/output/logstash"
	"github.com/network-traffic/network-traffic/input/output/ndjson"
	"github.com/network-traffic/network-traffic/input/output/redis"
	"github.com/network-traffic/network-traffic/input/output/shipper"
)

// OutputFactory builds an output from the output unit's config.
type OutputFactory func(cfg map[string]any, log *slog.Logger) (output.Output, error)

// NewOutput is the default OutputFactory: elasticsearch, kafka, logstash,
// redis, shipper, file and console.
func NewOutput(cfg map[string]any, log *slog.Logger) (output.Output, error) {
	typ, _ := cfg["type"].(string)
	switch typ {
	case "elasticsearch":
		return elasticsearch.FromMap(cfg, log)
	case "logstash":
		return logstash.FromMap(cfg, log)
	case "redis":
		return redis.FromMap(cfg, log)
	case "shipper":
		return shipper.FromMap(cfg, log)
	case "file":
		dir, _ := cfg["path"].(string)
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "network-traffic")
		}
		name, _ := cfg["filename"].(string)
		if name == "" {
			name = "network-traffic.ndjson"
		}
		c := ndjson.Config{Path: filepath.Join(dir, name), Append: true}
		if kb, ok := cfg["rotate_every_kb"].(float64); ok && kb > 0 {
			c.RotateBytes = int64(kb) * 1024
		}
		if n, ok := cfg["number_of_files"].(float64); ok && n > 0 {
			c.Keep = int(n)
		}
		return ndjson.New(c)
	case "console":
		return ndjson.NewWriter(os.Stdout), nil
	case "":
		return nil, errors.New("output has no type")
	case "kafka":
		return kafka.FromMap(cfg, log)
	}
	return nil, fmt.Errorf("unknown output type %q (use elasticsearch, kafka, logstash, redis, shipper, file or console)", typ)
}

// QueueSection is the `queue:` section to build the publish queue from for
// the output config cfg, given the queue section written for it: an
// Elasticsearch preset's queue.mem values, else the section itself (see
// elasticsearch.QueueSection). Standalone runs use it too.
func QueueSection(cfg map[string]any, queue any) (any, error) {
	return elasticsearch.QueueSection(cfg, queue)
}

// swapOutput is what the queue publishes to. It forwards to the current
// output; replacing the output cancels a Publish still retrying against the
// old one (e.g. a dead Elasticsearch), so the queue resends that batch to the
// new output instead of waiting forever. With no output yet, Publish waits.
type swapOutput struct {
	mu      sync.Mutex
	cur     *outEntry
	changed chan struct{} // closed and replaced on every Set
}

type outEntry struct {
	out    output.Output
	ctx    context.Context
	cancel context.CancelFunc
	inUse  sync.WaitGroup // Adds happen only while the entry is current
}

func newSwapOutput() *swapOutput {
	return &swapOutput{changed: make(chan struct{})}
}

// Set installs out (nil: none) and returns the previous output after every
// Publish on it has returned; the caller closes it.
func (s *swapOutput) Set(out output.Output) output.Output {
	var e *outEntry
	if out != nil {
		e = &outEntry{out: out}
		e.ctx, e.cancel = context.WithCancel(context.Background())
	}
	s.mu.Lock()
	old := s.cur
	s.cur = e
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if old == nil {
		return nil
	}
	old.cancel()
	old.inUse.Wait()
	return old.out
}

// Current returns the output in use (nil if none).
func (s *swapOutput) Current() output.Output {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil
	}
	return s.cur.out
}

func (s *swapOutput) Publish(ctx context.Context, batch []output.Doc) error {
	for {
		s.mu.Lock()
		e, changed := s.cur, s.changed
		if e != nil {
			e.inUse.Add(1)
		}
		s.mu.Unlock()
		if e == nil {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		pctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(e.ctx, cancel)
		err := e.out.Publish(pctx, batch)
		stop()
		cancel()
		e.inUse.Done()
		if err != nil && e.ctx.Err() != nil && ctx.Err() == nil {
			// Replaced mid-batch: send the batch again to the new output.
			continue
		}
		return err
	}
}

// Close closes the current output.
func (s *swapOutput) Close() error {
	if old := s.Set(nil); old != nil {
		return old.Close()
	}
	return nil
}

// Stats reports the current output's stats.
func (s *swapOutput) Stats() output.Stats {
	if sr, ok := s.Current().(output.StatsReporter); ok {
		return sr.Stats()
	}
	return output.Stats{}
}

// Package logstash sends documents to Logstash's beats input (or any
// lumberjack v2 server) with Elastic's go-lumber client: windows of events,
// optionally zlib-compressed, each acknowledged by the server before it
// counts as published.
package logstash

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/input/output/outcfg"
)

// Config is the `logstash` output as the agent's output unit (or a
// standalone config) gives it, with the Beats option names.
type Config struct {
	Hosts            []string // host:port
	LoadBalance      bool     // spread windows over every host; else one host, failing over
	Workers          int      // connections per host
	Pipelining       int      // windows sent ahead of their acknowledgement
	BulkMaxSize      int      // events per window, the upper bound when slow_start grows it
	SlowStart        bool     // start at a window of 1 and grow on success
	CompressionLevel int      // zlib level, 0 = off
	TTL              time.Duration
	Timeout          time.Duration // per network read and write (ack wait)
	BackoffInit      time.Duration
	BackoffMax       time.Duration
	TLS              *tls.Config
	Index            string // @metadata.beat override (Beats' `index`)
}

// Defaults of the Beats logstash output.
const (
	DefaultPort             = "5044"
	DefaultBulkMaxSize      = 2048
	DefaultPipelining       = 2
	DefaultCompressionLevel = 3
	DefaultTimeout          = 30 * time.Second
)

// ParseConfig reads the output map. Settings it does not know are an error
// naming them.
func ParseConfig(m map[string]any) (*Config, error) {
	if t, ok := m["type"].(string); ok && t != "" && t != "logstash" {
		return nil, fmt.Errorf("output type %q is not logstash", t)
	}
	c := outcfg.New(m)
	cfg := &Config{}
	hosts, err := c.Strings("hosts")
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		return nil, errors.New("hosts: at least one Logstash host (host:port) is required")
	}
	for _, h := range hosts {
		a, err := hostPort(h)
		if err != nil {
			return nil, fmt.Errorf("hosts: %q: %v", h, err)
		}
		cfg.Hosts = append(cfg.Hosts, a)
	}
	if cfg.LoadBalance, err = c.Bool("loadbalance", false); err != nil {
		return nil, err
	}
	if cfg.Workers, err = c.Int("worker", 1, 1, 64); err != nil {
		return nil, err
	}
	if c.Has("workers") {
		if cfg.Workers, err = c.Int("workers", 1, 1, 64); err != nil {
			return nil, err
		}
	}
	if cfg.Pipelining, err = c.Int("pipelining", DefaultPipelining, 0, 64); err != nil {
		return nil, err
	}
	if cfg.BulkMaxSize, err = c.Int("bulk_max_size", DefaultBulkMaxSize, 0, 1<<20); err != nil {
		return nil, err
	}
	if cfg.BulkMaxSize == 0 {
		cfg.BulkMaxSize = DefaultBulkMaxSize
	}
	if cfg.SlowStart, err = c.Bool("slow_start", false); err != nil {
		return nil, err
	}
	if cfg.CompressionLevel, err = c.Int("compression_level", DefaultCompressionLevel, 0, 9); err != nil {
		return nil, err
	}
	if cfg.TTL, err = c.Duration("ttl", 0, true); err != nil {
		return nil, err
	}
	if cfg.Timeout, err = c.Duration("timeout", DefaultTimeout, false); err != nil {
		return nil, err
	}
	if cfg.BackoffInit, cfg.BackoffMax, err = c.Backoff(); err != nil {
		return nil, err
	}
	if err := c.MaxRetries(); err != nil {
		return nil, err
	}
	if cfg.TLS, err = c.TLS(); err != nil {
		return nil, err
	}
	if cfg.Index, err = c.String("index", "network-traffic"); err != nil {
		return nil, err
	}
	// Beats options this output does not implement: refused, not ignored.
	if err := c.Unsupported("no proxy support; connect directly", "proxy_url", "proxy_use_local_resolver"); err != nil {
		return nil, err
	}
	if v, ok := c.Raw("escape_html"); ok && v != false {
		return nil, errors.New("escape_html: only false is supported (documents are sent as encoded)")
	}
	if err := c.Unknown("logstash"); err != nil {
		return nil, err
	}
	return cfg, nil
}

func hostPort(h string) (string, error) {
	if strings.Contains(h, "://") {
		return "", errors.New("want host:port, not a URL")
	}
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h, nil
	}
	if h == "" {
		return "", errors.New("empty")
	}
	return net.JoinHostPort(strings.Trim(h, "[]"), DefaultPort), nil
}

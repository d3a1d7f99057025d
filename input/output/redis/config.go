// Package redis sends documents to Redis lists (RPUSH) or channels
// (PUBLISH) with github.com/redis/go-redis/v9, the key chosen per event by
// a format string and rules as Beats' redis output does.
package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/input/output/outcfg"
	"github.com/network-traffic/network-traffic/input/output/outfmt"
)

// Config is the `redis` output with the Beats option names.
type Config struct {
	Hosts       []Host
	Keys        *outfmt.Selector // key / keys
	DataType    string           // "list" or "channel"
	LoadBalance bool
	Workers     int // connections per host
	BulkMaxSize int // events per round trip
	Timeout     time.Duration
	BackoffInit time.Duration
	BackoffMax  time.Duration
	TLS         *tls.Config
}

// Host is one server with its own credentials (a redis:// URL may carry
// them; otherwise the output's password and db apply).
type Host struct {
	Addr     string
	Password string
	DB       int
	TLS      bool // rediss:// URL
}

// Defaults of the Beats redis output; the key defaults to the beat name.
const (
	DefaultPort        = "6379"
	DefaultKey         = "network-traffic"
	DefaultBulkMaxSize = 2048
	DefaultTimeout     = 5 * time.Second
)

// ParseConfig reads the output map. Settings it does not know are an error
// naming them.
func ParseConfig(m map[string]any) (*Config, error) {
	if t, ok := m["type"].(string); ok && t != "" && t != "redis" {
		return nil, fmt.Errorf("output type %q is not redis", t)
	}
	c := outcfg.New(m)
	cfg := &Config{}
	password, err := c.String("password", "")
	if err != nil {
		return nil, err
	}
	db, err := c.Int("db", 0, 0, 1<<20)
	if err != nil {
		return nil, err
	}
	hosts, err := c.Strings("hosts")
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		return nil, errors.New("hosts: at least one Redis host (host:port) is required")
	}
	for _, h := range hosts {
		hh, err := parseHost(h, password, db)
		if err != nil {
			return nil, fmt.Errorf("hosts: %q: %v", h, err)
		}
		cfg.Hosts = append(cfg.Hosts, hh)
	}
	c.Has("keys")
	keyCfg := m
	if !c.Has("key") && c.Has("index") {
		// Beats' older name for key.
		keyCfg = map[string]any{"key": m["index"], "keys": m["keys"]}
	}
	if cfg.Keys, err = outfmt.NewSelector(keyCfg, "key", "keys", DefaultKey); err != nil {
		return nil, err
	}
	if cfg.DataType, err = c.String("datatype", "list"); err != nil {
		return nil, err
	}
	switch cfg.DataType {
	case "list", "channel":
	default:
		return nil, fmt.Errorf("datatype: %q (use list or channel)", cfg.DataType)
	}
	if cfg.LoadBalance, err = c.Bool("loadbalance", true); err != nil {
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
	if cfg.BulkMaxSize, err = c.Int("bulk_max_size", DefaultBulkMaxSize, 0, 1<<20); err != nil {
		return nil, err
	}
	if cfg.BulkMaxSize == 0 {
		cfg.BulkMaxSize = DefaultBulkMaxSize
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
	if err := c.Unsupported("no proxy support; connect directly", "proxy_url", "proxy_use_local_resolver"); err != nil {
		return nil, err
	}
	if err := c.Unsupported("documents are sent as the JSON they are", "codec"); err != nil {
		return nil, err
	}
	if v, ok := c.Raw("escape_html"); ok && v != false {
		return nil, errors.New("escape_html: only false is supported (documents are sent as encoded)")
	}
	if err := c.Unknown("redis"); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseHost accepts host, host:port and redis:// or rediss:// URLs
// (redis://:password@host:port/db).
func parseHost(h, password string, db int) (Host, error) {
	out := Host{Password: password, DB: db}
	if strings.Contains(h, "://") {
		u, err := url.Parse(h)
		if err != nil {
			return out, err
		}
		switch u.Scheme {
		case "redis":
		case "rediss":
			out.TLS = true
		default:
			return out, fmt.Errorf("scheme %q (use redis or rediss)", u.Scheme)
		}
		if p, ok := u.User.Password(); ok {
			out.Password = p
		}
		if p := strings.Trim(u.Path, "/"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return out, fmt.Errorf("database %q is not a number", p)
			}
			out.DB = n
		}
		h = u.Host
	}
	if h == "" {
		return out, errors.New("empty")
	}
	if _, _, err := net.SplitHostPort(h); err != nil {
		h = net.JoinHostPort(strings.Trim(h, "[]"), DefaultPort)
	}
	out.Addr = h
	return out, nil
}

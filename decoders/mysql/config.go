// Package mysql decodes the MySQL/MariaDB client/server protocol over TCP
// into request/response transactions with the fields of Packetbeat's mysql
// data stream (mysql.*, and the root method/query/path/status summary).
//
// Files: config.go (options and defaults), parser.go (packet framing and
// wire primitives over byte slices), transactions.go (per-connection phases,
// response state machine, pairing, prepared statements, gaps, timeouts),
// event.go (the ECS document).
//
// The handshake and authentication are followed (not published) to learn
// the negotiated capabilities: CLIENT_DEPRECATE_EOF changes how result sets
// end, and CLIENT_COMPRESS or an SSL request make the rest of the connection
// undecodable here (compressed or TLS): those connections are counted and
// skipped.
package mysql

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Packetbeat's defaults.
var defaultPorts = []uint16{3306, 3307}

const (
	defaultTimeout          = 10 * time.Second
	defaultMaxRows          = 10
	defaultMaxRowLength     = 1024
	defaultStatementTimeout = time.Hour

	// maxInspect bounds how much of one packet's payload is looked at (and
	// so buffered): a query text longer than this is truncated. Row data and
	// the rest of big packets are skipped as they stream by.
	maxInspect = 64 << 10
	// maxStatements bounds the prepared statements remembered per
	// connection; a client leaking statements cannot grow memory forever.
	maxStatements = 1024
	// maxQueue bounds requests waiting for a response on one connection
	// (MySQL is lock-step: more than one is already unusual).
	maxQueue = 64
	// maxParamLength bounds one rendered prepared-statement parameter.
	maxParamLength = 1024
)

// duration accepts Go duration strings and plain numbers of seconds.
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	x, err := protocol.AsDuration(v)
	if err != nil {
		return err
	}
	*d = duration(x)
	return nil
}

// Config holds the mysql-specific options (the common ones live in
// protocol.Common).
type Config struct {
	// MaxRows is how many result rows send_response writes (default 10).
	MaxRows *int `yaml:"max_rows"`
	// MaxRowLength bounds the bytes of one row written by send_response
	// (default 1024).
	MaxRowLength *int `yaml:"max_row_length"`
	// StatementTimeout is how long an unused prepared statement is
	// remembered, so later executions can be shown with their query
	// (default 1h).
	StatementTimeout *duration `yaml:"statement_timeout"`
}

// settings is Config resolved.
type settings struct {
	common           protocol.Common
	maxRows          int
	maxRowLength     int
	statementTimeout time.Duration
}

func newSettings(common protocol.Common, c *Config) (*settings, error) {
	s := &settings{common: common, maxRows: defaultMaxRows, maxRowLength: defaultMaxRowLength,
		statementTimeout: defaultStatementTimeout}
	var err error
	if s.maxRows, err = protocol.NonNegative("max_rows", c.MaxRows, s.maxRows); err != nil {
		return nil, err
	}
	if s.maxRowLength, err = protocol.NonNegative("max_row_length", c.MaxRowLength, s.maxRowLength); err != nil {
		return nil, err
	}
	if c.StatementTimeout != nil {
		if *c.StatementTimeout <= 0 {
			return nil, fmt.Errorf("statement_timeout: must be positive")
		}
		s.statementTimeout = time.Duration(*c.StatementTimeout)
	}
	return s, nil
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "mysql",
		TCP:            true,
		DefaultPorts:   defaultPorts,
		Probe:          probe,
		Resync:         commandProbe,
		DefaultTimeout: defaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	s, err := newSettings(common, &c)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	p := &Protocol{cfg: s, pub: pub}
	return &protocol.Instance{Name: "mysql", Common: common, TCP: p}, nil
}

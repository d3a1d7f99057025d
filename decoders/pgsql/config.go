// Package pgsql decodes the PostgreSQL frontend/backend protocol (version 3)
// over TCP into one transaction per SQL statement, with the fields of
// Packetbeat's pgsql data stream (root method/query/status, pgsql.num_rows,
// pgsql.num_fields, pgsql.error_*).
//
// Files: config.go (options and defaults), parser.go (message framing and
// message bodies over byte slices), transactions.go (per-connection pairing
// of statements with their results, gaps, timeouts), event.go (the ECS
// document).
package pgsql

import (
	"fmt"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Packetbeat's defaults.
var defaultPorts = []uint16{5432}

const (
	defaultTimeout      = 10 * time.Second
	defaultMaxRows      = 10
	defaultMaxRowLength = 1024
)

// Config holds the pgsql-specific options (the common ones live in
// protocol.Common).
type Config struct {
	// MaxRows bounds the rows written to the response text (send_response).
	MaxRows *int `yaml:"max_rows"`
	// MaxRowLength bounds the bytes of one row in the response text.
	MaxRowLength *int `yaml:"max_row_length"`
}

// settings is Config resolved for the hot path.
type settings struct {
	common       protocol.Common
	maxRows      int
	maxRowLength int
}

func newSettings(common protocol.Common, c *Config) (*settings, error) {
	s := &settings{common: common, maxRows: defaultMaxRows, maxRowLength: defaultMaxRowLength}
	var err error
	if s.maxRows, err = protocol.NonNegative("max_rows", c.MaxRows, s.maxRows); err != nil {
		return nil, err
	}
	if s.maxRowLength, err = protocol.NonNegative("max_row_length", c.MaxRowLength, s.maxRowLength); err != nil {
		return nil, err
	}
	return s, nil
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "pgsql",
		TCP:            true,
		DefaultPorts:   defaultPorts,
		Probe:          probe,
		Resync:         resyncProbe,
		DefaultTimeout: defaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("pgsql: %w", err)
	}
	s, err := newSettings(common, &c)
	if err != nil {
		return nil, fmt.Errorf("pgsql: %w", err)
	}
	p := &Protocol{cfg: s, pub: pub}
	return &protocol.Instance{Name: "pgsql", Common: common, TCP: p}, nil
}

// Package thrift decodes Apache Thrift RPC (TBinaryProtocol, strict and old
// unversioned message headers) over the socket (unframed) and framed
// transports into network_traffic.thrift transactions shaped like
// Packetbeat's: a CALL paired with its REPLY or EXCEPTION by sequence id and
// method name per connection, ONEWAY calls published alone. Values are
// rendered by field id as Packetbeat does without IDL: add(1: 1, 2: 2).
//
// Files: config.go (options, defaults, registration), parser.go (message
// scanning and value rendering over byte slices), transactions.go
// (pairing, gaps, timeouts), event.go (the ECS document).
package thrift

import (
	"fmt"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Config holds the thrift-specific options; the common ones (ports,
// send_request, send_response, transaction_timeout, keep_null) come in
// protocol.Common. Pointers tell "unset" from zero.
type Config struct {
	TransportType          string   `yaml:"transport_type"`
	ProtocolType           string   `yaml:"protocol_type"`
	IDLFiles               []string `yaml:"idl_files"`
	StringMaxSize          *int     `yaml:"string_max_size"`
	CollectionMaxSize      *int     `yaml:"collection_max_size"`
	CaptureReply           *bool    `yaml:"capture_reply"`
	ObfuscateStrings       bool     `yaml:"obfuscate_strings"`
	DropAfterNStructFields *int     `yaml:"drop_after_n_struct_fields"`
}

// Packetbeat's defaults.
var DefaultPorts = []uint16{9090}

const (
	DefaultTimeout                = 10 * time.Second
	DefaultStringMaxSize          = 200
	DefaultCollectionMaxSize      = 15
	DefaultDropAfterNStructFields = 500

	// maxMessage bounds one message (and one frame): Thrift's own servers
	// refuse frames over 16 MB by default; the engine keeps at most 10 MiB
	// of an unfinished message anyway. Lengths beyond it are garbage.
	maxMessage = 16 << 20
	// maxNameBytes bounds a method name: an unversioned header starts with
	// the name's length, so a sane bound is what tells it from noise.
	maxNameBytes = 1024
	// maxDepth bounds nesting of structs and containers.
	maxDepth = 64
	// maxRendered bounds the text of params/return_value/exceptions: the
	// per-value bounds (string_max_size, collection_max_size) still allow
	// 15^depth elements, so the whole text is clipped too.
	maxRendered = 8 << 10
	// maxPending bounds the calls waiting for replies on one connection.
	maxPending = 64
)

type settings struct {
	common        protocol.Common
	framed        bool
	stringMax     int
	collectionMax int
	structMax     int
	captureReply  bool
	obfuscate     bool
	// idl names services and fields by method name; nil without IDL.
	idl map[string]*idlMethod
}

func newSettings(common protocol.Common, c *Config) (*settings, error) {
	s := &settings{
		common:        common,
		stringMax:     DefaultStringMaxSize,
		collectionMax: DefaultCollectionMaxSize,
		structMax:     DefaultDropAfterNStructFields,
		captureReply:  true,
		obfuscate:     c.ObfuscateStrings,
	}
	switch c.TransportType {
	case "", "socket":
	case "framed":
		s.framed = true
	default:
		return nil, fmt.Errorf("transport_type: %q is not socket or framed", c.TransportType)
	}
	switch c.ProtocolType {
	case "", "binary":
	default:
		return nil, fmt.Errorf("protocol_type: %q is not supported (only binary)", c.ProtocolType)
	}
	pos := func(name string, v *int, dst *int) error {
		if v == nil {
			return nil
		}
		if *v <= 0 {
			return fmt.Errorf("%s: must be positive, got %d", name, *v)
		}
		*dst = *v
		return nil
	}
	if err := pos("string_max_size", c.StringMaxSize, &s.stringMax); err != nil {
		return nil, err
	}
	if err := pos("collection_max_size", c.CollectionMaxSize, &s.collectionMax); err != nil {
		return nil, err
	}
	if err := pos("drop_after_n_struct_fields", c.DropAfterNStructFields, &s.structMax); err != nil {
		return nil, err
	}
	if c.CaptureReply != nil {
		s.captureReply = *c.CaptureReply
	}
	if len(c.IDLFiles) > 0 {
		m, err := parseIDL(c.IDLFiles)
		if err != nil {
			return nil, err
		}
		s.idl = m
	}
	return s, nil
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "thrift",
		TCP:            true,
		DefaultPorts:   DefaultPorts,
		Probe:          probe,
		Resync:         resyncSocket, // resyncFramed on framed instances
		DefaultTimeout: DefaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("thrift: %w", err)
	}
	s, err := newSettings(common, &c)
	if err != nil {
		return nil, fmt.Errorf("thrift: %w", err)
	}
	return &protocol.Instance{Name: "thrift", Common: common, TCP: &Protocol{cfg: s, pub: pub}}, nil
}

// Package nfs decodes ONC RPC over TCP (record marking) carrying NFS v3
// and v4 into network_traffic.nfs transactions shaped like Packetbeat's:
// a call paired with its reply by xid on the same connection, rpc.* (xid,
// auth flavor, AUTH_UNIX credentials, accept status), nfs.* (version,
// procedure or the main operation of a COMPOUND, status), event.action
// "nfs.<opcode>", and the caller's uid/gid/machine name as the dotted root
// keys user.id, group.id and host.hostname that Packetbeat publishes.
//
// Files: config.go (options, defaults, registration), rpc.go (record
// marking and RPC header decoding over byte slices), names.go (NFS
// procedure, operation and status names; the COMPOUND main-op scan),
// transactions.go (pairing by xid, expiry, gaps), event.go (the document).
//
// Packetbeat decodes NFS over TCP only; so does this package.
package nfs

import (
	"fmt"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Config holds the nfs-specific options. Packetbeat's nfs has none beyond
// the common ones (ports, send_request, send_response,
// transaction_timeout, keep_null); the bound on waiting calls is ours.
type Config struct {
	// MaxPendingCalls bounds the calls waiting for replies on one
	// connection. NFS clients keep up to a few hundred in flight; the
	// oldest are published unanswered beyond it.
	MaxPendingCalls *int `yaml:"max_pending_calls"`
}

var DefaultPorts = []uint16{2049}

const (
	// DefaultTimeout is Packetbeat's nfs transaction_timeout (1m, not the
	// 10s of the other protocols).
	DefaultTimeout         = time.Minute
	DefaultMaxPendingCalls = 1024

	// headLimit bounds the bytes of a message's first fragment decoded:
	// the RPC header (credentials and verifier are at most 400 bytes each)
	// plus a COMPOUND's tag and operation list up to its main operation.
	// The rest (WRITE data, READ replies) is counted and skipped as it
	// streams by, never buffered.
	headLimit = 4096
	// maxTagBytes bounds nfs.tag (a keyword).
	maxTagBytes = 256
)

type settings struct {
	common     protocol.Common
	maxPending int
}

func init() {
	protocol.Register(&protocol.Spec{
		Name:           "nfs",
		TCP:            true,
		DefaultPorts:   DefaultPorts,
		Probe:          probe,
		Resync:         resyncProbe,
		DefaultTimeout: DefaultTimeout,
		New:            newInstance,
	})
}

func newInstance(common protocol.Common, opts protocol.Options, pub protocol.Publisher) (*protocol.Instance, error) {
	var c Config
	if err := opts.Decode(&c); err != nil {
		return nil, fmt.Errorf("nfs: %w", err)
	}
	s := &settings{common: common, maxPending: DefaultMaxPendingCalls}
	if c.MaxPendingCalls != nil {
		if *c.MaxPendingCalls <= 0 || *c.MaxPendingCalls > 1<<20 {
			return nil, fmt.Errorf("nfs: max_pending_calls: must be between 1 and %d, got %d", 1<<20, *c.MaxPendingCalls)
		}
		s.maxPending = *c.MaxPendingCalls
	}
	return &protocol.Instance{Name: "nfs", Common: common, TCP: &Protocol{cfg: s, pub: pub}}, nil
}

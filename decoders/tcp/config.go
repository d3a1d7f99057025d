// Package tcp reassembles TCP connections into per-direction byte streams
// for protocol parsers, within fixed memory bounds.
package tcp

import "time"

// Config bounds the assembler. Zero values take the defaults.
type Config struct {
	// MaxConnections is the size of the connection table; when full, the
	// connection idle longest is closed to make room. Default 65536.
	MaxConnections int
	// IdleTimeout closes a connection with no packet for this long (packet
	// time). Default 60s.
	IdleTimeout time.Duration
	// MaxMessageSize bounds the unconsumed tail kept per direction (the
	// bytes a parser has not consumed yet: a message still arriving).
	// Beyond it the tail is dropped and reported as a gap. A parser can
	// lower or raise it for its connection by implementing
	// MessageSizeLimiter. Default 10 MiB.
	MaxMessageSize int
	// MaxStreamBuffer bounds the out-of-order bytes held per direction
	// waiting for a hole to fill. Default 1 MiB.
	MaxStreamBuffer int
	// MaxTotalBuffer bounds all bytes held by the assembler (tails and
	// out-of-order segments of every connection). Default 64 MiB.
	MaxTotalBuffer int
}

// Defaults.
const (
	DefaultMaxConnections  = 65536
	DefaultIdleTimeout     = 60 * time.Second
	DefaultMaxMessageSize  = 10 << 20
	DefaultMaxStreamBuffer = 1 << 20
	DefaultMaxTotalBuffer  = 64 << 20
)

func (c *Config) defaults() {
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxStreamBuffer <= 0 {
		c.MaxStreamBuffer = DefaultMaxStreamBuffer
	}
	if c.MaxTotalBuffer <= 0 {
		c.MaxTotalBuffer = DefaultMaxTotalBuffer
	}
}

// MessageSizeLimiter is optionally implemented by a protocol.TCPParser to
// set its own unconsumed-tail bound (its max_message_size) instead of
// Config.MaxMessageSize. It is read once, when the connection starts.
type MessageSizeLimiter interface {
	MaxMessageSize() int
}

// Stats counts what the assembler did. Active is a gauge; the rest only grow.
type Stats struct {
	Packets     uint64 // TCP packets seen
	Connections uint64 // connections handed to a parser
	Ignored     uint64 // connections the factory declined
	Active      uint64 // connections in the table now (parsed or ignored)
	Closed      uint64 // closed by FIN+FIN or RST
	Expired     uint64 // closed after IdleTimeout
	Evicted     uint64 // closed early because the table was full

	Retransmits   uint64 // segments whose bytes were all delivered already
	OutOfOrder    uint64 // segments buffered ahead of a hole
	Gaps          uint64 // Gap calls
	GapBytes      uint64 // bytes reported lost by Gap calls
	BufferDrops   uint64 // holes given up because a buffer bound was reached
	TailOverflows uint64 // unconsumed tails dropped for exceeding their bound
	Quarantined   uint64 // connections taken out of decoding after their parser panicked
	Buffered      uint64 // bytes held now (gauge)

	// Capture-loss estimate, counted as Zeek's TCP reassembler does for
	// its capture_loss script: an ACK that moves past the previous one of
	// its direction is an ack event covering AckedBytes; the bytes in that
	// range the capture never saw are AckedUnseenBytes, and an ack event
	// with any is a gap event. Only connections handed to a parser are
	// tracked (declined ones keep no sequence state).
	AckEvents        uint64
	AckedBytes       uint64
	AckedGapEvents   uint64
	AckedUnseenBytes uint64
}

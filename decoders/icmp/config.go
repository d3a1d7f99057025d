// Package icmp pairs ICMP and ICMPv6 requests with their replies (echo,
// timestamp, information, address mask) and reports every other message
// (unreachables, time exceeded, neighbour discovery, ...) on its own, as
// Packetbeat's icmp data stream does.
package icmp

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/decoders/protocol"
)

// Config holds the icmp stream's options.
type Config struct {
	Enabled  bool
	KeepNull bool // honoured by the encoder (ecsmap.Meta.KeepNull); kept here for completeness
	// TransactionTimeout is how long a request waits for its reply before it
	// is published alone with status Error (Packetbeat: 10s).
	TransactionTimeout time.Duration
	// SendRequest/SendResponse are accepted because Packetbeat's icmp config
	// has them, but an ICMP message has no text worth copying into the event:
	// they change nothing.
	SendRequest, SendResponse bool
	// MaxPending bounds the requests awaiting a reply. A request beyond it is
	// published at once, unanswered, and counted in Stats.Overflow.
	MaxPending int
}

// DefaultConfig is what an icmp stream without options gets.
func DefaultConfig() Config {
	return Config{Enabled: true, TransactionTimeout: 10 * time.Second, MaxPending: 65536}
}

// ParseConfig reads the icmp stream's options. Keys that belong to the
// stream layer (ids, data_stream, processors, tags, ...) are ignored; any
// other unknown key is an error so a typo is reported, not silently dropped.
func ParseConfig(opts map[string]any) (Config, error) {
	c := DefaultConfig()
	var errs []string
	for k, v := range opts {
		var err error
		switch k {
		case "enabled":
			c.Enabled, err = protocol.AsBool(v)
		case "keep_null":
			c.KeepNull, err = protocol.AsBool(v)
		case "send_request":
			c.SendRequest, err = protocol.AsBool(v)
		case "send_response":
			c.SendResponse, err = protocol.AsBool(v)
		case "transaction_timeout":
			c.TransactionTimeout, err = protocol.AsDuration(v)
			if err == nil && c.TransactionTimeout <= 0 {
				err = fmt.Errorf("must be positive")
			}
		case "max_pending":
			c.MaxPending, err = protocol.AsInt(v, 1, 1<<30)
		default:
			if !protocol.StreamKeys[k] {
				err = fmt.Errorf("unknown option")
			}
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", k, err))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return c, fmt.Errorf("icmp: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

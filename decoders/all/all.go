// Package all links every protocol decoder into the binary: importing it
// registers them.
package all

import (
	_ "github.com/network-traffic/network-traffic/decoders/amqp"
	_ "github.com/network-traffic/network-traffic/decoders/cassandra"
	_ "github.com/network-traffic/network-traffic/decoders/dhcpv4"
	_ "github.com/network-traffic/network-traffic/decoders/dns"
	_ "github.com/network-traffic/network-traffic/decoders/flows"
	_ "github.com/network-traffic/network-traffic/decoders/http"
	_ "github.com/network-traffic/network-traffic/decoders/icmp"
	_ "github.com/network-traffic/network-traffic/decoders/memcache"
	_ "github.com/network-traffic/network-traffic/decoders/mongodb"
	_ "github.com/network-traffic/network-traffic/decoders/mysql"
	_ "github.com/network-traffic/network-traffic/decoders/nfs"
	_ "github.com/network-traffic/network-traffic/decoders/pgsql"
	_ "github.com/network-traffic/network-traffic/decoders/quic"
	_ "github.com/network-traffic/network-traffic/decoders/redis"
	_ "github.com/network-traffic/network-traffic/decoders/sip"
	_ "github.com/network-traffic/network-traffic/decoders/thrift"
	_ "github.com/network-traffic/network-traffic/decoders/tls"
)

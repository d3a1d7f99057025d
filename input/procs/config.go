// Package procs finds the local process that owns each end of a connection,
// for the `monitor_processes` option (Packetbeat's `procs: {enabled: true}`):
// source.process / destination.process (and client/server copies) with pid,
// ppid, name, args, executable, working_directory and start.
//
// It reads Linux's /proc: the socket tables /proc/net/{tcp,tcp6,udp,udp6}
// give local address:port -> socket inode, the /proc/<pid>/fd links
// ("socket:[inode]") give inode -> pid, and /proc/<pid>/{stat,cmdline,exe,cwd}
// describe the process. Lookups are map reads; /proc is rescanned only when a
// lookup misses or its answer has grown old, and never more often than
// Config.RefreshEvery. On systems without /proc every lookup is a miss.
package procs

import (
	"net/netip"
	"time"
)

// Config tunes a Monitor. The zero value is valid.
type Config struct {
	// RefreshEvery is the minimum interval between two /proc scans; a miss
	// within it is answered from the current table. Default 1s.
	RefreshEvery time.Duration
	// MaxAge is how old the table may be before a hit triggers a rescan
	// (to notice a port taken over by another process). Default 10s.
	MaxAge time.Duration
	// MaxEntries bounds the sockets kept (and so the processes cached).
	// Sockets past it are counted in Stats.Truncated. Default 65536.
	MaxEntries int
	// ProcRoot is where procfs is mounted. Default "/proc"; tests point it
	// at a fake tree.
	ProcRoot string
	// LocalAddrs are treated as this host's addresses in addition to the
	// loopback ranges and the interface addresses, which are read at start
	// and refreshed at most every localRefresh.
	LocalAddrs []netip.Addr
}

const (
	defaultRefreshEvery = time.Second
	defaultMaxAge       = 10 * time.Second
	defaultMaxEntries   = 65536
	defaultProcRoot     = "/proc"
	// localRefresh is how often interface addresses are re-read; addresses
	// change rarely and reading them costs a netlink round trip.
	localRefresh = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.RefreshEvery <= 0 {
		c.RefreshEvery = defaultRefreshEvery
	}
	if c.MaxAge <= 0 {
		c.MaxAge = defaultMaxAge
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = defaultMaxEntries
	}
	if c.ProcRoot == "" {
		c.ProcRoot = defaultProcRoot
	}
	return c
}

package procs

import (
	"strings"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// Monitored is one entry of Packetbeat's procs.monitored: a process whose
// command line contains CmdlineGrep is published under the name Process.
// Processes matching no entry keep their own name (Packetbeat enriches every
// local process; the list only names them).
type Monitored struct {
	Process     string
	CmdlineGrep string
}

// Namer renames the processes Monitor finds after the first Monitored entry
// their command line matches. Monitor's processes are shared and cached, so
// a renamed copy is kept per process; the cache is bounded. One Namer per
// publisher, used from one goroutine.
type Namer struct {
	list  []Monitored
	cache map[*ecsmap.Process]*ecsmap.Process
}

// maxNamed bounds a Namer's cache; past it the cache starts again.
const maxNamed = 4096

// NewNamer returns nil for an empty list: nothing to rename.
func NewNamer(list []Monitored) *Namer {
	if len(list) == 0 {
		return nil
	}
	return &Namer{list: list, cache: map[*ecsmap.Process]*ecsmap.Process{}}
}

// Name returns p, or its copy named after the matching entry.
func (n *Namer) Name(p *ecsmap.Process) *ecsmap.Process {
	if n == nil || p == nil {
		return p
	}
	if c, ok := n.cache[p]; ok {
		return c
	}
	out := p
	cmdline := strings.Join(p.Args, " ")
	if cmdline == "" {
		cmdline = p.Name
	}
	for _, m := range n.list {
		if strings.Contains(cmdline, m.CmdlineGrep) {
			c := *p
			c.Name = m.Process
			out = &c
			break
		}
	}
	if len(n.cache) >= maxNamed {
		clear(n.cache)
	}
	n.cache[p] = out
	return out
}

// NameBase renames the source and destination processes of b.
func (n *Namer) NameBase(b *ecsmap.Base) {
	if n == nil {
		return
	}
	b.Source.Process = n.Name(b.Source.Process)
	b.Destination.Process = n.Name(b.Destination.Process)
}

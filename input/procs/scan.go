package procs

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
)

// netTables are the socket tables read on every scan.
var netTables = [...]struct {
	name  string
	proto uint8
	v6    bool
}{
	{"net/tcp", protoTCP, false},
	{"net/tcp6", protoTCP, true},
	{"net/udp", protoUDP, false},
	{"net/udp6", protoUDP, true},
}

// procEntry caches one process's description. startTicks tells a process
// from a later one that got the same pid.
type procEntry struct {
	startTicks uint64
	proc       *ecsmap.Process
	gen        uint64 // last scan that used it
}

// scanner reads /proc. Only one goroutine uses it at a time (Monitor.scanning).
type scanner struct {
	root       string
	maxEntries int
	bootTime   time.Time

	inodeKey map[uint64]sockKey // sockets in the tables, this scan
	inodePID map[uint64]int     // owners found by the last walk of every fd dir
	procs    map[int]*procEntry
	spare    map[sockKey]*ecsmap.Process // the previous table, reused
	gen      uint64

	br      *bufio.Reader
	buf     []byte
	pathBuf []byte
}

type scanResult struct {
	table     map[sockKey]*ecsmap.Process
	full      bool
	truncated int
	errors    int
	processes int
}

func newScanner(root string, maxEntries int) *scanner {
	return &scanner{
		root:       root,
		maxEntries: maxEntries,
		inodeKey:   map[uint64]sockKey{},
		inodePID:   map[uint64]int{},
		procs:      map[int]*procEntry{},
	}
}

// scan reads the socket tables and builds a new endpoint -> process table.
// Walking every /proc/<pid>/fd is the expensive part, so it happens only when
// a socket that could answer want has an inode we have not seen an owner for
// (a new socket, or a port taken over); otherwise the owners found by the
// previous walk still hold, because an inode names one socket for its life.
func (s *scanner) scan(want sockKey) scanResult {
	var res scanResult
	s.gen++
	if s.bootTime.IsZero() {
		s.bootTime, _ = readBootTime(s.root) // Start stays empty if unknown
	}

	clear(s.inodeKey)
	var wantInodes [3]uint64 // exact, 0.0.0.0, :: candidates of want
	for _, t := range netTables {
		n, err := s.readTable(t.name, t.proto, t.v6, want, &wantInodes)
		res.truncated += n
		if err != nil && !errors.Is(err, fs.ErrNotExist) { // no tcp6 without IPv6
			res.errors++
		}
	}

	needWalk := false
	for _, ino := range wantInodes {
		if ino != 0 {
			if _, known := s.inodePID[ino]; !known {
				needWalk = true
			}
		}
	}
	if needWalk {
		s.walkFDs()
		res.full = true
	} else {
		for ino := range s.inodePID { // forget closed sockets
			if _, ok := s.inodeKey[ino]; !ok {
				delete(s.inodePID, ino)
			}
		}
	}

	table := s.spare
	s.spare = nil
	if table == nil {
		table = make(map[sockKey]*ecsmap.Process, len(s.inodePID))
	}
	clear(table)
	for ino, pid := range s.inodePID {
		key, ok := s.inodeKey[ino]
		if !ok {
			continue
		}
		if _, dup := table[key]; dup {
			// Several sockets share a local endpoint (a server's accepted
			// connections, possibly in several workers): any owner will do.
			continue
		}
		if p := s.process(pid); p != nil {
			table[key] = p
		}
	}
	for pid, e := range s.procs {
		if e.gen != s.gen {
			delete(s.procs, pid)
		} else if e.proc != nil {
			res.processes++
		}
	}
	res.table = table
	return res
}

// readTable adds one /proc/net table to inodeKey and notes the inodes of the
// sockets that could answer want. It returns how many sockets it left out
// for lack of room.
func (s *scanner) readTable(name string, proto uint8, v6 bool, want sockKey, wantInodes *[3]uint64) (int, error) {
	f, err := os.Open(s.root + "/" + name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if s.br == nil {
		s.br = bufio.NewReaderSize(f, 16<<10)
	} else {
		s.br.Reset(f)
	}
	dropped := 0
	for {
		line, err := s.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// No socket line is this long: skip the rest of it.
			for err == bufio.ErrBufferFull {
				_, err = s.br.ReadSlice('\n')
			}
			continue
		}
		if len(line) > 0 {
			if local, ino, ok := parseNetLine(line, v6); ok {
				if len(s.inodeKey) >= s.maxEntries {
					dropped++
				} else {
					key := sockKey{addr: local.Addr(), port: local.Port(), proto: proto}
					s.inodeKey[ino] = key
					if key.port == want.port && key.proto == want.proto {
						switch key.addr {
						case want.addr:
							wantInodes[0] = ino
						case anyV4:
							wantInodes[1] = ino
						case anyV6:
							wantInodes[2] = ino
						}
					}
				}
			}
		}
		if err == io.EOF {
			return dropped, nil
		}
		if err != nil {
			return dropped, err
		}
	}
}

// walkFDs rebuilds inodePID from every process's fd links, keeping only the
// inodes of the tables just read. Processes and fds that vanish mid-walk, or
// that we may not read, are skipped.
func (s *scanner) walkFDs() {
	clear(s.inodePID)
	root, err := os.Open(s.root)
	if err != nil {
		return
	}
	names, _ := root.Readdirnames(-1)
	root.Close()
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		dir := s.root + "/" + name + "/fd"
		d, err := os.Open(dir)
		if err != nil {
			continue
		}
		fds, _ := d.Readdirnames(-1)
		d.Close()
		for _, fd := range fds {
			link, err := os.Readlink(dir + "/" + fd)
			if err != nil {
				continue
			}
			ino, ok := socketInode(link)
			if !ok {
				continue
			}
			if _, inTable := s.inodeKey[ino]; !inTable {
				continue
			}
			if _, seen := s.inodePID[ino]; !seen {
				// /proc lists pids in ascending order, so a socket shared
				// after fork goes to the parent (the master of a preforked
				// server), the first process seen.
				s.inodePID[ino] = pid
			}
		}
	}
}

// socketInode parses the target of an fd link, "socket:[12345]".
func socketInode(link string) (uint64, bool) {
	rest, ok := strings.CutPrefix(link, "socket:[")
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	v, err := strconv.ParseUint(rest[:len(rest)-1], 10, 64)
	return v, err == nil
}

// process returns pid's description, from the cache when the pid still
// belongs to the same process. nil when the process is gone. stat is read
// once per pid per scan, however many sockets the process has.
func (s *scanner) process(pid int) *ecsmap.Process {
	e := s.procs[pid]
	if e != nil && e.gen == s.gen {
		return e.proc
	}
	st, err := s.readStat(pid)
	if err != nil {
		s.procs[pid] = &procEntry{gen: s.gen} // gone: remembered for this scan
		return nil
	}
	// Reuse the description unless the pid was recycled, or it was read
	// before the boot time (and so the start) could be known.
	if e != nil && e.proc != nil && e.startTicks == st.startTicks &&
		e.proc.Start.IsZero() == s.bootTime.IsZero() {
		e.gen = s.gen
		return e.proc
	}
	e = &procEntry{startTicks: st.startTicks, proc: s.readProcess(pid, st), gen: s.gen}
	s.procs[pid] = e
	return e.proc
}

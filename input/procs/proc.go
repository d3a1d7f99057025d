package procs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/network-traffic/network-traffic/ecsmap"
)

const (
	// userHZ is the unit of the start time in /proc/<pid>/stat. The kernel
	// exports clock_t in USER_HZ, which is 100 on every Linux architecture
	// that matters (sysconf(_SC_CLK_TCK) needs cgo to ask).
	userHZ = 100
	// commLen is TASK_COMM_LEN-1: a comm this long may have been cut.
	commLen = 15
	// Bounds on what one process may cost us: a command line can be up to
	// ARG_MAX (megabytes) and ECS consumers gain nothing from all of it.
	maxCmdline = 64 << 10
	maxArgs    = 256
	maxStat    = 4 << 10
)

// statInfo is what we use from /proc/<pid>/stat.
type statInfo struct {
	comm       string
	ppid       int64
	startTicks uint64 // field 22: start time after boot, in clock ticks
}

var errBadStat = errors.New("malformed stat")

// parseStat parses /proc/<pid>/stat: "pid (comm) state ppid ... starttime ...".
// comm may itself contain spaces and parentheses, so it ends at the last ')'.
func parseStat(b []byte) (statInfo, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return statInfo{}, errBadStat
	}
	st := statInfo{comm: string(b[open+1 : end])}
	// Fields after ")" start with field 3 (state); field n is at index n-3.
	rest := b[end+1:]
	idx := 0
	for len(rest) > 0 && idx <= 22-3 {
		rest = bytes.TrimLeft(rest, " ")
		sp := bytes.IndexByte(rest, ' ')
		var f []byte
		if sp < 0 {
			f, rest = bytes.TrimRight(rest, "\n"), nil
		} else {
			f, rest = rest[:sp], rest[sp+1:]
		}
		switch idx {
		case 4 - 3:
			v, ok := parseDec(f)
			if !ok {
				return statInfo{}, errBadStat
			}
			st.ppid = int64(v)
		case 22 - 3:
			v, ok := parseDec(f)
			if !ok {
				return statInfo{}, errBadStat
			}
			st.startTicks = v
			return st, nil
		}
		idx++
	}
	return statInfo{}, errBadStat
}

// readBootTime reads btime (seconds since the epoch) from <root>/stat.
func readBootTime(root string) (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(root, "stat"))
	if err != nil {
		return time.Time{}, err
	}
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if rest, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			v, ok := parseDec(bytes.TrimSpace(rest))
			if !ok {
				break
			}
			return time.Unix(int64(v), 0).UTC(), nil
		}
	}
	return time.Time{}, errors.New("no btime in " + filepath.Join(root, "stat"))
}

// readBounded reads at most limit bytes of a (proc) file into buf[:0],
// growing buf as needed so that it can be reused for the next file.
func readBounded(path string, buf []byte, limit int) ([]byte, error) {
	buf = buf[:0]
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(max(2*cap(buf), 512), limit))
			copy(nb, buf)
			buf = nb
		}
		n, err := f.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF || (err == nil && n == 0) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// readStat reads and parses /proc/<pid>/stat.
func (s *scanner) readStat(pid int) (statInfo, error) {
	var err error
	s.buf, err = readBounded(s.pidPath(pid, "stat"), s.buf, maxStat)
	if err != nil {
		return statInfo{}, err
	}
	return parseStat(s.buf)
}

// readProcess builds the ECS process of pid from its stat (already read) and
// its cmdline, exe and cwd. A process that exits meanwhile still yields what
// was read: the fields that vanished are left empty.
func (s *scanner) readProcess(pid int, st statInfo) *ecsmap.Process {
	p := &ecsmap.Process{
		PID:  int64(pid),
		PPID: st.ppid,
	}
	if !s.bootTime.IsZero() {
		ticks := st.startTicks
		p.Start = s.bootTime.Add(time.Duration(ticks/userHZ)*time.Second +
			time.Duration(ticks%userHZ)*(time.Second/userHZ))
	}
	var err error
	s.buf, err = readBounded(s.pidPath(pid, "cmdline"), s.buf, maxCmdline)
	if err == nil {
		p.Args = splitCmdline(s.buf)
	}
	p.Executable = readLinkClean(s.pidPath(pid, "exe"))
	p.WorkingDir = readLinkClean(s.pidPath(pid, "cwd"))
	p.Name = procName(st.comm, p.Args)
	return p
}

// splitCmdline splits the NUL-separated argv. Trailing NULs are all dropped:
// processes that rewrite their argv (nginx, postgres) pad it with NULs, which
// would otherwise become empty arguments; a real trailing "" argument is lost,
// as with ps. A rewritten argv may be one space-separated string; it is kept
// as the process wrote it.
func splitCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	n := min(bytes.Count(b, []byte{0})+1, maxArgs)
	args := make([]string, 0, n)
	for len(b) > 0 && len(args) < maxArgs {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			args = append(args, string(b))
			break
		}
		args = append(args, string(b[:i]))
		b = b[i+1:]
	}
	return args
}

// procName is comm unless comm may have been truncated to 15 bytes and
// argv[0]'s base name is the longer name it was cut from.
func procName(comm string, args []string) string {
	if len(comm) == commLen && len(args) > 0 {
		if base := filepath.Base(args[0]); len(base) > commLen && strings.HasPrefix(base, comm) {
			return base
		}
	}
	return comm
}

// readLinkClean reads a /proc symlink; the kernel appends " (deleted)" when
// the target was unlinked (an upgraded binary), which is not part of the path.
func readLinkClean(path string) string {
	t, err := os.Readlink(path)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(t, " (deleted)")
}

func (s *scanner) pidPath(pid int, name string) string {
	s.pathBuf = append(s.pathBuf[:0], s.root...)
	s.pathBuf = append(s.pathBuf, '/')
	s.pathBuf = strconv.AppendInt(s.pathBuf, int64(pid), 10)
	s.pathBuf = append(s.pathBuf, '/')
	s.pathBuf = append(s.pathBuf, name...)
	return string(s.pathBuf)
}

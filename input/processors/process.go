package processors

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// add_process_metadata: {match_pids: [process.pid], target: "",
// include_fields, ignore_missing: true, overwrite_keys: false,
// restricted_fields: false, host_path: /, cgroup_prefixes: [/kubepods,
// /docker], cgroup_regex}. Looks the PID in the first match_pids field up
// in /proc (under host_path) and adds process.{name, title, executable,
// args, pid, parent.pid, start_time, owner.id, owner.name} and container.id
// (from the cgroup), with process.env too when restricted_fields. Lookups
// are cached for cgroup_cache_expire_time (30s).

func init() { register("add_process_metadata", newAddProcessMetadata) }

var processFields = []string{"process.name", "process.title", "process.executable", "process.args", "process.pid",
	"process.parent.pid", "process.start_time", "process.owner.id", "process.owner.name", "container.id"}

var containerIDRe = regexp.MustCompile(`[0-9a-f]{64}`)

type procMeta struct {
	matchPids   []string
	target      string
	include     []string
	ignore      bool
	overwrite   bool
	restricted  bool
	root        string
	prefixes    []string
	cgroupRe    *regexp.Regexp
	cache       map[int]procCacheEntry
	ttl         time.Duration
	now         func() time.Time
	bootTime    time.Time
	bootTimeErr error
}

type procCacheEntry struct {
	fields  map[string]any
	expires time.Time
}

const procCacheMax = 10000

func newAddProcessMetadata(cfg map[string]any) (runFunc, error) {
	p, err := parseProcMeta(cfg)
	if err != nil {
		return nil, err
	}
	return p.run, nil
}

func parseProcMeta(cfg map[string]any) (*procMeta, error) {
	if err := checkKeys(cfg, "match_pids", "target", "include_fields", "ignore_missing", "overwrite_keys",
		"restricted_fields", "host_path", "cgroup_prefixes", "cgroup_regex", "cgroup_cache_expire_time"); err != nil {
		return nil, err
	}
	p := &procMeta{cache: map[int]procCacheEntry{}, now: time.Now}
	var err error
	// Beats caches cgroups for this long; here it is how long a whole
	// lookup is kept (0: not cached).
	if p.ttl, err = durationOpt(cfg, "cgroup_cache_expire_time", 30*time.Second); err != nil {
		return nil, err
	}
	if p.matchPids, err = stringList(cfg["match_pids"]); err != nil || len(p.matchPids) == 0 {
		return nil, fmt.Errorf("match_pids: required, a list of fields holding a PID")
	}
	if p.target, err = stringOpt(cfg, "target", ""); err != nil {
		return nil, err
	}
	if v, ok := cfg["include_fields"]; ok && v != nil {
		if p.include, err = stringList(v); err != nil {
			return nil, fmt.Errorf("include_fields: %v", err)
		}
		for _, f := range p.include {
			known := f == "process.env"
			for _, k := range processFields {
				if f == k || strings.HasPrefix(k, f+".") {
					known = true
				}
			}
			if !known {
				return nil, fmt.Errorf("include_fields: %q is not one of %s", f, strings.Join(processFields, ", "))
			}
		}
	}
	if p.ignore, err = boolOpt(cfg, "ignore_missing", true); err != nil {
		return nil, err
	}
	if p.overwrite, err = boolOpt(cfg, "overwrite_keys", false); err != nil {
		return nil, err
	}
	if p.restricted, err = boolOpt(cfg, "restricted_fields", false); err != nil {
		return nil, err
	}
	hostPath, err := stringOpt(cfg, "host_path", "/")
	if err != nil {
		return nil, err
	}
	p.root = filepath.Join(hostPath, "proc")
	p.prefixes = []string{"/kubepods", "/docker"}
	if v, ok := cfg["cgroup_prefixes"]; ok && v != nil {
		if p.prefixes, err = stringList(v); err != nil {
			return nil, fmt.Errorf("cgroup_prefixes: %v", err)
		}
	}
	if s, err := stringOpt(cfg, "cgroup_regex", ""); err != nil {
		return nil, err
	} else if s != "" {
		if p.cgroupRe, err = regexp.Compile(s); err != nil {
			return nil, fmt.Errorf("cgroup_regex: %v", err)
		}
		if p.cgroupRe.NumSubexp() != 1 {
			return nil, fmt.Errorf("cgroup_regex: needs exactly one capture group (the container ID)")
		}
	}
	p.bootTime, p.bootTimeErr = procBootTime(p.root)
	return p, nil
}

func (p *procMeta) run(doc map[string]any) (bool, error) {
	pid, field := 0, ""
	for _, f := range p.matchPids {
		if n, ok := intField(doc, f); ok && n > 0 && n < 1<<31 {
			pid, field = int(n), f
			break
		}
	}
	if pid == 0 {
		if p.ignore {
			return false, nil
		}
		return false, fmt.Errorf("none of the fields in match_pids (%s) holds a PID", strings.Join(p.matchPids, ", "))
	}
	fields, err := p.lookup(pid)
	if err != nil {
		return false, fmt.Errorf("%s %d: %v", field, pid, err)
	}
	for _, k := range sortedKeys(fields) {
		if !p.included(k) {
			continue
		}
		name := k
		if p.target != "" {
			name = p.target + "." + k
		}
		if err := putUnlessSet(doc, name, deepCopy(fields[k]), p.overwrite); err != nil {
			return false, err
		}
	}
	return false, nil
}

func (p *procMeta) included(k string) bool {
	if len(p.include) == 0 {
		return true
	}
	for _, f := range p.include {
		if k == f || strings.HasPrefix(k, f+".") {
			return true
		}
	}
	return false
}

func (p *procMeta) lookup(pid int) (map[string]any, error) {
	now := p.now()
	if e, ok := p.cache[pid]; ok && p.ttl > 0 && now.Before(e.expires) {
		return e.fields, nil
	}
	fields, err := p.read(pid)
	if err != nil {
		return nil, err
	}
	if len(p.cache) >= procCacheMax {
		for k, e := range p.cache {
			if now.After(e.expires) {
				delete(p.cache, k)
			}
		}
		if len(p.cache) >= procCacheMax {
			clear(p.cache)
		}
	}
	if p.ttl > 0 {
		p.cache[pid] = procCacheEntry{fields, now.Add(p.ttl)}
	}
	return fields, nil
}

// read gathers one process's fields from /proc.
func (p *procMeta) read(pid int) (map[string]any, error) {
	dir := filepath.Join(p.root, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil, fmt.Errorf("process not found: %v", err)
	}
	// comm is in parentheses and may hold spaces or parentheses itself.
	open, close := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || close < open {
		return nil, fmt.Errorf("unreadable stat")
	}
	comm := string(stat[open+1 : close])
	rest := strings.Fields(string(stat[close+1:]))
	if len(rest) < 20 {
		return nil, fmt.Errorf("short stat")
	}
	ppid, _ := strconv.Atoi(rest[1])
	startTicks, _ := strconv.ParseUint(rest[19], 10, 64)
	m := map[string]any{"process.pid": int64(pid), "process.parent.pid": int64(ppid), "process.name": comm}
	if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cmd) > 0 {
		var args []any
		var strs []string
		for _, a := range strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00") {
			args = append(args, a)
			strs = append(strs, a)
		}
		m["process.args"] = args
		m["process.title"] = strings.Join(strs, " ")
	}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		m["process.executable"] = strings.TrimSuffix(exe, " (deleted)")
	}
	if p.bootTimeErr == nil {
		const clkTck = 100 // USER_HZ on every Linux architecture Go supports
		start := p.bootTime.Add(time.Duration(startTicks) * time.Second / clkTck)
		m["process.start_time"] = start.UTC().Format(time.RFC3339Nano)
	}
	if uid := procUID(filepath.Join(dir, "status")); uid != "" {
		m["process.owner.id"] = uid
		if u, err := user.LookupId(uid); err == nil {
			m["process.owner.name"] = u.Username
		}
	}
	if id := p.containerID(filepath.Join(dir, "cgroup")); id != "" {
		m["container.id"] = id
	}
	if p.restricted {
		if env, err := os.ReadFile(filepath.Join(dir, "environ")); err == nil {
			e := map[string]any{}
			for _, kv := range strings.Split(strings.TrimRight(string(env), "\x00"), "\x00") {
				if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
					e[k] = v
				}
			}
			m["process.env"] = e
		}
	}
	return m, nil
}

func procUID(statusPath string) string {
	f, err := os.Open(statusPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			if fs := strings.Fields(v); len(fs) > 0 {
				return fs[0] // real UID
			}
		}
	}
	return ""
}

// containerID finds the container of a process in its cgroup paths: with
// cgroup_regex, its capture group; otherwise a 64-hex ID as the last part
// of a path under one of cgroup_prefixes, or a systemd docker-<id>.scope.
func (p *procMeta) containerID(cgroupPath string) string {
	b, err := os.ReadFile(cgroupPath)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		path := parts[2]
		if p.cgroupRe != nil {
			if m := p.cgroupRe.FindStringSubmatch(path); m != nil {
				return m[1]
			}
			continue
		}
		for _, pre := range p.prefixes {
			if strings.HasPrefix(path, pre) {
				last := filepath.Base(path)
				if containerIDRe.MatchString(last) && len(last) == 64 {
					return last
				}
			}
		}
		if base := filepath.Base(path); strings.HasSuffix(base, ".scope") && strings.Contains(base, "-") {
			id := strings.TrimSuffix(base[strings.LastIndexByte(base, '-')+1:], ".scope")
			if len(id) == 64 && containerIDRe.MatchString(id) {
				return id
			}
		}
	}
	return ""
}

func procBootTime(root string) (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(root, "stat"))
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, err
			}
			return time.Unix(n, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("no btime in %s/stat", root)
}

package processors

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A real child process looked up in /proc.
func TestAddProcessMetadataLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer cmd.Process.Kill()
	started := time.Now()
	c := chainFromYAML(t, `
processors:
  - add_process_metadata:
      match_pids: [process.pid, process.parent.pid]
`)
	m, err := process(t, c, `{"process":{"pid":`+strconv.Itoa(cmd.Process.Pid)+`}}`)
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := exec.LookPath("sleep")
	exe, _ = filepath.EvalSymlinks(exe)
	me, _ := user.Current()
	wantFields(t, m, map[string]any{"process.pid": cmd.Process.Pid, "process.name": "sleep",
		"process.args": []any{"sleep", "30"}, "process.title": "sleep 30", "process.executable": exe,
		"process.parent.pid": os.Getpid(), "process.owner.id": me.Uid, "process.owner.name": me.Username,
		"process.env": nil})
	st, _ := time.Parse(time.RFC3339Nano, field(m, "process.start_time").(string))
	if d := st.Sub(started); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("start_time %v, started at %v", st, started)
	}
	// target and include_fields; restricted_fields adds the environment.
	c2 := chainFromYAML(t, `
processors:
  - add_process_metadata:
      match_pids: [pid]
      target: peer
      include_fields: [process.name, process.env]
      restricted_fields: true
`)
	m, _ = process(t, c2, `{"pid":"`+strconv.Itoa(os.Getpid())+`"}`)
	if field(m, "peer.process.name") == nil || field(m, "peer.process.pid") != nil {
		t.Errorf("include_fields: %v", m["peer"])
	}
	if env, _ := field(m, "peer.process.env").(map[string]any); env["PATH"] != os.Getenv("PATH") {
		t.Errorf("env PATH %v", env["PATH"])
	}
	// A PID that is not running is an error on the event; no PID field is
	// ignored (ignore_missing defaults to true).
	if _, err := process(t, c, `{"process":{"pid":999999999}}`); err == nil {
		t.Error("missing process not reported")
	}
	if _, err := process(t, c, `{"process":{}}`); err != nil {
		t.Error(err)
	}
	wantConfigError(t, `processors: [{add_process_metadata: {}}]`, "(add_process_metadata)", "match_pids")
	wantConfigError(t, `processors: [{add_process_metadata: {match_pids: [a], include_fields: [process.cwd]}}]`, "(add_process_metadata)", "include_fields")
	wantConfigError(t, `processors: [{add_process_metadata: {match_pids: [a], cgroup_regex: "abc"}}]`, "(add_process_metadata)", "capture group")
}

// container.id from a cgroup file, under a host_path laid out as /proc.
func TestAddProcessMetadataContainer(t *testing.T) {
	root := t.TempDir()
	id := strings.Repeat("ab12", 16)
	pdir := filepath.Join(root, "proc", "4242")
	os.MkdirAll(pdir, 0o755)
	os.WriteFile(filepath.Join(root, "proc", "stat"), []byte("cpu 1 2 3\nbtime 1700000000\n"), 0o644)
	os.WriteFile(filepath.Join(pdir, "stat"), []byte("4242 (nginx: worker) S 4000 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1 1\n"), 0o644)
	os.WriteFile(filepath.Join(pdir, "cmdline"), []byte("nginx: worker process\x00"), 0o644)
	os.WriteFile(filepath.Join(pdir, "status"), []byte("Name:\tnginx\nUid:\t33\t33\t33\t33\n"), 0o644)
	for name, cg := range map[string]string{
		"docker":  "12:cpu:/docker/" + id + "\n",
		"systemd": "0::/system.slice/docker-" + id + ".scope\n",
		"k8s":     "0::/kubepods/besteffort/pod1/" + id + "\n",
	} {
		os.WriteFile(filepath.Join(pdir, "cgroup"), []byte(cg), 0o644)
		c := chainFromYAML(t, `
processors:
  - add_process_metadata: {match_pids: [process.pid], host_path: "`+root+`"}
`)
		m, err := process(t, c, `{"process":{"pid":4242}}`)
		if err != nil {
			t.Fatal(err)
		}
		wantFields(t, m, map[string]any{"container.id": id, "process.name": "nginx: worker", "process.parent.pid": 4000,
			"process.owner.id": "33", "process.title": "nginx: worker process",
			"process.start_time": time.Unix(1700000000, 0).Add(123450 * time.Millisecond).UTC().Format(time.RFC3339Nano)})
		_ = name
	}
}

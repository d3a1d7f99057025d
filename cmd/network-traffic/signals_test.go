package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run this package's main in a child process (the
// same binary), so signal handling and exit codes are tested for real.
func TestMain(m *testing.M) {
	if os.Getenv("NT_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"network-traffic"}, os.Args[indexOf(os.Args, "--")+1:]...)
		main()
	}
	os.Exit(m.Run())
}

func indexOf(args []string, s string) int {
	for i, a := range args {
		if a == s {
			return i
		}
	}
	return len(args) - 1
}

// startMain runs main with args in a child process.
func startMain(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "NT_TEST_RUN_MAIN=1")
	var se bytes.Buffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &se
}

func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(within):
		t.Fatalf("still running %s after the signal", within)
	}
	return cmd.ProcessState.ExitCode(), time.Since(start)
}

var undeliveredRe = regexp.MustCompile(`(\d+) documents were not delivered`)

// A dead output: the failures are logged while they happen, SIGTERM starts
// a flush bounded by -shutdown-timeout, and the exit reports how many
// documents were lost with a non-zero code.
func TestSigtermWithDeadOutputIsBounded(t *testing.T) {
	cmd, se := startMain(t, "-I", samplePcap, "-t", "-es", "http://127.0.0.1:1", "-shutdown-timeout", "2s")
	time.Sleep(1500 * time.Millisecond)
	if !bytes.Contains(se.Bytes(), []byte("bulk request failed, retrying")) {
		t.Errorf("no output error logged while the output is down; stderr:\n%s", se)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	code, took := waitExit(t, cmd, 10*time.Second)
	if code == 0 {
		t.Errorf("exit code 0 with undelivered documents; stderr:\n%s", se)
	}
	if took < 1500*time.Millisecond || took > 6*time.Second {
		t.Errorf("exited %s after SIGTERM, want about the 2s shutdown timeout", took)
	}
	m := undeliveredRe.FindSubmatch(se.Bytes())
	if m == nil {
		t.Fatalf("undelivered count not reported; stderr:\n%s", se)
	}
	n, _ := strconv.Atoi(string(m[1]))
	// Every document the sample yields was queued and none delivered.
	docs, _, _ := runCLI(t, "-I", samplePcap, "-t")
	if n != len(docs) {
		t.Errorf("%d reported undelivered, the sample has %d documents", n, len(docs))
	}
	if !bytes.Contains(se.Bytes(), []byte("0 delivered")) {
		t.Errorf("summary lacks the output line; stderr:\n%s", se)
	}
}

// A second signal exits at once, without waiting for the shutdown timeout.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	cmd, se := startMain(t, "-I", samplePcap, "-t", "-es", "http://127.0.0.1:1", "-shutdown-timeout", "60s")
	time.Sleep(800 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGINT)
	code, took := waitExit(t, cmd, 10*time.Second)
	if code == 0 || took > 3*time.Second {
		t.Errorf("second signal: exit %d after %s; stderr:\n%s", code, took, se)
	}
	if undeliveredRe.Find(se.Bytes()) == nil {
		t.Errorf("undelivered count not reported; stderr:\n%s", se)
	}
}

// -o truncates an existing file (a rerun does not double its documents);
// -append keeps it.
func TestOutputFileTruncatesUnlessAppend(t *testing.T) {
	out := t.TempDir() + "/out.ndjson"
	var so, se bytes.Buffer
	count := func() int {
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Count(raw, []byte("\n"))
	}
	if code := run([]string{"-I", samplePcap, "-t", "-o", out}, &so, &se); code != 0 {
		t.Fatalf("exit %d: %s", code, se.String())
	}
	first := count()
	if first == 0 {
		t.Fatal("no documents")
	}
	run([]string{"-I", samplePcap, "-t", "-o", out}, &so, &se)
	if n := count(); n != first {
		t.Errorf("rerun left %d documents, want %d", n, first)
	}
	run([]string{"-I", samplePcap, "-t", "-o", out, "-append"}, &so, &se)
	if n := count(); n != 2*first {
		t.Errorf("-append left %d documents, want %d", n, 2*first)
	}
	if code := run([]string{"-I", samplePcap, "-l", "-5"}, &so, &se); code != 2 {
		t.Errorf("-l -5 accepted (exit %d)", code)
	}
}

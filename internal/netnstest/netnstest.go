// Package netnstest runs a live capture test between two network
// namespaces it makes, A and B, joined by veth pairs: the test process
// re-runs the one test inside A (where it captures), and B holds the far
// ends (where traffic comes from). Each test keeps its own interface names
// and addresses, and its own environment variable, so tests of different
// layouts cannot mistake one another's re-run for their own.
package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Veth is a veth pair: Dev in namespace A, Peer in namespace B, each end
// with its address in CIDR form ("" for none).
type Veth struct {
	Dev, Peer    string
	AddrA, AddrB string
}

// Enter reports whether the test runs inside namespace A. Outside, it skips
// the test without root or without ip or any of tools; makes namespaces
// prefix+"A"+pid and prefix+"B"+pid (IPv6 off, so no router solicitations
// or MLD reach the capture, and lo up) with the veths; runs this same test
// in A with env set to "A B"; fails the test if that run did not pass; and
// returns false. The namespaces are removed when the test ends.
func Enter(t *testing.T, env, prefix string, tools []string, veths ...Veth) bool {
	t.Helper()
	if os.Getenv(env) != "" {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, live capture)")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("needs " + tool)
		}
	}
	nsA, nsB := fmt.Sprintf("%sA%d", prefix, os.Getpid()), fmt.Sprintf("%sB%d", prefix, os.Getpid())
	IP(t, "netns", "add", nsA)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsA).Run() })
	IP(t, "netns", "add", nsB)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsB).Run() })
	for _, ns := range []string{nsA, nsB} {
		IP(t, "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		IP(t, "-n", ns, "link", "set", "lo", "up")
	}
	for _, v := range veths {
		AddVeth(t, nsA, nsB, v)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", nsA, exe, "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+nsA+" "+nsB)
	out, err := cmd.CombinedOutput()
	t.Logf("in %s:\n%s", nsA, out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("test in namespace %s failed: %v", nsA, err)
	}
	return false
}

// PeerNS is the name of namespace B, for a test running inside A.
func PeerNS(env string) string { return strings.Fields(os.Getenv(env))[1] }

// AddVeth makes the pair v between namespaces nsA ("" for the one the
// test runs in) and nsB, sets the addresses and brings both ends up.
func AddVeth(t testing.TB, nsA, nsB string, v Veth) {
	t.Helper()
	inA := func(args ...string) []string {
		if nsA == "" {
			return args
		}
		return append([]string{"-n", nsA}, args...)
	}
	IP(t, inA("link", "add", v.Dev, "type", "veth", "peer", "name", v.Peer, "netns", nsB)...)
	if v.AddrA != "" {
		IP(t, inA("addr", "add", v.AddrA, "dev", v.Dev)...)
	}
	IP(t, inA("link", "set", v.Dev, "up")...)
	if v.AddrB != "" {
		IP(t, "-n", nsB, "addr", "add", v.AddrB, "dev", v.Peer)
	}
	IP(t, "-n", nsB, "link", "set", v.Peer, "up")
}

// IP runs ip with args and fails the test, with its output, if it fails.
func IP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

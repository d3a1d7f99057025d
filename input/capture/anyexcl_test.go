package capture

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/network-traffic/network-traffic/input/config"
)

// `device: any` with exclude_devices, and how often a pattern set looks for
// new interfaces, live, with a real HTTP server:
//
//	ns axA<pid> (the test re-runs itself here)     ns axB<pid> (curl runs here)
//	ax0  10.239.0.1/24  <-- veth -->  axp0 10.239.0.2/24
//	ax1  10.239.1.1/24  <-- veth -->  axp1 10.239.1.2/24
//	axx0 10.239.2.1/24  <-- veth -->  axy0 10.239.2.2/24   (excluded)
//	lo   127.0.0.1                                       (curl in ns A)
//
// python3 -m http.server (startHTTPServer, port mdPort) listens in ns A on
// every address.

const envAXNetns = "NT_ANYEXCL_NETNS" // "A B" inside ns A

func inAXNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envAXNetns) != "" {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, live capture)")
	}
	for _, tool := range []string{"ip", "curl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip("needs " + tool)
		}
	}
	nsA, nsB := fmt.Sprintf("axA%d", os.Getpid()), fmt.Sprintf("axB%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", nsA)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsA).Run() })
	run("netns", "add", nsB)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", nsB).Run() })
	for _, ns := range []string{nsA, nsB} {
		run("netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		run("-n", ns, "link", "set", "lo", "up")
	}
	for i, pair := range [][2]string{{"ax0", "axp0"}, {"ax1", "axp1"}, {"axx0", "axy0"}} {
		run("-n", nsA, "link", "add", pair[0], "type", "veth", "peer", "name", pair[1], "netns", nsB)
		run("-n", nsA, "addr", "add", fmt.Sprintf("10.239.%d.1/24", i), "dev", pair[0])
		run("-n", nsB, "addr", "add", fmt.Sprintf("10.239.%d.2/24", i), "dev", pair[1])
		run("-n", nsA, "link", "set", pair[0], "up")
		run("-n", nsB, "link", "set", pair[1], "up")
	}
	// A down interface: device any leaves it out quietly, as a socket on
	// every interface would see nothing of it.
	run("-n", nsA, "link", "add", "axdown0", "type", "veth", "peer", "name", "axdown1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", nsA, exe, "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envAXNetns+"="+nsA+" "+nsB)
	out, err := cmd.CombinedOutput()
	t.Logf("in %s:\n%s", nsA, out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("test in namespace %s failed: %v", nsA, err)
	}
	return false
}

func axNsB() string { return strings.Fields(os.Getenv(envAXNetns))[1] }

// axGets makes n requests from ns B to the server's address on subnet i.
func axGets(t *testing.T, subnet, n int) {
	t.Helper()
	for k := 0; k < n; k++ {
		url := fmt.Sprintf("http://10.239.%d.1:%d/f", subnet, mdPort)
		if out, err := exec.Command("ip", "netns", "exec", axNsB(), "curl", "-s", "-o", "/dev/null", "--max-time", "5", url).CombinedOutput(); err != nil {
			t.Fatalf("curl %s: %v %s", url, err, out)
		}
	}
}

// loGets makes n requests over loopback in ns A.
func loGets(t *testing.T, n int) {
	t.Helper()
	for k := 0; k < n; k++ {
		url := fmt.Sprintf("http://127.0.0.1:%d/f", mdPort)
		if out, err := exec.Command("curl", "-s", "-o", "/dev/null", "--max-time", "5", url).CombinedOutput(); err != nil {
			t.Fatalf("curl %s: %v %s", url, err, out)
		}
	}
}

// device any with exclude_devices (a name and a pattern) captures every
// interface of the host but those, each its own capture named on its
// events: nothing of the excluded interfaces, everything of the others
// (loopback included), for both capture types and 1 and 2 workers. Without
// exclusions, any stays the one socket it always was.
func TestLiveAnyExcludeDevices(t *testing.T) {
	if !inAXNetns(t) {
		return
	}
	startHTTPServer(t)
	for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/workers=%d", typ, workers), func(t *testing.T) {
				c := startMultidev(t, map[string]any{"device": "any", "exclude_devices": []any{"ax1", "axx*"}, "type": typ, "workers": workers})
				axGets(t, 0, 5)
				axGets(t, 1, 4) // excluded by name
				axGets(t, 2, 3) // excluded by pattern
				loGets(t, 2)
				c.waitHTTP(t, 7)
				time.Sleep(300 * time.Millisecond) // a transaction of an excluded interface would show by now
				c.stop(t)
				st := c.w.Stats()

				want := map[string]int{"10.239.0.1 ax0": 5, "127.0.0.1 lo": 2}
				if got := c.httpByInterface(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("http transactions by destination and interface: %v, want %v", got, want)
				}
				for _, d := range c.sink.All() {
					if ip := destIP(d); strings.HasPrefix(ip, "10.239.1.") || strings.HasPrefix(ip, "10.239.2.") {
						t.Errorf("%s document of an excluded interface: %v", d["type"], d)
					}
				}
				var devs []string
				for _, r := range st.Rings {
					devs = append(devs, r.Device)
					if r.State != "" || r.Type != typ {
						t.Errorf("ring %+v", r)
					}
				}
				// Every interface that is up, less the excluded ones, in
				// the host's order; axdown0 is down.
				if fmt.Sprint(devs) != "[lo ax0]" {
					t.Errorf("rings of %v, want [lo ax0]", devs)
				}
			})
		}
	}
	t.Run("any alone", func(t *testing.T) {
		c := startMultidev(t, map[string]any{"device": "any"})
		axGets(t, 1, 2)
		c.waitHTTP(t, 2)
		c.stop(t)
		st := c.w.Stats()
		if len(st.Rings) != 1 || st.Rings[0].Device != "any" {
			t.Errorf("rings %+v, want the one socket of any", st.Rings)
		}
		n := 0
		for _, d := range c.sink.All() {
			if d["type"] == "http" && destIP(d) == "10.239.1.1" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d transactions to 10.239.1.1, want 2", n)
		}
	})
}

// poll_devices sets how often a set follows the host: with 250ms, an
// interface that comes up is in the set within about that (three times, so
// that the default 2s, whose pickup is anywhere in 0-2s, cannot pass by
// luck but in about one run of fifty) and its frames arrive numbered with
// it; one that goes is let go. device any with exclude_devices follows the
// host the same way.
func TestLivePollDevices(t *testing.T) {
	if !inAXNetns(t) {
		return
	}
	startHTTPServer(t)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	const every = 250 * time.Millisecond
	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{map[string]any{"id": "flow", "type": "flow",
		"interface": map[string]any{"device": "any", "exclude_devices": []any{"ax*"}, "poll_devices": every.String()}}}})
	if err != nil || in.Streams[0].Err != nil {
		t.Fatal(err, in.Streams[0].Err)
	}
	src, err := OpenSource(in.Captures[0].Interface, fmt.Sprintf("tcp port %d", mdPort))
	if err != nil {
		t.Fatal(err)
	}
	m := src.(*multiSource)
	frames := make(chan int, 1024) // interface numbers of the frames read
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		// Next is not safe beside Close, and a set that follows the host
		// never ends by itself: stop, then close.
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, ci, err := m.Next()
			if err == nil {
				select {
				case frames <- ci.InterfaceIndex:
				default:
				}
			} else if !errors.Is(err, ErrTimeout) {
				return
			}
		}
	}()
	defer func() { close(stop); <-done; m.Close() }()
	member := func(dev string) bool {
		for _, r := range *m.readers.Load() {
			if r.dev == dev {
				return true
			}
		}
		return false
	}
	for trial := 0; trial < 3; trial++ {
		dev, peer, subnet := fmt.Sprintf("nwa%d", trial), fmt.Sprintf("nwb%d", trial), 10+trial
		ip("link", "add", dev, "type", "veth", "peer", "name", peer, "netns", axNsB())
		ip("addr", "add", fmt.Sprintf("10.239.%d.1/24", subnet), "dev", dev)
		ip("-n", axNsB(), "addr", "add", fmt.Sprintf("10.239.%d.2/24", subnet), "dev", peer)
		ip("-n", axNsB(), "link", "set", peer, "up")
		time.Sleep(time.Duration(trial) * 70 * time.Millisecond) // another phase of the poll
		if member(dev) {
			t.Fatalf("%s captured while down", dev)
		}
		ip("link", "set", dev, "up")
		t0 := time.Now()
		for !member(dev) && time.Since(t0) < 5*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(t0)
		if !member(dev) {
			t.Fatalf("%s not captured after %v; rings %+v", dev, took, m.Rings())
		}
		// The poll, plus opening the capture.
		if took > every+250*time.Millisecond {
			t.Errorf("%s captured %v after it came up, with poll_devices %v", dev, took, every)
		}
		t.Logf("%s captured %v after it came up", dev, took)
		for len(frames) > 0 {
			<-frames
		}
		axGets(t, subnet, 1)
		m.mu.Lock()
		idx := m.index[dev]
		m.mu.Unlock()
		n := 0
		for deadline := time.After(2 * time.Second); n < 8; {
			select {
			case i := <-frames:
				if i == idx {
					n++
				}
			case <-deadline:
				t.Fatalf("%d frames of %s (number %d)", n, dev, idx)
			}
		}
		ip("link", "del", dev)
		for t1 := time.Now(); member(dev) && time.Since(t1) < 3*time.Second; {
			time.Sleep(10 * time.Millisecond)
		}
		if member(dev) {
			t.Errorf("%s still in the set after it was deleted", dev)
		}
	}
}

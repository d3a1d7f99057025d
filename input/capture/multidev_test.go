package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/network-traffic/network-traffic/input/config"
	"github.com/network-traffic/network-traffic/internal/docsink"
	"github.com/network-traffic/network-traffic/internal/netnstest"
)

// Several interfaces in one input, live, with a real HTTP server:
//
//	ns A (the test re-runs itself here)             ns B (curl runs here)
//	mda0 10.232.0.1/24  <-- veth -->  mdb0 10.232.0.2/24
//	mda1 10.232.1.1/24  <-- veth -->  mdb1 10.232.1.2/24
//	mdx0 10.232.2.1/24  <-- veth -->  mdy0 10.232.2.2/24   (excluded)
//
// python3 -m http.server listens in ns A on every address; curl in ns B asks
// it over each veth, so each transaction comes in on a known interface.

const (
	envMDNetns = "NT_MULTIDEV_NETNS" // "A B" inside ns A
	mdPort     = 18042
)

func inMultidevNetns(t *testing.T) bool {
	t.Helper()
	return netnstest.Enter(t, envMDNetns, "md", []string{"curl", "python3"},
		mdVeth("mda0", "mdb0", 0), mdVeth("mda1", "mdb1", 1), mdVeth("mdx0", "mdy0", 2))
}

// mdVeth is the pair dev (ns A, 10.232.subnet.1) -- peer (ns B, .2).
func mdVeth(dev, peer string, subnet int) netnstest.Veth {
	return netnstest.Veth{Dev: dev, Peer: peer,
		AddrA: fmt.Sprintf("10.232.%d.1/24", subnet), AddrB: fmt.Sprintf("10.232.%d.2/24", subnet)}
}

func mdNsB() string { return netnstest.PeerNS(envMDNetns) }

// startHTTPServer runs python3's http.server in ns A until the test ends.
func startHTTPServer(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(strings.Repeat("multidev ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("python3", "-m", "http.server", fmt.Sprint(mdPort), "--bind", "0.0.0.0", "--directory", dir)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		if exec.Command("curl", "-s", "-o", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/f", mdPort)).Run() == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("http.server did not come up")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// httpGets makes n requests from ns B to the server's address on subnet i.
func httpGets(t *testing.T, subnet, n int) {
	t.Helper()
	for k := 0; k < n; k++ {
		url := fmt.Sprintf("http://10.232.%d.1:%d/f", subnet, mdPort)
		if out, err := exec.Command("ip", "netns", "exec", mdNsB(), "curl", "-s", "-o", "/dev/null", "--max-time", "5", url).CombinedOutput(); err != nil {
			t.Fatalf("curl %s: %v %s", url, err, out)
		}
	}
}

type mdCapture struct {
	w      *Worker
	sink   *docsink.Sink
	cancel context.CancelFunc
	done   chan error
}

func startMultidev(t *testing.T, iface map[string]any) *mdCapture {
	t.Helper()
	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
		map[string]any{"id": "http", "type": "http", "ports": []any{mdPort}, "interface": iface},
		map[string]any{"id": "flow", "type": "flow", "period": "-1s", "interface": iface},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range in.Streams {
		if st.Err != nil {
			t.Fatal(st.Err)
		}
	}
	c := &mdCapture{sink: &docsink.Sink{}, done: make(chan error, 1)}
	c.w, err = New(in, c.sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ctx context.Context
	ctx, c.cancel = context.WithCancel(context.Background())
	go func() { c.done <- c.w.Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	return c
}

func (c *mdCapture) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	if err := <-c.done; err != nil {
		t.Fatal(err)
	}
}

// httpByInterface counts HTTP transactions by (destination address,
// observer.ingress.interface.name).
func (c *mdCapture) httpByInterface() map[string]int {
	out := map[string]int{}
	for _, d := range c.sink.All() {
		if d["type"] != "http" {
			continue
		}
		out[destIP(d)+" "+ifaceName(d)]++
	}
	return out
}

func destIP(d map[string]any) string {
	dst, _ := d["destination"].(map[string]any)
	ip, _ := dst["ip"].(string)
	return ip
}

func ifaceName(d map[string]any) string {
	o, _ := d["observer"].(map[string]any)
	in, _ := o["ingress"].(map[string]any)
	i, _ := in["interface"].(map[string]any)
	name, _ := i["name"].(string)
	return name
}

func (c *mdCapture) waitHTTP(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got := 0
		for _, v := range c.httpByInterface() {
			got += v
		}
		if got >= n {
			return
		}
	}
}

// Two veth interfaces picked by a pattern, a third excluded by a pattern,
// for both capture types and 1 and 2 workers: every transaction carries the
// interface it came in on, nothing of the excluded one is captured, every
// flow is reported once with its interface, and the per-interface counters
// add up to the totals.
func TestLiveMultipleInterfaces(t *testing.T) {
	if !inMultidevNetns(t) {
		return
	}
	startHTTPServer(t)
	for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/workers=%d", typ, workers), func(t *testing.T) {
				c := startMultidev(t, map[string]any{"device": "md*", "exclude_devices": []any{"mdx*"}, "type": typ, "workers": workers})
				httpGets(t, 0, 5)
				httpGets(t, 1, 7)
				httpGets(t, 2, 3) // excluded
				c.waitHTTP(t, 12)
				time.Sleep(300 * time.Millisecond) // a transaction of the excluded interface would show by now
				c.stop(t)
				st := c.w.Stats() // the final snapshot of every counter

				want := map[string]int{"10.232.0.1 mda0": 5, "10.232.1.1 mda1": 7}
				if got := c.httpByInterface(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("http transactions by destination and interface: %v, want %v", got, want)
				}
				flows := map[string]int{}
				for _, d := range c.sink.All() {
					if d["type"] == "flow" {
						flows[destIP(d)+" "+ifaceName(d)]++
						if strings.HasPrefix(destIP(d), "10.232.2.") {
							t.Errorf("flow of the excluded interface: %v", d)
						}
					}
				}
				if flows["10.232.0.1 mda0"] != 5 || flows["10.232.1.1 mda1"] != 7 {
					t.Errorf("flows by destination and interface: %v", flows)
				}

				if len(st.Rings) != 2 || st.Rings[0].Device != "mda0" || st.Rings[1].Device != "mda1" {
					t.Fatalf("rings %+v, want mda0 and mda1", st.Rings)
				}
				var pk, by, recv, drop uint64
				for _, r := range st.Rings {
					if r.Packets == 0 || r.Type != typ || r.State != "" {
						t.Errorf("ring %+v", r)
					}
					pk, by, recv, drop = pk+r.Packets, by+r.Bytes, recv+r.KernelReceived, drop+r.KernelDropped
				}
				if pk != st.Packets || by != st.Bytes || recv != st.PcapReceived || drop != st.PcapDropped+st.PcapIfDropped {
					t.Errorf("rings add up to packets %d bytes %d received %d dropped %d; totals %d %d %d %d",
						pk, by, recv, drop, st.Packets, st.Bytes, st.PcapReceived, st.PcapDropped+st.PcapIfDropped)
				}
				// Each request is ~10 packets; the kernel counted what was read.
				if st.Packets < 12*8 || st.PcapReceived < st.Packets {
					t.Errorf("packets %d, kernel received %d", st.Packets, st.PcapReceived)
				}
			})
		}
	}
}

// An interface of the set deleted mid-capture is waited for (its ring
// state names it, which makes the unit DEGRADED) while the other keeps
// producing transactions.
func TestLiveMultipleInterfacesOneDisappears(t *testing.T) {
	if !inMultidevNetns(t) {
		return
	}
	startHTTPServer(t)
	for i, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		t.Run(typ, func(t *testing.T) {
			// A pair of its own, deleted by the test.
			dev, peer, subnet := fmt.Sprintf("mde%d", i), fmt.Sprintf("mdf%d", i), 3+i
			netnstest.AddVeth(t, "", mdNsB(), mdVeth(dev, peer, subnet))
			c := startMultidev(t, map[string]any{"device": []any{"mda0", dev}, "type": typ})
			httpGets(t, 0, 2)
			httpGets(t, subnet, 3)
			c.waitHTTP(t, 5)
			if out, err := exec.Command("ip", "link", "del", dev).CombinedOutput(); err != nil {
				t.Fatalf("delete %s: %v %s", dev, err, out)
			}
			var state string
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if rs := c.w.Stats().Rings; len(rs) == 2 && rs[1].State != "" {
					state = rs[1].State
					break
				}
			}
			httpGets(t, 0, 4) // the other interface keeps capturing
			c.waitHTTP(t, 9)
			st := c.w.Stats()
			c.stop(t)
			if !strings.Contains(state, dev) || !strings.Contains(state, "waiting for it to come back") {
				t.Errorf("ring state of %s after deletion: %q", dev, state)
			}
			if st.Rings[0].State != "" {
				t.Errorf("mda0 state %q", st.Rings[0].State)
			}
			want := map[string]int{"10.232.0.1 mda0": 6, fmt.Sprintf("10.232.%d.1 %s", subnet, dev): 3}
			if got := c.httpByInterface(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("http transactions by destination and interface: %v, want %v", got, want)
			}
		})
	}
}

// A set without patterns resolves when the capture opens: an empty
// selection is an error naming the device and the exclusions (one with a
// pattern waits instead: TestLiveMultipleInterfacesFollowPattern).
func TestLiveMultipleInterfacesEmptySet(t *testing.T) {
	if !inMultidevNetns(t) {
		return
	}
	in, err := config.Parse(map[string]any{"type": "packet", "streams": []any{
		map[string]any{"id": "flow", "type": "flow", "interface": map[string]any{"device": "mda0,mda1", "exclude_devices": "mda?"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(in, &docsink.Sink{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "device mda0,mda1 selects no interface once exclude_devices mda? are taken out") {
		t.Errorf("err %v", err)
	}
	in, _ = config.Parse(map[string]any{"type": "packet", "streams": []any{
		map[string]any{"id": "flow", "type": "flow", "interface": map[string]any{"device": "mda0,nosuch0"}},
	}})
	if _, err = New(in, &docsink.Sink{}, Options{}); err == nil || !strings.Contains(err.Error(), `device mda0,nosuch0: unknown interface "nosuch0"`) {
		t.Errorf("err %v", err)
	}
}

// A filter change reaches every interface's socket (served by each reader
// goroutine, which owns its handle): with a filter that matches nothing no
// frame arrives; after SetFilter both interfaces deliver, each frame
// numbered with its interface.
func TestLiveMultipleInterfacesSetFilter(t *testing.T) {
	if !inMultidevNetns(t) {
		return
	}
	startHTTPServer(t)
	for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		t.Run(typ, func(t *testing.T) {
			iface := config.Interface{Device: "mda0,mda1", Devices: []string{"mda0", "mda1"}, Type: typ}
			src, err := OpenSource(iface, "tcp port 1")
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				t0 := time.Now()
				src.Close()
				// Idle readers see the stop within a read timeout or two.
				if d := time.Since(t0); d > time.Second {
					t.Errorf("Close took %v", d)
				}
			}()
			read := func(d time.Duration) map[int]int {
				got := map[int]int{}
				for end := time.Now().Add(d); time.Now().Before(end); {
					_, ci, err := src.Next()
					if err == nil {
						got[ci.InterfaceIndex]++
					} else if !errors.Is(err, ErrTimeout) {
						t.Fatal(err)
					}
				}
				return got
			}
			read(200 * time.Millisecond) // readers running
			httpGets(t, 0, 1)
			httpGets(t, 1, 1)
			if got := read(500 * time.Millisecond); len(got) != 0 {
				t.Errorf("frames through filter tcp port 1: %v", got)
			}
			t1 := time.Now()
			if err := src.(*multiSource).SetFilter(fmt.Sprintf("tcp port %d", mdPort)); err != nil {
				t.Fatal(err)
			}
			// Served by idle readers within a read timeout or two.
			if d := time.Since(t1); d > time.Second {
				t.Errorf("SetFilter took %v", d)
			}
			httpGets(t, 0, 1)
			httpGets(t, 1, 2)
			got := read(700 * time.Millisecond)
			if got[1] < 8 || got[2] < 16 || len(got) != 2 {
				t.Errorf("frames by interface after SetFilter: %v (want ~10 on 1, ~20 on 2)", got)
			}
		})
	}
}

// A set with a pattern follows the host: with nothing matching it waits
// (its state says so); an interface that appears and matches is captured,
// its transactions named; when it disappears it leaves the set (no waiting
// state) with its packets kept in the totals, and one that comes back is
// captured again.
func TestLiveMultipleInterfacesFollowPattern(t *testing.T) {
	if !inMultidevNetns(t) {
		return
	}
	startHTTPServer(t)
	ip := func(args ...string) { t.Helper(); netnstest.IP(t, args...) }
	mkPair := func(dev, peer string, subnet int) { netnstest.AddVeth(t, "", mdNsB(), mdVeth(dev, peer, subnet)) }
	waitRings := func(c *mdCapture, ok func([]RingInfo) bool) []RingInfo {
		t.Helper()
		var rs []RingInfo
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if rs = c.w.Stats().Rings; ok(rs) {
				return rs
			}
		}
		t.Fatalf("rings %+v", rs)
		return nil
	}
	for i, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		t.Run(typ, func(t *testing.T) {
			dev, peer, subnet := fmt.Sprintf("mdn%d", i), fmt.Sprintf("mdm%d", i), 5+i
			c := startMultidev(t, map[string]any{"device": fmt.Sprintf("mdn%d*", i), "type": typ, "poll_devices": "200ms"})
			rs := waitRings(c, func(rs []RingInfo) bool { return len(rs) == 1 })
			if !strings.Contains(rs[0].State, fmt.Sprintf("device mdn%d* selects no interface", i)) || !strings.Contains(rs[0].State, "waiting for one") {
				t.Errorf("state while nothing matches: %q", rs[0].State)
			}
			mkPair(dev, peer, subnet)
			waitRings(c, func(rs []RingInfo) bool { return len(rs) == 1 && rs[0].Device == dev && rs[0].State == "" })
			httpGets(t, subnet, 3)
			c.waitHTTP(t, 3)
			ip("link", "del", dev)
			waitRings(c, func(rs []RingInfo) bool { return len(rs) == 1 && strings.Contains(rs[0].State, "selects no interface") })
			before := c.w.Stats()
			mkPair(dev, peer, subnet)
			waitRings(c, func(rs []RingInfo) bool { return len(rs) == 1 && rs[0].Device == dev && rs[0].State == "" })
			httpGets(t, subnet, 2)
			c.waitHTTP(t, 5)
			c.stop(t)
			st := c.w.Stats()
			defer exec.Command("ip", "link", "del", dev).Run()
			want := map[string]int{fmt.Sprintf("10.232.%d.1 %s", subnet, dev): 5}
			if got := c.httpByInterface(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("http transactions by destination and interface: %v, want %v", got, want)
			}
			// The first capture's kernel counts stay in the totals.
			if before.PcapReceived < 3*8 || st.PcapReceived < before.PcapReceived+2*8 || st.Packets < before.Packets+2*8 {
				t.Errorf("kernel received %d then %d, packets %d then %d", before.PcapReceived, st.PcapReceived, before.Packets, st.Packets)
			}
		})
	}
}

// The cost of the merge, measured (NT_MULTIDEV_BENCH=1, root): N small
// frames are queued in the kernel rings of two interfaces, then read back
// with Next only, once through each interface's own source in turn and once
// through the multiSource of both; CPU time per frame of each.
func TestLiveMultipleInterfacesMergeCost(t *testing.T) {
	if os.Getenv("NT_MULTIDEV_BENCH") == "" {
		t.Skip("measurement: set NT_MULTIDEV_BENCH=1")
	}
	if !inMultidevNetns(t) {
		return
	}
	const n = 300000
	for _, typ := range []string{config.TypePcap, config.TypeAFPacket} {
		iface := config.Interface{Type: typ, BufferSizeMB: 64}
		fill := func() {
			for i, dev := range []string{"mdb0", "mdb1"} {
				s := newSender(t, mdNsB(), dev)
				a, _ := net.InterfaceByName(fmt.Sprintf("mda%d", i))
				s.send(t, a.HardwareAddr, i, 4000, 4001, n)
			}
			time.Sleep(200 * time.Millisecond)
		}
		drain := func(src Source, want int) int {
			got := 0
			for timeouts := 0; got < want && timeouts < 3; {
				if _, _, err := src.Next(); err == nil {
					got++
				} else {
					timeouts++
				}
			}
			return got
		}
		cpu := func() time.Duration {
			var ru unix.Rusage
			unix.Getrusage(unix.RUSAGE_SELF, &ru)
			return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		// Each interface's own source.
		a, err := OpenSource(config.Interface{Device: "mda0", Type: typ, BufferSizeMB: 64}, "udp port 4001")
		if err != nil {
			t.Fatal(err)
		}
		b, err := OpenSource(config.Interface{Device: "mda1", Type: typ, BufferSizeMB: 64}, "udp port 4001")
		if err != nil {
			t.Fatal(err)
		}
		fill()
		c0 := cpu()
		got := drain(a, n) + drain(b, n)
		single := cpu() - c0
		a.Close()
		b.Close()
		// One source of both.
		iface.Device, iface.Devices = "mda0,mda1", []string{"mda0", "mda1"}
		m, err := OpenSource(iface, "udp port 4001")
		if err != nil {
			t.Fatal(err)
		}
		fill()
		c0 = cpu()
		if p := os.Getenv("NT_MULTIDEV_PROFILE"); p != "" {
			f, _ := os.Create(p + "." + typ)
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
		mgot := drain(m, 2*n)
		merged := cpu() - c0
		pprof.StopCPUProfile()
		m.Close()
		t.Logf("%s: separate sources %d frames %.0f ns/frame; merged %d frames %.0f ns/frame",
			typ, got, float64(single)/float64(got), mgot, float64(merged)/float64(mgot))
	}
}

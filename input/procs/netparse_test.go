package procs

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
)

func TestParseNetLine(t *testing.T) {
	cases := []struct {
		name  string
		line  string
		v6    bool
		want  string // "" = not ok
		inode uint64
	}{
		// Lines copied from this machine's /proc/net/tcp and tcp6.
		{"v4 listen", "   1: 0100007F:8F0B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 76196 2 0000000092e1b4ac 100 0 0 10 0", false, "127.0.0.1:36619", 76196},
		{"v4 any", "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1076 1 000000002c264f3c 100 0 0 10 0\n", false, "0.0.0.0:2024", 1076},
		{"v6 mapped v4", "   0: 0000000000000000FFFF00000100007F:2454 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 50667 1 000000000c43c4bf 100 0 0 10 0", true, "127.0.0.1:9300", 50667},
		{"v6 loopback", "   1: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0 100 0 0 10 0", true, "[::1]:9000", 2002},
		{"v6 global lowercase", "  100: b80d0120000000000000000001000000:14e9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3002 2 0 0\r\n", true, "[2001:db8::1]:5353", 3002},
		{"v6 any", "   2: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 2003 1 0", true, "[::]:443", 2003},
		{"tabs", "0:\t0100007F:0050\t00000000:0000\t0A\ta:b\tc:d\t0\t0\t0\t42", false, "127.0.0.1:80", 42},

		{"header", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode", false, "", 0},
		{"empty", "", false, "", 0},
		{"blank", "   \n", false, "", 0},
		{"too few fields", "   3: 0302010A:0051 0901A8C0:C739 0A", false, "", 0},
		{"inode zero (TIME_WAIT)", "   2: 0302010A:0050 0901A8C0:C739 06 00000000:00000000 03:00000C1F 00000000     0        0 0 3 0", false, "", 0},
		{"bad hex", "   4: 0302010G:0052 00000000:0000 0A 0:0 0:0 0 0 0 1004", false, "", 0},
		{"short addr", "   5: 302010A:0053 00000000:0000 0A 0:0 0:0 0 0 0 1005", false, "", 0},
		{"no colon", "   6: 0302010A0054 00000000:0000 0A 0:0 0:0 0 0 0 1006", false, "", 0},
		{"long port", "   7: 0302010A:00550 00000000:0000 0A 0:0 0:0 0 0 0 1007", false, "", 0},
		{"inode not a number", "   8: 0302010A:0056 00000000:0000 0A 0:0 0:0 0 0 0 12a", false, "", 0},
		{"inode overflow", "   8: 0302010A:0056 00000000:0000 0A 0:0 0:0 0 0 0 99999999999999999999", false, "", 0},
		{"v4 line in v6 table", "   1: 0100007F:8F0B 00000000:0000 0A 0:0 0:0 0 0 0 76196", true, "", 0},
		{"v6 line in v4 table", "   1: 00000000000000000000000001000000:2328 0:0 0A 0:0 0:0 0 0 0 2002", false, "", 0},
		{"31 digits", "   3: 0000000000000000000000000100000:2329 0 0A 0:0 0:0 0 0 0 2004", true, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ap, ino, ok := parseNetLine([]byte(c.line), c.v6)
			if c.want == "" {
				if ok {
					t.Fatalf("parsed %v inode %d, want rejection", ap, ino)
				}
				return
			}
			if !ok {
				t.Fatalf("rejected, want %s", c.want)
			}
			if ap.String() != c.want || ino != c.inode {
				t.Fatalf("got %v inode %d, want %s inode %d", ap, ino, c.want, c.inode)
			}
			if ap.Addr().Is4In6() {
				t.Fatalf("%v left mapped", ap)
			}
		})
	}
}

// TestParseLiveTables parses this machine's tables: every line but the
// header must parse (a format drift would show here), and our own listener
// must be among them.
func TestParseLiveTables(t *testing.T) {
	ln := listen(t, "tcp4", "127.0.0.1:0")
	want := netip.MustParseAddrPort(ln.Addr().String())
	found := false
	for _, tb := range netTables {
		f, err := os.Open("/proc/" + tb.name)
		if err != nil {
			t.Logf("%s: %v", tb.name, err)
			continue
		}
		sc := bufio.NewScanner(f)
		first := true
		for sc.Scan() {
			if first {
				first = false
				continue
			}
			ap, ino, ok := parseNetLine(sc.Bytes(), tb.v6)
			if !ok {
				// TIME_WAIT and similar have inode 0; nothing else may fail.
				if _, _, ok2 := parseNetLineAnyInode(sc.Bytes(), tb.v6); !ok2 {
					t.Errorf("%s: cannot parse %q", tb.name, sc.Text())
				}
				continue
			}
			if tb.proto == protoTCP && ap == want && ino != 0 {
				found = true
			}
		}
		f.Close()
	}
	if !found {
		t.Fatalf("listener %v not in /proc/net/tcp", want)
	}
}

// parseNetLineAnyInode is parseNetLine accepting inode 0, for the test above.
func parseNetLineAnyInode(line []byte, v6 bool) (netip.AddrPort, uint64, bool) {
	ap, ino, ok := parseNetLine(line, v6)
	if ok {
		return ap, ino, ok
	}
	// Replace a trailing-field inode of 0 by 1 and try again.
	f := splitFields(line)
	if len(f) > fieldInode && string(f[fieldInode]) == "0" {
		f[fieldInode] = []byte("1")
		var b []byte
		for _, x := range f {
			b = append(append(b, x...), ' ')
		}
		return parseNetLine(b, v6)
	}
	return netip.AddrPort{}, 0, false
}

func splitFields(line []byte) [][]byte {
	var out [][]byte
	start := -1
	for i, c := range line {
		if isSpace(c) {
			if start >= 0 {
				out = append(out, line[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, line[start:])
	}
	return out
}

// formatNetLine writes a socket the way the kernel does, for round trips.
func formatNetLine(ap netip.AddrPort, inode uint64, v6 bool) string {
	var addr string
	if v6 {
		b := ap.Addr().As16()
		for w := 0; w < 4; w++ {
			addr += fmt.Sprintf("%08X", binary.NativeEndian.Uint32(b[w*4:]))
		}
	} else {
		b := ap.Addr().As4()
		addr = fmt.Sprintf("%08X", binary.NativeEndian.Uint32(b[:]))
	}
	return fmt.Sprintf("   0: %s:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %d 1 0000000000000000 100 0 0 10 0\n",
		addr, ap.Port(), inode)
}

func TestFormatRoundTrip(t *testing.T) {
	for _, s := range []string{"127.0.0.1:80", "10.1.2.3:65535", "[2001:db8::1]:53", "[fe80::1:2:3:4]:1", "[::]:0"} {
		ap := netip.MustParseAddrPort(s)
		v6 := ap.Addr().Is6()
		got, ino, ok := parseNetLine([]byte(formatNetLine(ap, 7, v6)), v6)
		if !ok || got != ap || ino != 7 {
			t.Errorf("%s: got %v %d %v", s, got, ino, ok)
		}
	}
}

// FuzzParseNetLine: never panics; whatever parses re-formats to a line that
// parses to the same socket.
func FuzzParseNetLine(f *testing.F) {
	for _, path := range []string{"testdata/proc/net/tcp", "testdata/proc/net/tcp6", "testdata/proc/net/udp", "testdata/proc/net/udp6", "/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range splitLines(b) {
			f.Add(line, len(line) > 120)
		}
	}
	f.Add([]byte("0: FFFFFFFF:FFFF 0 0 0 0 0 0 0 18446744073709551615"), false)
	f.Fuzz(func(t *testing.T, line []byte, v6 bool) {
		ap, ino, ok := parseNetLine(line, v6)
		if !ok {
			return
		}
		if ino == 0 || !ap.IsValid() || ap.Addr().Is4In6() || ap.Addr().Zone() != "" {
			t.Fatalf("bad result %v %d from %q", ap, ino, line)
		}
		if !v6 && !ap.Addr().Is4() {
			t.Fatalf("v4 table gave %v", ap)
		}
		// An unmapped v6-table address re-formats as its mapped form.
		re := ap
		if v6 && ap.Addr().Is4() {
			re = netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
		}
		ap2, ino2, ok2 := parseNetLine([]byte(formatNetLine(re, ino, v6)), v6)
		if !ok2 || ap2 != ap || ino2 != ino {
			t.Fatalf("round trip of %q: %v %d %v, want %v %d", line, ap2, ino2, ok2, ap, ino)
		}
	})
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		out = append(out, b[:i])
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}

func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

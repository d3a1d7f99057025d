package procs

import (
	"os"
	"slices"
	"testing"
)

func TestParseStat(t *testing.T) {
	cases := []struct {
		in    string
		comm  string
		ppid  int64
		start uint64
		bad   bool
	}{
		// From this machine: `cat /proc/self/stat`.
		{in: "5800 (cat) R 5782 5782 31067 0 -1 4194304 102 0 0 0 0 0 0 0 20 0 1 0 1073745 3133440 417 18446744073709551615 93948084764672\n", comm: "cat", ppid: 5782, start: 1073745},
		{in: "300 (dns (srv) x) S 1 300 300 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 500 10000", comm: "dns (srv) x", ppid: 1, start: 500},
		{in: "7 () S 2 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 -20 1 0 9", comm: "", ppid: 2, start: 9},
		{in: "7 (a b) S 2 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0", bad: true}, // no starttime
		{in: "7 a) S 2 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9", bad: true},
		{in: "7 (a S 2", bad: true},
		{in: "7 (a) S x 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9", bad: true},
		{in: "7 (a) S 2 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -9", bad: true},
		{in: "", bad: true},
	}
	for _, c := range cases {
		st, err := parseStat([]byte(c.in))
		if c.bad {
			if err == nil {
				t.Errorf("%q: parsed %+v, want error", c.in, st)
			}
			continue
		}
		if err != nil || st.comm != c.comm || st.ppid != c.ppid || st.startTicks != c.start {
			t.Errorf("%q: got %+v %v", c.in, st, err)
		}
	}
}

// TestParseStatSelf checks the parser against the kernel: our own ppid.
func TestParseStatSelf(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip(err)
	}
	st, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != int64(os.Getppid()) || st.startTicks == 0 {
		t.Fatalf("got %+v, ppid want %d", st, os.Getppid())
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("5800 (cat) R 5782 5782 31067 0 -1 4194304 102 0 0 0 0 0 0 0 20 0 1 0 1073745 3133440 417\n"))
	f.Add([]byte("300 (dns (srv) x) S 1 300 300 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 500 10000"))
	f.Add([]byte(")("))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStat(b)
		if err == nil && len(st.comm) > len(b) {
			t.Fatalf("comm longer than input")
		}
	})
}

func TestSplitCmdline(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"python3\x00-m\x00http.server\x00", []string{"python3", "-m", "http.server"}},
		{"nginx: master process /usr/sbin/nginx\x00", []string{"nginx: master process /usr/sbin/nginx"}},
		{"a\x00\x00b\x00", []string{"a", "", "b"}}, // an empty argument stays
		{"noterminator", []string{"noterminator"}},
		{"\x00\x00", nil},
		{"", nil},
	}
	for _, c := range cases {
		if got := splitCmdline([]byte(c.in)); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q want %q", c.in, got, c.want)
		}
	}
	many := make([]byte, 0, 3*1000)
	for range 1000 {
		many = append(many, 'x', 0)
	}
	if got := splitCmdline(many); len(got) != maxArgs {
		t.Errorf("%d args kept, want the bound %d", len(got), maxArgs)
	}
}

func TestProcName(t *testing.T) {
	cases := []struct {
		comm string
		args []string
		want string
	}{
		{"nginx", []string{"nginx: worker process"}, "nginx"},
		{"a-very-long-nam", []string{"/opt/bin/a-very-long-name-server", "-x"}, "a-very-long-name-server"},
		{"a-very-long-nam", []string{"/opt/bin/something-else-entirely"}, "a-very-long-nam"},
		{"a-very-long-nam", nil, "a-very-long-nam"},
		{"short", []string{"/usr/bin/shortened-by-nobody"}, "short"},
	}
	for _, c := range cases {
		if got := procName(c.comm, c.args); got != c.want {
			t.Errorf("procName(%q, %q) = %q want %q", c.comm, c.args, got, c.want)
		}
	}
}

func TestSocketInode(t *testing.T) {
	for link, want := range map[string]uint64{"socket:[76196]": 76196, "socket:[]": 0, "socket:[12x]": 0, "pipe:[5]": 0, "/dev/null": 0, "socket:[1": 0} {
		got, ok := socketInode(link)
		if (want != 0) != ok || got != want {
			t.Errorf("%q: got %d %v", link, got, ok)
		}
	}
}

func TestReadBounded(t *testing.T) {
	p := t.TempDir() + "/f"
	big := make([]byte, 10000)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	if err := os.WriteFile(p, big, 0o600); err != nil {
		t.Fatal(err)
	}
	var buf []byte
	got, err := readBounded(p, buf, 3000)
	if err != nil || len(got) != 3000 || string(got) != string(big[:3000]) {
		t.Fatalf("bounded read: %d bytes, %v", len(got), err)
	}
	got, err = readBounded(p, got, 1<<20)
	if err != nil || string(got) != string(big) {
		t.Fatalf("full read: %d bytes, %v", len(got), err)
	}
	got, err = readBounded(p, got, 10) // a big reused buffer still stops at the limit
	if err != nil || len(got) != 10 {
		t.Fatalf("reused buffer: %d bytes, %v", len(got), err)
	}
	if _, err := readBounded(p+"-missing", got, 10); err == nil {
		t.Fatal("missing file: no error")
	}
}

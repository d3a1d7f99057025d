package ndjson

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/network-traffic/network-traffic/input/output"
)

func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// Files rotate before they would pass RotateBytes; the newest rotated file
// is .1, only Keep are kept, and no line is lost or split.
func TestRotationBySize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.ndjson")
	o, err := New(Config{Path: path, RotateBytes: 100, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	var batch []output.Doc
	for i := 0; i < 12; i++ {
		batch = append(batch, output.Doc{Body: []byte(fmt.Sprintf(`{"n":%d,"pad":"0123456789"}`, i))}) // 28-29 bytes + newline
	}
	if err := o.Publish(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	cur, r1, r2 := lines(t, path), lines(t, path+".1"), lines(t, path+".2")
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("kept more than Keep rotated files")
	}
	for _, f := range []string{path, path + ".1", path + ".2"} {
		if info, _ := os.Stat(f); info.Size() > 100 {
			t.Errorf("%s is %d bytes, over the rotation size", f, info.Size())
		}
	}
	// The last 3 files hold the newest lines in order.
	all := append(append(r2, r1...), cur...)
	for i, l := range all {
		want := fmt.Sprintf(`{"n":%d,"pad":"0123456789"}`, 12-len(all)+i)
		if l != want {
			t.Fatalf("line %d = %q, want %q", i, l, want)
		}
	}
	if st := o.Stats(); st.Published != 12 {
		t.Errorf("published %d", st.Published)
	}
}

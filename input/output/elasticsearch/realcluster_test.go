package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// realCluster returns the HTTP URLs of the three-node test cluster
// (_dev/es/start-cluster.sh), or skips when it is not running and
// NT_REQUIRE_ES_CLUSTER is unset.
func realCluster(t *testing.T) []string {
	t.Helper()
	var urls []string
	var err error
	for i := range 3 {
		u := fmt.Sprintf("http://127.0.0.1:%d", 9261+i)
		urls = append(urls, u)
		if err == nil {
			err = clusterHas3(u)
		}
	}
	if err != nil {
		if os.Getenv("NT_REQUIRE_ES_CLUSTER") != "" {
			t.Fatalf("test cluster: %v (NT_REQUIRE_ES_CLUSTER is set)", err)
		}
		t.Skipf("no three-node test cluster (%v); start one with _dev/es/start-cluster.sh", err)
	}
	return urls
}

func clusterHas3(u string) error {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(u + "/_cluster/health")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var h struct {
		Nodes int `json:"number_of_nodes"`
	}
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
		return err
	}
	if h.Nodes != 3 {
		return fmt.Errorf("%s: %d nodes", u, h.Nodes)
	}
	return nil
}

// allSeqs pages through the index sorted by seq (search_after), so more
// than 10 000 documents can be checked.
func allSeqs(t *testing.T, base, index string) []int {
	t.Helper()
	esDo(t, "POST", base+"/"+index+"/_refresh", "")
	var out []int
	after := ""
	for {
		q := `{"size":10000,"_source":false,"docvalue_fields":["seq"],"sort":[{"seq":"asc"}]` + after + `}`
		req, _ := http.NewRequest("POST", base+"/"+index+"/_search", strings.NewReader(q))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var r struct {
			Hits struct {
				Hits []struct {
					Sort []int `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("search: %v: %s", err, snippet(raw))
		}
		if len(r.Hits.Hits) == 0 {
			return out
		}
		for _, h := range r.Hits.Hits {
			out = append(out, h.Sort[0])
		}
		after = `,"search_after":[` + strconv.Itoa(out[len(out)-1]) + `]`
	}
}

func docCount(t *testing.T, base, index string) int {
	esDo(t, "POST", base+"/"+index+"/_refresh", "")
	m := esDo(t, "GET", base+"/"+index+"/_count", "")
	f, _ := m["count"].(float64)
	return int(f)
}

// Indexing through all three nodes of a real cluster; node 2 is killed
// (SIGKILL) mid-stream and later restarted: the other two carry on, node 2
// is used again once back, and every document is stored exactly once.
func TestRealClusterNodeKillRestart(t *testing.T) {
	urls := realCluster(t)
	index := fmt.Sprintf("nt-cluster-test-%d", time.Now().UnixNano())
	esDo(t, "PUT", urls[0]+"/"+index, `{"settings":{"number_of_shards":3,"number_of_replicas":1}}`)
	esDo(t, "GET", urls[0]+"/_cluster/health/"+index+"?wait_for_status=green&timeout=60s", "")
	t.Cleanup(func() { esDo(t, "DELETE", urls[0]+"/"+index, "") })

	var hosts []any
	for _, u := range urls {
		hosts = append(hosts, u)
	}
	o := newTestOutput(t, map[string]any{"hosts": hosts, "bulk_max_size": 10, "worker": 1, "timeout": "30s"})
	o.cfg.BackoffInit, o.cfg.BackoffMax = 100*time.Millisecond, 2*time.Second
	o.hostBackoffMax = 2 * time.Second

	var stop atomic.Bool
	var sent atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := 0; !stop.Load(); i += 20 {
			if err := o.Publish(context.Background(), docs(i, 20, index)); err != nil {
				done <- err
				return
			}
			sent.Add(20)
			time.Sleep(50 * time.Millisecond)
		}
		done <- nil
	}()
	waitCount := func(n int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for docCount(t, urls[0], index) < n {
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d documents after %v (sent %d, stats %+v)", n, within, sent.Load(), o.Stats())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitCount(500, 60*time.Second)

	pidRaw, err := os.ReadFile("../../../_dev/es/run-cluster/node2/node.pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidRaw)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := docCount(t, urls[0], index)
	time.Sleep(time.Second) // requests in flight to node 2 have failed by now
	before := o.hosts[1].answered.Load()
	waitCount(killedAt+1000, 90*time.Second)
	if d := o.hosts[1].answered.Load() - before; d != 0 {
		t.Fatalf("killed node answered %d requests", d)
	}
	t.Logf("node 2 killed at %d documents; %d stored while it was down", killedAt, docCount(t, urls[0], index)-killedAt)

	cmd := exec.Command("bash", "../../../_dev/es/start-cluster.sh", "2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restart node 2: %v\n%s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for o.hosts[1].answered.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("restarted node 2 not used again")
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop.Store(true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	total := int(sent.Load())
	checkExactlyOnce(t, allSeqs(t, urls[0], index), total)
	s := o.Stats()
	if s.Published != uint64(total) || s.Failed != 0 {
		t.Fatalf("stats %+v for %d sent", s, total)
	}
	t.Logf("%d documents exactly once; retries %d, 409s on resend %d; requests per host %d/%d/%d",
		total, s.Retries, o.dupes.Load(), o.hosts[0].answered.Load(), o.hosts[1].answered.Load(), o.hosts[2].answered.Load())
}

package processors

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeDocker serves the Docker Engine API's GET /containers/json on a unix
// socket, with the response shape Docker documents.
func fakeDocker(t *testing.T, body *atomic.Value) string {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/containers/json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body.Load().(string)))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

func TestAddDockerMetadata(t *testing.T) {
	old := dockerPoll
	dockerPoll = 20 * time.Millisecond
	defer func() { dockerPoll = old }()
	id := strings.Repeat("3f1c", 16)
	var body atomic.Value
	body.Store(`[{"Id":"` + id + `","Names":["/web-1"],"Image":"nginx:1.25","ImageID":"sha256:abc","Command":"nginx -g 'daemon off;'","Created":1700000000,"State":"running","Status":"Up 2 hours","Labels":{"com.docker.compose.project":"shop","tier":"front"}}]`)
	host := fakeDocker(t, &body)
	c := chainFromYAML(t, `
processors:
  - add_docker_metadata:
      host: "`+host+`"
      match_fields: ["container.id"]
      cleanup_timeout: 100ms
`)
	waitDocker(t, host)
	m, err := process(t, c, `{"container":{"id":"`+id+`"}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"container.id": id, "container.name": "web-1", "container.image.name": "nginx:1.25",
		"container.labels": map[string]any{"com_docker_compose_project": "shop", "tier": "front"}})
	// By log path (source_index 4), labels with dots kept when dedot is off.
	c2 := chainFromYAML(t, `
processors:
  - add_docker_metadata: {host: "`+host+`", labels.dedot: false}
`)
	m, _ = process(t, c2, `{"log":{"file":{"path":"/var/lib/docker/containers/`+id+`/`+id+`-json.log"}}}`)
	wantFields(t, m, map[string]any{"container.name": "web-1", "container.labels": map[string]any{"com.docker.compose.project": "shop", "tier": "front"}})
	// Beats' documented options; a short ID matches with match_short_id.
	c3 := chainFromYAML(t, `
processors:
  - add_docker_metadata:
      host: "`+host+`"
      match_fields: ["system.process.cgroup.id"]
      match_pids: ["process.pid", "process.parent.pid"]
      match_source: true
      match_source_index: 4
      match_short_id: true
      cleanup_timeout: 60
      labels.dedot: false
`)
	m, _ = process(t, c3, `{"system":{"process":{"cgroup":{"id":"`+id[:12]+`"}}}}`)
	wantFields(t, m, map[string]any{"container.id": id, "container.name": "web-1"})
	// An unknown container, or no container fields: unchanged.
	m, _ = process(t, c, `{"container":{"id":"nope"},"process":{"pid":1}}`)
	wantFields(t, m, map[string]any{"container.name": nil})
	// Stopped: kept for cleanup_timeout, then gone.
	body.Store(`[]`)
	time.Sleep(300 * time.Millisecond)
	m, _ = process(t, c, `{"container":{"id":"`+id+`"}}`)
	wantFields(t, m, map[string]any{"container.name": nil})
}

func waitDocker(t *testing.T, host string) {
	dockerMu.Lock()
	w := dockerWatchers[host]
	dockerMu.Unlock()
	select {
	case <-w.polled:
	case <-time.After(5 * time.Second):
		t.Fatal("no poll")
	}
}

// Docker not reachable: a logged no-op, never an error or a delay.
func TestAddDockerMetadataUnreachable(t *testing.T) {
	host := "unix://" + filepath.Join(t.TempDir(), "absent.sock")
	c := chainFromYAML(t, `
processors:
  - add_docker_metadata: {host: "`+host+`", match_fields: [container.id]}
  - add_tags: {tags: [after]}
`)
	waitDocker(t, host)
	m, err := process(t, c, `{"container":{"id":"abc"}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, map[string]any{"container": map[string]any{"id": "abc"}, "tags": []any{"after"}})
	wantConfigError(t, `processors: [{add_docker_metadata: {host: "ftp://x"}}]`, "(add_docker_metadata)", "host")
	wantConfigError(t, `processors: [{add_docker_metadata: {labels: {dedots: true}}}]`, "(add_docker_metadata)", "labels")
}

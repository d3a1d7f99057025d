package processors

import (
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A pod list as the API server answers GET /api/v1/pods.
const podList = `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{
 "metadata":{"name":"web-7d4b9","namespace":"shop","uid":"6f2b2c8e-1111-2222-3333-444455556666",
   "labels":{"app":"web","app.kubernetes.io/part-of":"shop"},"annotations":{"team":"edge","noise":"x"}},
 "spec":{"nodeName":"node-1","containers":[{"name":"nginx","image":"nginx:1.25","ports":[{"containerPort":80}]}]},
 "status":{"podIP":"10.244.1.7","containerStatuses":[{"name":"nginx","containerID":"containerd://` + "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00" + `"}]}}]}`

func fakeAPIServer(t *testing.T) (*httptest.Server, *atomic.Int64, *atomic.Value) {
	var hits atomic.Int64
	var query atomic.Value
	done := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, `{"kind":"Status","code":401}`, 401)
			return
		}
		if r.URL.Path != "/api/v1/pods" {
			http.NotFound(w, r)
			return
		}
		query.Store(r.URL.Query().Get("fieldSelector"))
		if r.URL.Query().Get("watch") == "1" {
			// A pod starts after the list: one ADDED event, then the
			// watch stays open.
			w.Write([]byte(`{"type":"ADDED","object":{"metadata":{"name":"api-5f","namespace":"shop","uid":"u-2"},"spec":{"nodeName":"node-1"},"status":{"podIP":"10.244.1.9"}}}` + "\n"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		hits.Add(1)
		w.Write([]byte(podList))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done); srv.CloseClientConnections() }) // runs first: ends open watches
	return srv, &hits, &query
}

func writeKubeConfig(t *testing.T, srv *httptest.Server, token string) string {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	kc := `apiVersion: v1
kind: Config
current-context: lab
contexts:
- name: lab
  context: {cluster: lab, user: agent}
clusters:
- name: lab
  cluster:
    server: ` + srv.URL + `
    certificate-authority-data: ` + base64.StdEncoding.EncodeToString(ca) + `
users:
- name: agent
  user: {token: ` + token + `}
`
	p := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(p, []byte(kc), 0o600)
	return p
}

func TestAddKubernetesMetadata(t *testing.T) {
	srv, hits, query := fakeAPIServer(t)
	kc := writeKubeConfig(t, srv, "s3cret")
	c := chainFromYAML(t, `
processors:
  - add_kubernetes_metadata:
      kube_config: `+kc+`
      node: node-1
      include_annotations: [team]
      indexers:
        - pod_name: {}
      matchers:
        - field_format: {format: "%{[labels.ns]}/%{[labels.pod]}"}
`)
	waitK8s(t)
	if hits.Load() == 0 || query.Load() != "spec.nodeName=node-1" {
		t.Fatalf("API hits %d, fieldSelector %v", hits.Load(), query.Load())
	}
	want := map[string]any{"kubernetes.pod.name": "web-7d4b9", "kubernetes.pod.uid": "6f2b2c8e-1111-2222-3333-444455556666",
		"kubernetes.pod.ip": "10.244.1.7", "kubernetes.namespace": "shop", "kubernetes.node.name": "node-1",
		"kubernetes.labels":      map[string]any{"app": "web", "app_kubernetes_io/part-of": "shop"},
		"kubernetes.annotations": map[string]any{"team": "edge"}}
	// Default matcher: an event from the pod's IP.
	m, err := process(t, c, `{"source":{"ip":"10.244.1.7","port":40000},"destination":{"ip":"10.96.0.10","port":53}}`)
	if err != nil {
		t.Fatal(err)
	}
	wantFields(t, m, want)
	// The container indexer (by the containerd ID).
	m, _ = process(t, c, `{"server":{"ip":"c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"}}`)
	wantFields(t, m, map[string]any{"kubernetes.container.name": "nginx", "kubernetes.container.image": "nginx:1.25"})
	// field_format with the pod_name indexer.
	m, _ = process(t, c, `{"labels":{"ns":"shop","pod":"web-7d4b9"}}`)
	wantFields(t, m, map[string]any{"kubernetes.pod.uid": "6f2b2c8e-1111-2222-3333-444455556666"})
	// The example of Beats' documentation for Packetbeat: ip_port indexer,
	// fields matcher on "ip".
	doc := chainFromYAML(t, `
processors:
  - add_kubernetes_metadata:
      host: node-1
      kube_config: `+kc+`
      indexers:
        - ip_port:
      matchers:
        - fields:
            lookup_fields: ["ip"]
`)
	waitK8s(t)
	m, _ = process(t, doc, `{"ip":"10.244.1.7"}`)
	wantFields(t, m, map[string]any{"kubernetes.pod.name": "web-7d4b9", "kubernetes.namespace": "shop"})
	m, _ = process(t, doc, `{"ip":"10.244.1.7:80"}`)
	wantFields(t, m, map[string]any{"kubernetes.container.name": "nginx"})
	// A pod added after the list arrives through the watch.
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, _ = process(t, c, `{"source":{"ip":"10.244.1.9"}}`)
		if field(m, "kubernetes.pod.name") == "api-5f" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantFields(t, m, map[string]any{"kubernetes.pod.name": "api-5f", "kubernetes.pod.uid": "u-2"})
	// No match: unchanged.
	m, _ = process(t, c, `{"source":{"ip":"192.0.2.1"}}`)
	wantFields(t, m, map[string]any{"kubernetes": nil})
}

func waitK8s(t *testing.T) {
	k8sMu.Lock()
	var ws []*k8sWatcher
	for _, w := range k8sWatchers {
		ws = append(ws, w)
	}
	k8sMu.Unlock()
	for _, w := range ws {
		select {
		case <-w.polled:
		case <-time.After(5 * time.Second):
			t.Fatal("no list")
		}
	}
}

// Not in a cluster, or an API server refusing the token: logged no-ops.
func TestAddKubernetesMetadataUnavailable(t *testing.T) {
	old := k8sServiceAccountDir
	k8sServiceAccountDir = t.TempDir()
	defer func() { k8sServiceAccountDir = old }()
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	c := chainFromYAML(t, "processors: [{add_kubernetes_metadata: {}}, {add_tags: {tags: [after]}}]")
	m, err := process(t, c, `{"source":{"ip":"10.244.1.7"}}`)
	if err != nil || m["kubernetes"] != nil || js(m["tags"]) != `["after"]` {
		t.Fatalf("outside a cluster: %v %v", err, m)
	}
	srv, _, _ := fakeAPIServer(t)
	bad := writeKubeConfig(t, srv, "wrong")
	c = chainFromYAML(t, "processors: [{add_kubernetes_metadata: {kube_config: "+bad+", node: n2}}]")
	waitK8s(t)
	m, err = process(t, c, `{"source":{"ip":"10.244.1.7"}}`)
	if err != nil || m["kubernetes"] != nil {
		t.Fatalf("refused token: %v %v", err, m)
	}
	c = chainFromYAML(t, "processors: [{add_kubernetes_metadata: {kube_config: /nonexistent}}]")
	if m, err := process(t, c, `{"source":{"ip":"10.244.1.7"}}`); err != nil || m["kubernetes"] != nil {
		t.Fatalf("missing kube_config: %v %v", err, m)
	}
	wantConfigError(t, "processors: [{add_kubernetes_metadata: {matchers: [{logs_path: {logs_path: /var/log/containers/}}]}}]", "(add_kubernetes_metadata)", "logs_path")
	wantConfigError(t, "processors: [{add_kubernetes_metadata: {indexers: [{ip: {}}]}}]", "(add_kubernetes_metadata)", `"ip"`)
	if !strings.Contains(js(Names()), "add_kubernetes_metadata") {
		t.Error("not registered")
	}
}

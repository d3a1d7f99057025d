package processors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// add_kubernetes_metadata: {node, scope: node|cluster, namespace,
// kube_config, default_indexers.enabled: true, default_matchers.enabled:
// true, indexers, matchers, labels.dedot: true, annotations.dedot: true,
// include_labels, exclude_labels, include_annotations, sync_period: 10m,
// cleanup_timeout: 60s}.
//
// Pods are listed from the API server (in-cluster service account, or
// kube_config) and then watched, in the background; the list is redone
// every sync_period, as Beats does. They are indexed by the
// indexers: ip_port (pod IP, and IP:port of declared ports), container
// (container ID), pod_name (namespace/name), pod_uid. Matchers turn an event
// into index keys: fields (lookup_fields; by default source.ip,
// destination.ip, client.ip, server.ip) and field_format. A matching event
// gets kubernetes.{pod.name, pod.uid, pod.ip, namespace, node.name, labels,
// annotations, container.name, container.image}.
//
// Outside a cluster and without kube_config, or with the API server
// unreachable, the processor logs it and leaves events as they are.

func init() { register("add_kubernetes_metadata", newAddKubernetesMetadata) }

type k8sAPI struct {
	server string
	token  string
	client *http.Client
}

// Where a pod sees its service account; tests point it elsewhere.
var k8sServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

type k8sProc struct {
	matchers []func(doc map[string]any) []string
	w        *k8sWatcher
}

type k8sWatcher struct {
	mu    sync.RWMutex
	index map[string]map[string]any // key -> kubernetes.* object
	// Used by the watcher goroutine only: pods by namespace/name, pods seen
	// before, and when deleted ones went.
	pods, lastPods map[string]*k8sPod
	gone           map[string]time.Time
	lastOK         time.Time
	polled         chan struct{}
	api            *k8sAPI
	path           string
	period         time.Duration
	cleanup        time.Duration
	opts           k8sOpts
}

type k8sOpts struct {
	indexers                      map[string]bool
	dedotLabels, dedotAnnotations bool
	includeLabels, excludeLabels  []string
	includeAnnotations            []string
}

var (
	k8sMu       sync.Mutex
	k8sWatchers = map[string]*k8sWatcher{}
)

func newAddKubernetesMetadata(cfg map[string]any) (runFunc, error) {
	if err := checkKeysGroups(cfg, []string{"default_indexers", "default_matchers", "labels", "annotations"},
		"node", "host", "scope", "namespace", "kube_config", "indexers", "matchers", "include_labels",
		"exclude_labels", "include_annotations", "sync_period", "cleanup_timeout"); err != nil {
		return nil, err
	}
	node, err := stringOpt(cfg, "node", "")
	if err != nil {
		return nil, err
	}
	if h, err := stringOpt(cfg, "host", ""); err != nil {
		return nil, err
	} else if node == "" {
		node = h
	}
	if node == "" {
		node = os.Getenv("NODE_NAME")
	}
	if node == "" {
		node, _ = os.Hostname()
	}
	scope, err := stringOpt(cfg, "scope", "node")
	if err != nil {
		return nil, err
	}
	if scope != "node" && scope != "cluster" {
		return nil, fmt.Errorf("scope: %q is not node or cluster", scope)
	}
	ns, err := stringOpt(cfg, "namespace", "")
	if err != nil {
		return nil, err
	}
	period, err := durationOpt(cfg, "sync_period", 10*time.Minute)
	if err != nil || period <= 0 {
		return nil, fmt.Errorf("sync_period: want a positive duration")
	}
	cleanup, err := durationOpt(cfg, "cleanup_timeout", 60*time.Second)
	if err != nil {
		return nil, err
	}
	var o k8sOpts
	for _, g := range []struct {
		name string
		dst  *bool
	}{{"labels", &o.dedotLabels}, {"annotations", &o.dedotAnnotations}} {
		sub, err := subOpts(cfg, g.name)
		if err != nil {
			return nil, err
		}
		if err := checkKeys(sub, "dedot"); err != nil {
			return nil, fmt.Errorf("%s: %v", g.name, err)
		}
		if *g.dst, err = boolOpt(sub, "dedot", true); err != nil {
			return nil, fmt.Errorf("%s.%v", g.name, err)
		}
	}
	for _, l := range []struct {
		key string
		dst *[]string
	}{{"include_labels", &o.includeLabels}, {"exclude_labels", &o.excludeLabels}, {"include_annotations", &o.includeAnnotations}} {
		if v, ok := cfg[l.key]; ok && v != nil {
			if *l.dst, err = stringList(v); err != nil {
				return nil, fmt.Errorf("%s: %v", l.key, err)
			}
		}
	}
	defIdx, err := subOpts(cfg, "default_indexers")
	if err != nil {
		return nil, err
	}
	defMatch, err := subOpts(cfg, "default_matchers")
	if err != nil {
		return nil, err
	}
	useDefIdx, err := boolOpt(defIdx, "enabled", true)
	if err != nil {
		return nil, fmt.Errorf("default_indexers.%v", err)
	}
	useDefMatch, err := boolOpt(defMatch, "enabled", true)
	if err != nil {
		return nil, fmt.Errorf("default_matchers.%v", err)
	}
	o.indexers = map[string]bool{}
	if useDefIdx {
		o.indexers["ip_port"], o.indexers["container"] = true, true
	}
	if v, ok := cfg["indexers"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("indexers: want a list like [{ip_port: {}}]")
		}
		for i, e := range list {
			m, ok := e.(map[string]any)
			if !ok || len(m) != 1 {
				return nil, fmt.Errorf("indexers[%d]: want one indexer name", i)
			}
			for name := range m {
				switch name {
				case "ip_port", "container", "pod_name", "pod_uid":
					o.indexers[name] = true
				default:
					return nil, fmt.Errorf("indexers[%d]: %q is not one of ip_port, container, pod_name, pod_uid", i, name)
				}
			}
		}
	}
	p := &k8sProc{}
	if useDefMatch {
		p.matchers = append(p.matchers, fieldsMatcher([]string{"source.ip", "destination.ip", "client.ip", "server.ip"}))
	}
	if v, ok := cfg["matchers"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("matchers: want a list like [{fields: {lookup_fields: [...]}}]")
		}
		for i, e := range list {
			m, ok := e.(map[string]any)
			if !ok || len(m) != 1 {
				return nil, fmt.Errorf("matchers[%d]: want one matcher", i)
			}
			for name, mv := range m {
				mo, _ := mv.(map[string]any)
				switch name {
				case "fields":
					if err := checkKeys(mo, "lookup_fields"); err != nil {
						return nil, fmt.Errorf("matchers[%d].fields: %v", i, err)
					}
					lf, err := stringList(mo["lookup_fields"])
					if err != nil || len(lf) == 0 {
						return nil, fmt.Errorf("matchers[%d].fields.lookup_fields: required, a list of fields", i)
					}
					p.matchers = append(p.matchers, fieldsMatcher(lf))
				case "field_format":
					if err := checkKeys(mo, "format"); err != nil {
						return nil, fmt.Errorf("matchers[%d].field_format: %v", i, err)
					}
					f, _ := mo["format"].(string)
					if f == "" {
						return nil, fmt.Errorf("matchers[%d].field_format.format: required, like %%{[namespace]}/%%{[pod]}", i)
					}
					p.matchers = append(p.matchers, formatMatcher(f))
				default:
					return nil, fmt.Errorf("matchers[%d]: %q is not supported here (fields, field_format; a packet capture has no log files for logs_path)", i, name)
				}
			}
		}
	}
	kubeConfig, err := stringOpt(cfg, "kube_config", "")
	if err != nil {
		return nil, err
	}
	api, err := k8sClient(kubeConfig)
	if err != nil {
		// As in Beats, an unusable client leaves events alone rather than
		// failing the stream.
		slog.Warn("add_kubernetes_metadata: cannot use kube_config; events go on without kubernetes metadata", "kube_config", kubeConfig, "error", err)
		return func(map[string]any) (bool, error) { return false, nil }, nil
	}
	if api == nil {
		slog.Info("add_kubernetes_metadata: not in a Kubernetes cluster and no kube_config; events go on without kubernetes metadata")
		return func(map[string]any) (bool, error) { return false, nil }, nil
	}
	q := url.Values{}
	if scope == "node" {
		q.Set("fieldSelector", "spec.nodeName="+node)
	}
	path := "/api/v1/pods"
	if ns != "" {
		path = "/api/v1/namespaces/" + url.PathEscape(ns) + "/pods"
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	p.w = sharedK8sWatcher(api, path, period, cleanup, o)
	return p.run, nil
}

func fieldsMatcher(fields []string) func(map[string]any) []string {
	return func(doc map[string]any) []string {
		var keys []string
		for _, f := range fields {
			if v, ok := getPath(doc, f); ok {
				keys = append(keys, str(v))
			}
		}
		return keys
	}
}

var formatRef = regexp.MustCompile(`%\{\[([^\]]+)\]\}`)

func formatMatcher(format string) func(map[string]any) []string {
	return func(doc map[string]any) []string {
		missing := false
		key := formatRef.ReplaceAllStringFunc(format, func(ref string) string {
			v, ok := getPath(doc, formatRef.FindStringSubmatch(ref)[1])
			if !ok {
				missing = true
			}
			return str(v)
		})
		if missing {
			return nil
		}
		return []string{key}
	}
}

// k8sClient finds the API server: kube_config if given, else the pod's
// service account; nil when neither exists.
func k8sClient(kubeConfig string) (*k8sAPI, error) {
	if kubeConfig != "" {
		return parseKubeConfig(kubeConfig)
	}
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	tok, err := os.ReadFile(filepath.Join(k8sServiceAccountDir, "token"))
	if host == "" || port == "" || err != nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca, err := os.ReadFile(filepath.Join(k8sServiceAccountDir, "ca.crt")); err == nil {
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AppendCertsFromPEM(ca)
	}
	return &k8sAPI{server: "https://" + strings.Trim(host, "[]") + ":" + port, token: strings.TrimSpace(string(tok)),
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}}, nil
}

func parseKubeConfig(path string) (*k8sAPI, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kc struct {
		CurrentContext string `yaml:"current-context"`
		Contexts       []struct {
			Name    string `yaml:"name"`
			Context struct {
				Cluster string `yaml:"cluster"`
				User    string `yaml:"user"`
			} `yaml:"context"`
		} `yaml:"contexts"`
		Clusters []struct {
			Name    string `yaml:"name"`
			Cluster struct {
				Server   string `yaml:"server"`
				CAData   string `yaml:"certificate-authority-data"`
				CA       string `yaml:"certificate-authority"`
				Insecure bool   `yaml:"insecure-skip-tls-verify"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
		Users []struct {
			Name string `yaml:"name"`
			User struct {
				Token     string `yaml:"token"`
				CertData  string `yaml:"client-certificate-data"`
				KeyData   string `yaml:"client-key-data"`
				Cert      string `yaml:"client-certificate"`
				Key       string `yaml:"client-key"`
				TokenFile string `yaml:"tokenFile"`
			} `yaml:"user"`
		} `yaml:"users"`
	}
	if err := yaml.Unmarshal(b, &kc); err != nil {
		return nil, err
	}
	ctxName := kc.CurrentContext
	var clusterName, userName string
	for _, c := range kc.Contexts {
		if c.Name == ctxName || (ctxName == "" && len(kc.Contexts) == 1) {
			clusterName, userName = c.Context.Cluster, c.Context.User
		}
	}
	if clusterName == "" {
		return nil, fmt.Errorf("%s: no context %q", path, ctxName)
	}
	api := &k8sAPI{}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	found := false
	for _, c := range kc.Clusters {
		if c.Name != clusterName {
			continue
		}
		found = true
		api.server = strings.TrimRight(c.Cluster.Server, "/")
		ca := []byte(nil)
		if c.Cluster.CAData != "" {
			if ca, err = base64.StdEncoding.DecodeString(c.Cluster.CAData); err != nil {
				return nil, fmt.Errorf("%s: certificate-authority-data: %v", path, err)
			}
		} else if c.Cluster.CA != "" {
			if ca, err = os.ReadFile(c.Cluster.CA); err != nil {
				return nil, err
			}
		}
		if ca != nil {
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(ca) {
				return nil, fmt.Errorf("%s: no certificate in the certificate authority", path)
			}
		}
		cfg.InsecureSkipVerify = c.Cluster.Insecure
	}
	if !found || api.server == "" {
		return nil, fmt.Errorf("%s: no server for cluster %q", path, clusterName)
	}
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		api.token = u.User.Token
		if u.User.TokenFile != "" {
			t, err := os.ReadFile(u.User.TokenFile)
			if err != nil {
				return nil, err
			}
			api.token = strings.TrimSpace(string(t))
		}
		certPEM, keyPEM := []byte(nil), []byte(nil)
		if u.User.CertData != "" {
			certPEM, _ = base64.StdEncoding.DecodeString(u.User.CertData)
			keyPEM, _ = base64.StdEncoding.DecodeString(u.User.KeyData)
		} else if u.User.Cert != "" {
			certPEM, _ = os.ReadFile(u.User.Cert)
			keyPEM, _ = os.ReadFile(u.User.Key)
		}
		if certPEM != nil {
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				return nil, fmt.Errorf("%s: client certificate: %v", path, err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
	}
	api.client = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}, Timeout: 10 * time.Second}
	return api, nil
}

func sharedK8sWatcher(api *k8sAPI, path string, period, cleanup time.Duration, o k8sOpts) *k8sWatcher {
	k8sMu.Lock()
	defer k8sMu.Unlock()
	key := api.server + path + fmt.Sprintf("%v", o)
	if w, ok := k8sWatchers[key]; ok {
		return w
	}
	w := &k8sWatcher{index: map[string]map[string]any{}, polled: make(chan struct{}), api: api, path: path, period: period, cleanup: cleanup, opts: o,
		pods: map[string]*k8sPod{}, lastPods: map[string]*k8sPod{}, gone: map[string]time.Time{}}
	k8sWatchers[key] = w
	go w.loop()
	return w
}

func (w *k8sWatcher) loop() {
	warned := false
	for first := true; ; first = false {
		rv, err := w.list()
		switch {
		case err != nil && !warned:
			slog.Warn("add_kubernetes_metadata: cannot list pods; events go on without kubernetes metadata", "server", w.api.server, "error", err)
			warned = true
		case err == nil && warned:
			slog.Info("add_kubernetes_metadata: listing pods again", "server", w.api.server)
			warned = false
		}
		if first {
			close(w.polled)
		}
		if err != nil {
			time.Sleep(min(w.period, 10*time.Second))
			continue
		}
		// Follow changes until the next full list (sync_period), as Beats'
		// watcher does; a watch that fails falls back to listing.
		if err := w.watch(rv); err != nil {
			time.Sleep(time.Second)
		}
	}
}

type k8sPod struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		UID         string            `json:"uid"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		NodeName   string `json:"nodeName"`
		Containers []struct {
			Name  string `json:"name"`
			Image string `json:"image"`
			Ports []struct {
				ContainerPort int `json:"containerPort"`
			} `json:"ports"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		PodIP             string `json:"podIP"`
		ContainerStatuses []struct {
			Name        string `json:"name"`
			ContainerID string `json:"containerID"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

func (w *k8sWatcher) request(ctx context.Context, path string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.api.server+path, nil)
	if err != nil {
		return nil, err
	}
	if w.api.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.api.token)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// list reads every pod and rebuilds the index; it returns the list's
// resourceVersion for the watch.
func (w *k8sWatcher) list() (string, error) {
	req, err := w.request(context.Background(), w.path)
	if err != nil {
		return "", err
	}
	res, err := w.api.client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: HTTP %d", w.path, res.StatusCode)
	}
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []k8sPod `json:"items"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 256<<20)).Decode(&list); err != nil {
		return "", fmt.Errorf("GET %s: %v", w.path, err)
	}
	pods := make(map[string]*k8sPod, len(list.Items))
	for i := range list.Items {
		p := &list.Items[i]
		pods[p.Metadata.Namespace+"/"+p.Metadata.Name] = p
	}
	w.pods = pods // pods gone since the last list go with it
	clear(w.lastPods)
	clear(w.gone)
	w.reindex()
	return list.Metadata.ResourceVersion, nil
}

// watch applies pod changes from resourceVersion rv until sync_period
// ends or the stream breaks.
func (w *k8sWatcher) watch(rv string) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.period)
	defer cancel()
	sep := "?"
	if strings.Contains(w.path, "?") {
		sep = "&"
	}
	q := url.Values{"watch": {"1"}, "resourceVersion": {rv}, "allowWatchBookmarks": {"true"},
		"timeoutSeconds": {strconv.Itoa(int(w.period.Seconds()) + 1)}}
	req, err := w.request(ctx, w.path+sep+q.Encode())
	if err != nil {
		return err
	}
	res, err := (&http.Client{Transport: w.api.client.Transport}).Do(req) // no client timeout: a watch is long
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("watch: HTTP %d", res.StatusCode)
	}
	dec := json.NewDecoder(res.Body)
	for {
		var ev struct {
			Type   string `json:"type"`
			Object k8sPod `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil // sync_period over, or the server ended the watch: list again
			}
			return err
		}
		key := ev.Object.Metadata.Namespace + "/" + ev.Object.Metadata.Name
		switch ev.Type {
		case "ADDED", "MODIFIED":
			p := ev.Object
			w.pods[key] = &p
		case "DELETED":
			delete(w.pods, key) // (cleanup_timeout: kept until the next list)
			w.gone[key] = time.Now()
		case "BOOKMARK":
			w.touch()
			continue
		case "ERROR":
			return fmt.Errorf("watch: the server ended it (resourceVersion too old?)")
		default:
			continue
		}
		w.reindex()
	}
}

// reindex rebuilds the lookup index from the pods (and the pods deleted
// less than cleanup_timeout ago, whose last events may still come).
func (w *k8sWatcher) reindex() {
	idx := map[string]map[string]any{}
	now := time.Now()
	for key, t := range w.gone {
		if now.Sub(t) > w.cleanup {
			delete(w.gone, key)
			delete(w.lastPods, key)
		}
	}
	for key, p := range w.lastPods {
		if _, live := w.pods[key]; !live {
			if _, recent := w.gone[key]; recent {
				w.indexPod(idx, p)
			}
		}
	}
	for _, p := range w.pods {
		w.indexPod(idx, p)
	}
	for key, p := range w.pods {
		w.lastPods[key] = p
	}
	w.mu.Lock()
	w.index = idx
	w.lastOK = now
	w.mu.Unlock()
}

func (w *k8sWatcher) touch() {
	w.mu.Lock()
	w.lastOK = time.Now()
	w.mu.Unlock()
}

func (w *k8sWatcher) indexPod(idx map[string]map[string]any, p *k8sPod) {
	base := map[string]any{
		"pod":       map[string]any{"name": p.Metadata.Name, "uid": p.Metadata.UID},
		"namespace": p.Metadata.Namespace,
	}
	if p.Status.PodIP != "" {
		base["pod"].(map[string]any)["ip"] = p.Status.PodIP
	}
	if p.Spec.NodeName != "" {
		base["node"] = map[string]any{"name": p.Spec.NodeName}
	}
	if l := w.labels(p.Metadata.Labels); len(l) > 0 {
		base["labels"] = l
	}
	if a := w.annotations(p.Metadata.Annotations); len(a) > 0 {
		base["annotations"] = a
	}
	o := w.opts
	if o.indexers["ip_port"] && p.Status.PodIP != "" {
		idx[p.Status.PodIP] = base
		for _, c := range p.Spec.Containers {
			withC := deepCopy(base).(map[string]any)
			withC["container"] = map[string]any{"name": c.Name, "image": c.Image}
			for _, port := range c.Ports {
				idx[p.Status.PodIP+":"+strconv.Itoa(port.ContainerPort)] = withC
			}
		}
	}
	if o.indexers["pod_name"] {
		idx[p.Metadata.Namespace+"/"+p.Metadata.Name] = base
	}
	if o.indexers["pod_uid"] && p.Metadata.UID != "" {
		idx[p.Metadata.UID] = base
	}
	if o.indexers["container"] {
		images := map[string]string{}
		for _, c := range p.Spec.Containers {
			images[c.Name] = c.Image
		}
		for _, cs := range p.Status.ContainerStatuses {
			id := cs.ContainerID
			if i := strings.Index(id, "://"); i >= 0 {
				id = id[i+3:] // docker://, containerd://, cri-o://
			}
			if id == "" {
				continue
			}
			withC := deepCopy(base).(map[string]any)
			withC["container"] = map[string]any{"name": cs.Name, "image": images[cs.Name]}
			idx[id] = withC
		}
	}
}

func (w *k8sWatcher) labels(in map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		if len(w.opts.includeLabels) > 0 && !contains(w.opts.includeLabels, k) {
			continue
		}
		if contains(w.opts.excludeLabels, k) {
			continue
		}
		if w.opts.dedotLabels {
			k = strings.ReplaceAll(k, ".", "_")
		}
		out[k] = v
	}
	return out
}

// annotations: only include_annotations are added, as in Beats.
func (w *k8sWatcher) annotations(in map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		if !contains(w.opts.includeAnnotations, k) {
			continue
		}
		if w.opts.dedotAnnotations {
			k = strings.ReplaceAll(k, ".", "_")
		}
		out[k] = v
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func (p *k8sProc) run(doc map[string]any) (bool, error) {
	p.w.mu.RLock()
	if len(p.w.index) == 0 {
		p.w.mu.RUnlock() // nothing listed, or the list is too old to trust
		return false, nil
	}
	var meta map[string]any
	for _, m := range p.matchers {
		for _, k := range m(doc) {
			if meta = p.w.index[k]; meta != nil {
				break
			}
		}
		if meta != nil {
			break
		}
	}
	p.w.mu.RUnlock()
	if meta == nil {
		return false, nil
	}
	cur, _ := doc["kubernetes"].(map[string]any)
	if cur == nil {
		doc["kubernetes"] = deepCopy(meta)
		return false, nil
	}
	deepMerge(cur, meta)
	return false, nil
}

package processors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// add_docker_metadata: {host: unix:///var/run/docker.sock, match_fields,
// match_pids: [process.pid, process.parent.pid], match_source: true,
// match_source_index: 4, match_short_id: false, cleanup_timeout: 60s,
// labels.dedot: true, ssl.*}.
// Adds container.{id, name, image.name, labels} for events whose
// match_fields hold a container ID, whose PIDs run in a container, or
// whose log.file.path is a container's log.
//
// The Docker API is polled in the background (one poller per host for the
// whole process); events only read its last answer. When Docker is not
// reachable the processor logs it and leaves events as they are: it never
// fails a stream.

func init() { register("add_docker_metadata", newAddDockerMetadata) }

type dockerContainer struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	Image  string            `json:"Image"`
	Labels map[string]string `json:"Labels"`
	gone   time.Time         // when it was last missing from the list
}

type dockerWatcher struct {
	mu      sync.RWMutex
	byID    map[string]*dockerContainer
	ok      bool
	client  *http.Client
	base    string
	cleanup time.Duration
	period  time.Duration
	polled  chan struct{} // closed after the first poll
}

var (
	dockerMu       sync.Mutex
	dockerWatchers = map[string]*dockerWatcher{}
	dockerPoll     = 5 * time.Second
)

type dockerProc struct {
	w           *dockerWatcher
	matchFields []string
	matchPids   []string
	matchSource bool
	sourceIndex int
	shortID     bool // match_short_id: a 12-character ID matches too
	dedot       bool
	proc        *procMeta // reads /proc/<pid>/cgroup
}

func newAddDockerMetadata(cfg map[string]any) (runFunc, error) {
	if err := checkKeysGroups(cfg, []string{"labels", "ssl"}, "host", "match_fields", "match_pids", "match_source", "match_source_index", "source_index", "cleanup_timeout", "match_short_id"); err != nil {
		return nil, err
	}
	host, err := stringOpt(cfg, "host", "unix:///var/run/docker.sock")
	if err != nil {
		return nil, err
	}
	p := &dockerProc{}
	if v, ok := cfg["match_fields"]; ok && v != nil {
		if p.matchFields, err = stringList(v); err != nil {
			return nil, fmt.Errorf("match_fields: %v", err)
		}
	}
	p.matchPids = []string{"process.pid", "process.parent.pid"}
	if v, ok := cfg["match_pids"]; ok && v != nil {
		if p.matchPids, err = stringList(v); err != nil {
			return nil, fmt.Errorf("match_pids: %v", err)
		}
	}
	if p.matchSource, err = boolOpt(cfg, "match_source", true); err != nil {
		return nil, err
	}
	if p.sourceIndex, err = intOpt(cfg, "source_index", 4); err != nil {
		return nil, err
	}
	if _, ok := cfg["match_source_index"]; ok { // Beats' name; source_index is its older spelling
		if p.sourceIndex, err = intOpt(cfg, "match_source_index", 4); err != nil {
			return nil, err
		}
	}
	if p.shortID, err = boolOpt(cfg, "match_short_id", false); err != nil {
		return nil, err
	}
	cleanup, err := durationOpt(cfg, "cleanup_timeout", 60*time.Second)
	if err != nil {
		return nil, err
	}
	labels, err := subOpts(cfg, "labels")
	if err != nil {
		return nil, err
	}
	if err := checkKeys(labels, "dedot"); err != nil {
		return nil, fmt.Errorf("labels: %v", err)
	}
	if p.dedot, err = boolOpt(labels, "dedot", true); err != nil {
		return nil, fmt.Errorf("labels.%v", err)
	}
	ssl, err := subOpts(cfg, "ssl")
	if err != nil {
		return nil, err
	}
	client, base, err := dockerClient(host, ssl)
	if err != nil {
		return nil, err
	}
	if p.proc, err = parseProcMeta(map[string]any{"match_pids": []any{"x"}}); err != nil {
		return nil, err
	}
	p.w = sharedDockerWatcher(host, client, base, cleanup)
	return p.run, nil
}

// dockerClient makes an HTTP client for unix://, tcp:// or http(s)://.
func dockerClient(host string, ssl map[string]any) (*http.Client, string, error) {
	if err := checkKeys(ssl, "certificate_authority", "certificate", "key", "enabled", "verification_mode"); err != nil {
		return nil, "", fmt.Errorf("ssl: %v", err)
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConns: 1}
	u, err := url.Parse(host)
	if err != nil {
		return nil, "", fmt.Errorf("host: %q is not a URL", host)
	}
	base := ""
	switch u.Scheme {
	case "unix":
		path := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		base = "http://docker"
	case "tcp", "http", "https":
		scheme := "http"
		if u.Scheme == "https" || len(ssl) > 0 {
			scheme = "https"
		}
		base = scheme + "://" + u.Host
	default:
		return nil, "", fmt.Errorf("host: scheme %q is not unix, tcp, http or https", u.Scheme)
	}
	if len(ssl) > 0 {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca, _ := ssl["certificate_authority"].(string); ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, "", fmt.Errorf("ssl.certificate_authority: %v", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, "", fmt.Errorf("ssl.certificate_authority: no certificate in %s", ca)
			}
		}
		cert, _ := ssl["certificate"].(string)
		key, _ := ssl["key"].(string)
		if cert != "" || key != "" {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, "", fmt.Errorf("ssl.certificate/key: %v", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		if mode, _ := ssl["verification_mode"].(string); mode == "none" {
			cfg.InsecureSkipVerify = true
		}
		tr.TLSClientConfig = cfg
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, base, nil
}

func sharedDockerWatcher(host string, client *http.Client, base string, cleanup time.Duration) *dockerWatcher {
	dockerMu.Lock()
	defer dockerMu.Unlock()
	if w, ok := dockerWatchers[host]; ok {
		return w
	}
	w := &dockerWatcher{byID: map[string]*dockerContainer{}, client: client, base: base, cleanup: cleanup, period: dockerPoll, polled: make(chan struct{})}
	dockerWatchers[host] = w
	go w.loop(host)
	return w
}

func (w *dockerWatcher) loop(host string) {
	warned := false
	for first := true; ; first = false {
		err := w.poll()
		switch {
		case err != nil && !warned:
			slog.Warn("add_docker_metadata: Docker is not reachable; events go on without container metadata", "host", host, "error", err)
			warned = true
		case err == nil && warned:
			slog.Info("add_docker_metadata: Docker reachable again", "host", host)
			warned = false
		}
		if first {
			close(w.polled)
		}
		time.Sleep(w.period)
	}
}

func (w *dockerWatcher) poll() error {
	res, err := w.client.Get(w.base + "/containers/json")
	if err != nil {
		w.setOK(false)
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		w.setOK(false)
		return fmt.Errorf("GET /containers/json: HTTP %d", res.StatusCode)
	}
	var list []*dockerContainer
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(&list); err != nil {
		w.setOK(false)
		return fmt.Errorf("GET /containers/json: %v", err)
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	for _, c := range list {
		if len(c.ID) < 12 {
			continue
		}
		seen[c.ID] = true
		w.byID[c.ID] = c
	}
	for id, c := range w.byID {
		if seen[id] {
			continue
		}
		if c.gone.IsZero() {
			c.gone = now // stopped: kept cleanup_timeout for its last events
		} else if now.Sub(c.gone) > w.cleanup {
			delete(w.byID, id)
		}
	}
	w.ok = true
	return nil
}

func (w *dockerWatcher) setOK(ok bool) {
	w.mu.Lock()
	w.ok = ok
	w.mu.Unlock()
}

func (w *dockerWatcher) get(id string, short bool) *dockerContainer {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if c, ok := w.byID[id]; ok {
		return c
	}
	if short && len(id) == 12 {
		for full, c := range w.byID {
			if strings.HasPrefix(full, id) {
				return c
			}
		}
	}
	return nil
}

func (p *dockerProc) run(doc map[string]any) (bool, error) {
	if p.w.empty() {
		return false, nil
	}
	var c *dockerContainer
	for _, f := range p.matchFields {
		if v, ok := getPath(doc, f); ok {
			if id, ok := v.(string); ok {
				if c = p.w.get(id, p.shortID); c != nil {
					break
				}
			}
		}
	}
	if c == nil && p.matchSource {
		if v, ok := getPath(doc, "log.file.path"); ok {
			if path, ok := v.(string); ok {
				parts := strings.FieldsFunc(path, func(r rune) bool { return r == '/' }) // empty parts dropped, as Beats does
				if p.sourceIndex < len(parts) {
					c = p.w.get(parts[p.sourceIndex], p.shortID)
				}
			}
		}
	}
	if c == nil {
		for _, f := range p.matchPids {
			if n, ok := intField(doc, f); ok && n > 0 && n < 1<<31 {
				if id := p.proc.containerID(fmt.Sprintf("%s/%d/cgroup", p.proc.root, n)); id != "" {
					if c = p.w.get(id, p.shortID); c != nil {
						break
					}
				}
			}
		}
	}
	if c == nil {
		return false, nil
	}
	meta := map[string]any{"id": c.ID}
	if len(c.Names) > 0 {
		meta["name"] = strings.TrimPrefix(c.Names[0], "/")
	}
	if c.Image != "" {
		meta["image"] = map[string]any{"name": c.Image}
	}
	if len(c.Labels) > 0 {
		l := map[string]any{}
		for k, v := range c.Labels {
			if p.dedot {
				k = strings.ReplaceAll(k, ".", "_")
			}
			l[k] = v
		}
		meta["labels"] = l
	}
	cur, _ := doc["container"].(map[string]any)
	if cur == nil {
		doc["container"] = meta
		return false, nil
	}
	deepMerge(cur, meta)
	return false, nil
}

func (w *dockerWatcher) empty() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return len(w.byID) == 0
}

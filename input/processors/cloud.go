package processors

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// add_cloud_metadata: {timeout: 3s, providers: [...], overwrite: false,
// proxy_url}. Adds cloud.* from the instance metadata service of the cloud
// the host runs in (AWS EC2, GCP, Azure, DigitalOcean, Alibaba ECS, Tencent
// CVM, Huawei, Hetzner, OpenStack Nova), with Beats' field names.
//
// The services are asked once, in the background, when the processor is
// built: events published before the answer (at most timeout) and on a host
// in no cloud go on without cloud.*, and a service that hangs never holds
// an event. The outcome is logged.

func init() {
	registerStatic("add_cloud_metadata", func(cfg map[string]any) (runFunc, staticFunc, error) {
		c, err := parseCloud(cfg)
		if err != nil {
			return nil, nil, err
		}
		return c.run, c.static, nil
	})
}

// cloudProvider fetches one provider's metadata from base.
type cloudProvider struct {
	name  string
	base  string
	fetch func(ctx context.Context, c *http.Client, base string) (map[string]any, error)
}

// Providers in the order an answer is preferred (AWS and others also
// serve OpenStack's paths, so OpenStack is last).
var cloudProviders = []cloudProvider{
	{"aws", "http://169.254.169.254", fetchAWS},
	{"gcp", "http://169.254.169.254", fetchGCP},
	{"azure", "http://169.254.169.254", fetchAzure},
	{"digitalocean", "http://169.254.169.254", fetchDigitalOcean},
	{"alibaba", "http://100.100.100.200", fetchAlibaba},
	{"tencent", "http://metadata.tencentyun.com", fetchTencent},
	{"huawei", "http://169.254.169.254", fetchHuawei},
	{"hetzner", "http://169.254.169.254", fetchHetzner},
	{"openstack", "http://169.254.169.254", fetchOpenStack},
	{"openstack-ssl", "https://169.254.169.254", fetchOpenStack},
}

// Names Beats accepts for the same providers.
var cloudAliases = map[string]string{"ec2": "aws", "ecs": "alibaba", "qcloud": "tencent", "nova": "openstack", "nova-ssl": "openstack-ssl"}

// cloudBaseOverride lets tests point providers at local fake services.
var cloudBaseOverride map[string]string

type cloudMeta struct {
	overwrite bool
	done      atomic.Bool
	fields    map[string]any // set once before done
	kvs       []staticKV     // fields encoded, set with them
	wait      chan struct{}
}

// static is the fast-path form: nothing to add until (and unless) a
// provider answered.
func (c *cloudMeta) static() ([]staticKV, bool) {
	if !c.done.Load() || c.fields == nil {
		return nil, true
	}
	return c.kvs, c.kvs != nil
}

func parseCloud(cfg map[string]any) (*cloudMeta, error) {
	if err := checkKeys(cfg, "timeout", "providers", "overwrite", "proxy_url", "proxy_disable"); err != nil {
		return nil, err
	}
	timeout, err := durationOpt(cfg, "timeout", 3*time.Second)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("timeout: must be positive")
	}
	overwrite, err := boolOpt(cfg, "overwrite", false)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	if v, ok := cfg["providers"]; ok && v != nil {
		list, err := stringList(v)
		if err != nil {
			return nil, fmt.Errorf("providers: %v", err)
		}
		for _, n := range list {
			if a, ok := cloudAliases[n]; ok {
				n = a
			}
			found := false
			for _, p := range cloudProviders {
				if p.name == n {
					found = true
				}
			}
			if !found {
				var names []string
				for _, p := range cloudProviders {
					names = append(names, p.name)
				}
				return nil, fmt.Errorf("providers: unknown provider %q (known: %s, and Beats' aliases ec2, ecs, qcloud, nova)", n, strings.Join(names, ", "))
			}
			want[n] = true
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // metadata services are link-local: never through the environment's proxy
	if s, err := stringOpt(cfg, "proxy_url", ""); err != nil {
		return nil, err
	} else if s != "" {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("proxy_url: %q is not a URL", s)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	if disable, err := boolOpt(cfg, "proxy_disable", false); err != nil {
		return nil, err
	} else if disable {
		tr.Proxy = nil
	}
	var provs []cloudProvider
	for _, p := range cloudProviders {
		if len(want) == 0 && p.name == "openstack-ssl" {
			continue // asked for by name only, as in Beats
		}
		if len(want) > 0 && !want[p.name] {
			continue
		}
		if b, ok := cloudBaseOverride[p.name]; ok {
			p.base = b
		}
		provs = append(provs, p)
	}
	c := &cloudMeta{overwrite: overwrite, wait: make(chan struct{})}
	go c.fetchAll(provs, &http.Client{Transport: tr, Timeout: timeout}, timeout)
	return c, nil
}

func (c *cloudMeta) fetchAll(provs []cloudProvider, client *http.Client, timeout time.Duration) {
	defer close(c.wait)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	results := make([]map[string]any, len(provs))
	errs := make([]error, len(provs))
	var wg sync.WaitGroup
	for i, p := range provs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = p.fetch(ctx, client, p.base)
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()
	for i, r := range results {
		if errs[i] == nil && r != nil {
			r["provider"] = provs[i].name
			if provs[i].name == "openstack-ssl" {
				r["provider"] = "openstack"
			}
			c.fields = map[string]any{"cloud": r}
			if kv, ok := staticValue("cloud", r); ok {
				c.kvs = []staticKV{kv}
			}
			c.done.Store(true)
			slog.Info("add_cloud_metadata: running in a cloud", "provider", r["provider"])
			return
		}
	}
	c.done.Store(true)
	slog.Info("add_cloud_metadata: no cloud metadata service answered; events get no cloud fields", "timeout", timeout)
}

func (c *cloudMeta) run(doc map[string]any) (bool, error) {
	if !c.done.Load() || c.fields == nil {
		return false, nil
	}
	if _, exists := doc["cloud"]; exists && !c.overwrite {
		return false, nil
	}
	doc["cloud"] = deepCopy(c.fields["cloud"])
	return false, nil
}

// metaGet fetches a URL with headers; anything but 200 is an error.
func metaGet(ctx context.Context, c *http.Client, method, u string, hdr map[string]string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", u, res.StatusCode)
	}
	return body, nil
}

func metaJSON(ctx context.Context, c *http.Client, u string, hdr map[string]string, v any) error {
	b, err := metaGet(ctx, c, http.MethodGet, u, hdr)
	if err != nil {
		return err
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v)
}

// metaTexts fetches several plain-text paths; every one must answer.
func metaTexts(ctx context.Context, c *http.Client, base string, paths ...string) ([]string, error) {
	out := make([]string, len(paths))
	for i, p := range paths {
		b, err := metaGet(ctx, c, http.MethodGet, base+p, nil)
		if err != nil {
			return nil, err
		}
		out[i] = strings.TrimSpace(string(b))
	}
	return out, nil
}

// cloudFields builds cloud.* from dotted keys, skipping empty values.
func cloudFields(kv map[string]string) map[string]any {
	m := map[string]any{}
	for k, v := range kv {
		if v != "" {
			_ = putPath(m, k, v)
		}
	}
	return m
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// AWS: IMDSv2 (a session token first), falling back to IMDSv1.
func fetchAWS(ctx context.Context, c *http.Client, base string) (map[string]any, error) {
	hdr := map[string]string{}
	if tok, err := metaGetPut(ctx, c, base+"/latest/api/token"); err == nil {
		hdr["X-aws-ec2-metadata-token"] = tok
	}
	var doc map[string]any
	if err := metaJSON(ctx, c, base+"/latest/dynamic/instance-identity/document", hdr, &doc); err != nil {
		return nil, err
	}
	if str(doc["instanceId"]) == "" {
		return nil, fmt.Errorf("aws: no instanceId")
	}
	return cloudFields(map[string]string{
		"instance.id": str(doc["instanceId"]), "machine.type": str(doc["instanceType"]),
		"region": str(doc["region"]), "availability_zone": str(doc["availabilityZone"]),
		"account.id": str(doc["accountId"]), "image.id": str(doc["imageId"]), "service.name": "EC2",
	}), nil
}

func metaGetPut(ctx context.Context, c *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "21600")
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token: HTTP %d", res.StatusCode)
	}
	return strings.TrimSpace(string(b)), nil
}

func fetchGCP(ctx context.Context, c *http.Client, base string) (map[string]any, error) {
	var doc struct {
		Instance map[string]any `json:"instance"`
		Project  map[string]any `json:"project"`
	}
	if err := metaJSON(ctx, c, base+"/computeMetadata/v1/?recursive=true&alt=json", map[string]string{"Metadata-Flavor": "Google"}, &doc); err != nil {
		return nil, err
	}
	if doc.Instance == nil || str(doc.Instance["id"]) == "" {
		return nil, fmt.Errorf("gcp: no instance id")
	}
	zone := lastSegment(str(doc.Instance["zone"]))
	region := zone
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		region = zone[:i]
	}
	project := str(doc.Project["projectId"])
	return cloudFields(map[string]string{
		"instance.id": str(doc.Instance["id"]), "instance.name": str(doc.Instance["name"]),
		"machine.type": lastSegment(str(doc.Instance["machineType"])), "availability_zone": zone,
		"region": region, "project.id": project, "account.id": project, "service.name": "GCE",
	}), nil
}

func fetchAzure(ctx context.Context, c *http.Client, base string) (map[string]any, error) {
	var doc map[string]any
	if err := metaJSON(ctx, c, base+"/metadata/instance/compute?api-version=2021-02-01", map[string]string{"Metadata": "true"}, &doc); err != nil {
		return nil, err
	}
	if str(doc["vmId"]) == "" {
		return nil, fmt.Errorf("azure: no vmId")
	}
	return cloudFields(map[string]string{
		"instance.id": str(doc["vmId"]), "instance.name": str(doc["name"]), "machine.type": str(doc["vmSize"]),
		"region": str(doc["location"]), "account.id": str(doc["subscriptionId"]), "service.name": "Virtual Machines",
	}), nil
}

func fetchDigitalOcean(ctx context.Context, c *http.Client, base string) (map[string]any, error) {
	var doc map[string]any
	if err := metaJSON(ctx, c, base+"/metadata/v1.json", nil, &doc); err != nil {
		return nil, err
	}
	if str(doc["droplet_id"]) == "" {
		return nil, fmt.Errorf("digitalocean: no droplet_id")
	}
	return cloudFields(map[string]string{"instance.id": str(doc["droplet_id"]), "region": str(doc["region"]), "service.name": "Droplets"}), nil
}

func fetchAlibaba(ctx context.Context, c *http.Client, base string) (map[string]any, error) {
	v, err := metaTexts(ctx, c, base, "/latest/meta-data/instance-id", "/latest/meta-data/region-id", "/latest/meta-data/zone-id")
	if err != nil {
		return nil, err
	}
	return cloudFields(map[string]string{"instance.id": v[0], "region": v[1], "availability_zone": v[2], "service.name": "ECS"}), nil
}

func fetchTencent(ctx context.Context, c *http.Client, base string) (map[string]any, error) {
	v, err := metaTexts(ctx, c, base, "/meta-data/instance-id", "/meta-data/placement/region", "/meta-data/placement/zone")
	if err != nil {
		return nil, err
	}
	return cloudFields(map[string]string{"instance.id": v[0], "region": v[1], "availability_zone": v[2], "service.name": "CVM"}), nil
}

func fetchHuawei(ctx context.Context, c *http.Client, base string) (map[string]any, error) {
	var doc map[string]any
	if err := metaJSON(ctx, c, base+"/openstack/latest/meta_data.json", nil, &doc); err != nil {
		return nil, err
	}
	if str(doc["uuid"]) == "" || str(doc["region_id"]) == "" {
		return nil, fmt.Errorf("huawei: no uuid and region_id")
	}
	return cloudFields(map[string]string{"instance.id": str(doc["uuid"]), "availability_zone": str(doc["availability_zone"]),
		"region": str(doc["region_id"])}), nil
}

func fetchHetzner(ctx context.Context, c *http.Client, base string) (map[string]any, error) {
	v, err := metaTexts(ctx, c, base, "/hetzner/v1/metadata/instance-id", "/hetzner/v1/metadata/hostname",
		"/hetzner/v1/metadata/availability-zone", "/hetzner/v1/metadata/region")
	if err != nil {
		return nil, err
	}
	return cloudFields(map[string]string{"instance.id": v[0], "instance.name": v[1], "availability_zone": v[2],
		"region": v[3], "service.name": "Cloud"}), nil
}

func fetchOpenStack(ctx context.Context, c *http.Client, base string) (map[string]any, error) {
	v, err := metaTexts(ctx, c, base, "/2009-04-04/meta-data/instance-id", "/2009-04-04/meta-data/hostname",
		"/2009-04-04/meta-data/instance-type", "/2009-04-04/meta-data/placement/availability-zone")
	if err != nil {
		return nil, err
	}
	return cloudFields(map[string]string{"instance.id": v[0], "instance.name": v[1], "machine.type": v[2],
		"availability_zone": v[3], "service.name": "Nova"}), nil
}

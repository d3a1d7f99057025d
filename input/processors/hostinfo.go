package processors

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hostInfo is what add_host_metadata and add_observer_metadata report about
// the local machine. It is read once per process: these facts do not change
// while we run (Beats caches them for cache.ttl).
type hostInfo struct {
	hostname, id, arch, kernel string
	osType, osName, osVersion  string
	osPlatform, osFamily       string
	osCodename                 string
	ips, macs                  []string
}

var (
	hostMu     sync.Mutex
	hostRead   time.Time
	localHost  hostInfo
	osRelease  = "/etc/os-release"
	machineIDs = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}
)

func readHostInfo() hostInfo {
	h := hostInfo{osType: runtime.GOOS, arch: runtime.GOARCH}
	h.hostname, _ = os.Hostname()
	if m, k := uname(); m != "" {
		h.arch, h.kernel = m, k
	}
	for _, p := range machineIDs {
		if b, err := os.ReadFile(p); err == nil {
			if id := strings.TrimSpace(string(b)); id != "" {
				h.id = id
				break
			}
		}
	}
	if f, err := os.Open(osRelease); err == nil {
		kv := map[string]string{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if ok {
				kv[k] = strings.Trim(v, `"'`)
			}
		}
		f.Close()
		h.osName, h.osVersion, h.osPlatform, h.osCodename = kv["NAME"], kv["VERSION"], kv["ID"], kv["VERSION_CODENAME"]
		// family: the distribution this one derives from (ubuntu -> debian).
		h.osFamily = kv["ID"]
		if like := strings.Fields(kv["ID_LIKE"]); len(like) > 0 {
			h.osFamily = like[len(like)-1]
		}
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, ifc := range ifs {
			if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 {
				continue
			}
			if len(ifc.HardwareAddr) == 6 {
				h.macs = append(h.macs, strings.ToUpper(strings.ReplaceAll(ifc.HardwareAddr.String(), ":", "-")))
			}
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					h.ips = append(h.ips, ipn.IP.String())
				}
			}
		}
	}
	return h
}

// fields renders the host facts as the object added under host or observer.
func (h *hostInfo) fields(observer, netinfo bool) map[string]any {
	m := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("hostname", h.hostname)
	if !observer {
		set("name", h.hostname)
		set("id", h.id)
	}
	set("architecture", h.arch)
	osm := map[string]any{}
	for k, v := range map[string]string{"type": h.osType, "name": h.osName, "version": h.osVersion,
		"platform": h.osPlatform, "family": h.osFamily, "kernel": h.kernel, "codename": h.osCodename} {
		if v != "" {
			osm[k] = v
		}
	}
	if len(osm) > 0 {
		m["os"] = osm
	}
	if netinfo {
		if len(h.ips) > 0 {
			m["ip"] = toAnyList(h.ips)
		}
		if len(h.macs) > 0 {
			m["mac"] = toAnyList(h.macs)
		}
	}
	return m
}

func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// netinfoOpt reads netinfo.enabled, given nested or dotted.
func netinfoOpt(cfg map[string]any) (bool, error) {
	n, err := subOpts(cfg, "netinfo")
	if err != nil {
		return false, err
	}
	if err := checkKeys(n, "enabled"); err != nil {
		return false, fmt.Errorf("netinfo: %v", err)
	}
	v, err := boolOpt(n, "enabled", true)
	if err != nil {
		return false, fmt.Errorf("netinfo.%v", err)
	}
	return v, nil
}

// add_host_metadata adds host.* (name, hostname, id, architecture, os.*,
// ip, mac) and add_observer_metadata observer.* (the same without name and
// id, for events forwarded from elsewhere). Options: netinfo.enabled
// (true), replace_fields (true: the object is replaced; false keeps the
// fields the event has), cache.ttl (5m: the facts are read again after it;
// negative reads them for every event) and geo.* (name, location
// "lat, lon", continent_name, country_iso_code, region_name,
// region_iso_code, city_name) into host.geo / observer.geo.

var geoKeys = []string{"name", "location", "continent_name", "country_iso_code", "region_name", "region_iso_code", "city_name"}

func parseGeo(cfg map[string]any) (map[string]any, error) {
	g, err := subOpts(cfg, "geo")
	if err != nil {
		return nil, err
	}
	if err := checkKeys(g, geoKeys...); err != nil {
		return nil, fmt.Errorf("geo: %v", err)
	}
	out := map[string]any{}
	for k, v := range g {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("geo.%s: must be a string, got %s", k, describe(v))
		}
		if k == "location" {
			lat, lon, ok := strings.Cut(s, ",")
			la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
			lo, err2 := strconv.ParseFloat(strings.TrimSpace(lon), 64)
			if !ok || err1 != nil || err2 != nil || la < -90 || la > 90 || lo < -180 || lo > 180 {
				return nil, fmt.Errorf("geo.location: %q is not \"latitude, longitude\"", s)
			}
			out["location"] = map[string]any{"lat": la, "lon": lo}
			continue
		}
		out[k] = s
	}
	return out, nil
}

// newMetadataStatic builds either processor with its fast-path form: the
// target object, encoded once per cache.ttl.
func newMetadataStatic(cfg map[string]any, target string, observer bool) (runFunc, staticFunc, error) {
	if err := checkKeysGroups(cfg, []string{"netinfo", "cache", "geo"}, "replace_fields"); err != nil {
		return nil, nil, err
	}
	netinfo, err := netinfoOpt(cfg)
	if err != nil {
		return nil, nil, err
	}
	replace, err := boolOpt(cfg, "replace_fields", true)
	if err != nil {
		return nil, nil, err
	}
	cache, err := subOpts(cfg, "cache")
	if err != nil {
		return nil, nil, err
	}
	if err := checkKeys(cache, "ttl"); err != nil {
		return nil, nil, fmt.Errorf("cache: %v", err)
	}
	ttl, err := durationOpt(cache, "ttl", 5*time.Minute)
	if err != nil {
		return nil, nil, fmt.Errorf("cache.%v", err)
	}
	geo, err := parseGeo(cfg)
	if err != nil {
		return nil, nil, err
	}
	var tmpl map[string]any // the facts as added, copied per event
	var expires time.Time
	var kvs []staticKV // tmpl encoded, for the fast path
	refresh := func() {
		if now := time.Now(); tmpl == nil || ttl < 0 || now.After(expires) {
			h := readHostInfoCached(ttl)
			tmpl = h.fields(observer, netinfo)
			if len(geo) > 0 {
				tmpl["geo"] = geo
			}
			expires = now.Add(ttl)
			kvs = nil
			if kv, ok := staticValue(target, tmpl); ok {
				kvs = []staticKV{kv}
			}
		}
	}
	static := func() ([]staticKV, bool) {
		refresh()
		return kvs, kvs != nil
	}
	return func(doc map[string]any) (bool, error) {
		refresh()
		cur, ok := doc[target].(map[string]any)
		if !ok || replace {
			doc[target] = deepCopy(tmpl)
			return false, nil
		}
		for k, v := range tmpl { // keep what the event already has
			if _, exists := cur[k]; !exists {
				cur[k] = deepCopy(v)
			}
		}
		return false, nil
	}, static, nil
}

// readHostInfoCached shares one reading of the host facts between the
// processors of the process for ttl.
func readHostInfoCached(ttl time.Duration) hostInfo {
	hostMu.Lock()
	defer hostMu.Unlock()
	if hostRead.IsZero() || ttl < 0 || time.Since(hostRead) > ttl {
		localHost = readHostInfo()
		hostRead = time.Now()
	}
	return localHost
}

func init() {
	registerStatic("add_host_metadata", func(cfg map[string]any) (runFunc, staticFunc, error) {
		return newMetadataStatic(cfg, "host", false)
	})
	registerStatic("add_observer_metadata", func(cfg map[string]any) (runFunc, staticFunc, error) {
		return newMetadataStatic(cfg, "observer", true)
	})
}

// HostFields reads the host facts now and returns them as add_host_metadata
// adds them under host (name, hostname, id, architecture, os.*, ip, mac):
// the document-wide host.* members are rendered from it.
func HostFields() map[string]any {
	h := readHostInfo()
	return h.fields(false, true)
}

package processors

import (
	"bufio"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
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
	hostOnce   sync.Once
	localHost  hostInfo
	osRelease  = "/etc/os-release"
	machineIDs = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}
)

func getHostInfo() *hostInfo {
	hostOnce.Do(func() { localHost = readHostInfo() })
	return &localHost
}

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
	if v, ok := cfg["netinfo.enabled"]; ok {
		return boolOpt(map[string]any{"netinfo.enabled": v}, "netinfo.enabled", true)
	}
	if n, ok := cfg["netinfo"].(map[string]any); ok {
		return boolOpt(n, "enabled", true)
	}
	return true, nil
}

// add_host_metadata: adds host.* (name, hostname, id, architecture, os.*,
// ip, mac). Accepted options: netinfo.enabled, replace_fields (default true:
// the host object is replaced; false keeps existing host fields), cache.ttl
// and geo (accepted, no effect: facts are read once, no geo configured).
func newAddHostMetadata(cfg map[string]any) (runFunc, error) {
	return newMetadata(cfg, "host", false)
}

// add_observer_metadata: adds observer.* (hostname, architecture, os.*, ip,
// mac), for events forwarded from elsewhere.
func newAddObserverMetadata(cfg map[string]any) (runFunc, error) {
	return newMetadata(cfg, "observer", true)
}

func newMetadata(cfg map[string]any, target string, observer bool) (runFunc, error) {
	if err := checkKeys(cfg, "netinfo", "netinfo.enabled", "replace_fields", "cache", "cache.ttl", "geo"); err != nil {
		return nil, err
	}
	netinfo, err := netinfoOpt(cfg)
	if err != nil {
		return nil, err
	}
	replace, err := boolOpt(cfg, "replace_fields", true)
	if err != nil {
		return nil, err
	}
	var tmpl map[string]any // built on first use, then copied per event
	return func(doc map[string]any) (bool, error) {
		if tmpl == nil {
			tmpl = getHostInfo().fields(observer, netinfo)
		}
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
	}, nil
}

func init() {
	register("add_host_metadata", newAddHostMetadata)
	register("add_observer_metadata", newAddObserverMetadata)
}

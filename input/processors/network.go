package processors

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Processors about network identities: community_id, add_network_direction,
// registered_domain. (dns is in dns.go.)

func init() {
	register("community_id", newCommunityID)
	register("add_network_direction", newAddNetworkDirection)
	register("registered_domain", newRegisteredDomain)
}

// community_id: {fields: {source_ip, source_port, destination_ip,
// destination_port, iana_number, transport, icmp_type, icmp_code}, target:
// network.community_id, seed: 0}. Community ID v1 with Beats' field
// defaults; an event without the needed fields is left as it is.
func newCommunityID(cfg map[string]any) (runFunc, error) {
	if err := checkKeysGroups(cfg, []string{"fields"}, "target", "seed"); err != nil {
		return nil, err
	}
	f := map[string]string{
		"source_ip": "source.ip", "source_port": "source.port",
		"destination_ip": "destination.ip", "destination_port": "destination.port",
		"iana_number": "network.iana_number", "transport": "network.transport",
		"icmp_type": "icmp.type", "icmp_code": "icmp.code",
	}
	fields, err := subOpts(cfg, "fields")
	if err != nil {
		return nil, err
	}
	for k, v := range fields {
		if _, ok := f[k]; !ok {
			return nil, fmt.Errorf("fields: unknown option %q (known: %s)", k, strings.Join(sortedKeys(f), ", "))
		}
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("fields.%s: must be a field name", k)
		}
		f[k] = s
	}
	target, err := stringOpt(cfg, "target", "network.community_id")
	if err != nil {
		return nil, err
	}
	if target == "" {
		return nil, fmt.Errorf("target: must not be empty")
	}
	seed, err := intOpt(cfg, "seed", 0)
	if err != nil {
		return nil, err
	}
	if seed < 0 || seed > 65535 {
		return nil, fmt.Errorf("seed: must be 0 to 65535, got %d", seed)
	}
	return func(doc map[string]any) (bool, error) {
		src, ok1 := ipField(doc, f["source_ip"])
		dst, ok2 := ipField(doc, f["destination_ip"])
		if !ok1 || !ok2 {
			return false, nil
		}
		proto, ok := protoNumber(doc, f["iana_number"], f["transport"])
		if !ok {
			return false, nil
		}
		var sp, dp int64
		var icmpType, icmpCode int64
		isICMP := proto == 1 || proto == 58
		if isICMP {
			var ok3, ok4 bool
			icmpType, ok3 = intField(doc, f["icmp_type"])
			icmpCode, ok4 = intField(doc, f["icmp_code"])
			if !ok3 || !ok4 {
				return false, nil
			}
		} else if proto == 6 || proto == 17 || proto == 132 {
			var ok3, ok4 bool
			sp, ok3 = intField(doc, f["source_port"])
			dp, ok4 = intField(doc, f["destination_port"])
			if !ok3 || !ok4 || sp < 0 || sp > 65535 || dp < 0 || dp > 65535 {
				return false, nil
			}
		}
		id := communityID(uint16(seed), src, dst, uint8(proto), uint16(sp), uint16(dp), uint8(icmpType), uint8(icmpCode), isICMP)
		return false, putPath(doc, target, id)
	}, nil
}

var ianaByName = map[string]int64{"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "ipv6-icmp": 58, "icmpv6": 58, "eigrp": 88, "ospf": 89, "pim": 103, "sctp": 132}

func protoNumber(doc map[string]any, ianaField, transportField string) (int64, bool) {
	if n, ok := intField(doc, ianaField); ok && n >= 0 && n < 256 {
		return n, true
	}
	if v, ok := getPath(doc, transportField); ok {
		if s, ok := v.(string); ok {
			n, ok := ianaByName[strings.ToLower(s)]
			return n, ok
		}
	}
	return 0, false
}

func ipField(doc map[string]any, field string) (netip.Addr, bool) {
	v, _ := getPath(doc, field)
	s, ok := v.(string)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err == nil
}

// intField reads a number, or a string holding one, as an integer.
func intField(doc map[string]any, field string) (int64, bool) {
	v, ok := getPath(doc, field)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	f, ok := toFloat(v)
	if !ok || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

// ICMP types with a counterpart, for the ordering of Community ID.
var cidICMP4 = map[uint8]uint8{8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
var cidICMP6 = map[uint8]uint8{128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 144: 145, 145: 144}

// communityID is Community ID v1 with a seed (the capture's own encoder
// has the seed fixed at 0).
func communityID(seed uint16, src, dst netip.Addr, proto uint8, sp, dp uint16, icmpType, icmpCode uint8, isICMP bool) string {
	oneWay := false
	if isICMP {
		sp, dp = uint16(icmpType), uint16(icmpCode)
		pairs := cidICMP4
		if proto == 58 {
			pairs = cidICMP6
		}
		if peer, ok := pairs[icmpType]; ok {
			dp = uint16(peer)
		} else {
			oneWay = true
		}
	}
	if !oneWay {
		if c := src.Compare(dst); c > 0 || (c == 0 && sp > dp) {
			src, dst, sp, dp = dst, src, dp, sp
		}
	}
	buf := binary.BigEndian.AppendUint16(nil, seed)
	if src.Is4() && dst.Is4() {
		a, b := src.As4(), dst.As4()
		buf = append(append(buf, a[:]...), b[:]...)
	} else {
		a, b := src.As16(), dst.As16()
		buf = append(append(buf, a[:]...), b[:]...)
	}
	buf = append(buf, proto, 0)
	if isICMP || proto == 6 || proto == 17 || proto == 132 {
		buf = binary.BigEndian.AppendUint16(buf, sp)
		buf = binary.BigEndian.AppendUint16(buf, dp)
	}
	sum := sha1.Sum(buf)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}

// add_network_direction: {source, destination, target, internal_networks}.
// Beats' perimeter rule: internal, outbound, inbound or external. An event
// without both addresses is left as it is.
func newAddNetworkDirection(cfg map[string]any) (runFunc, error) {
	if err := checkKeys(cfg, "source", "destination", "target", "internal_networks"); err != nil {
		return nil, err
	}
	var src, dst, target string
	for _, p := range []struct {
		key string
		dst *string
	}{{"source", &src}, {"destination", &dst}, {"target", &target}} {
		v, err := stringOpt(cfg, p.key, "")
		if err != nil {
			return nil, err
		}
		if v == "" {
			return nil, fmt.Errorf("%s: required, a field name", p.key)
		}
		*p.dst = v
	}
	specs, err := stringList(cfg["internal_networks"])
	if err != nil || len(specs) == 0 {
		return nil, fmt.Errorf("internal_networks: required, CIDRs or named networks (private, loopback, ...)")
	}
	nets, err := ParseNetworks(specs)
	if err != nil {
		return nil, fmt.Errorf("internal_networks: %v", err)
	}
	return func(doc map[string]any) (bool, error) {
		s, ok1 := ipField(doc, src)
		d, ok2 := ipField(doc, dst)
		if !ok1 || !ok2 {
			return false, nil
		}
		sIn, dIn := nets.Contains(s), nets.Contains(d)
		dir := "external"
		switch {
		case sIn && dIn:
			dir = "internal"
		case sIn:
			dir = "outbound"
		case dIn:
			dir = "inbound"
		}
		return false, putPath(doc, target, dir)
	}, nil
}

// registered_domain: {field, target_field, target_etld_field,
// target_subdomain_field, ignore_missing: false, ignore_failure: false}.
// The public suffix list is golang.org/x/net/publicsuffix's (ICANN and
// private sections, as Beats').
func newRegisteredDomain(cfg map[string]any) (runFunc, error) {
	o, err := fieldOptions(cfg, "field", "target_field", "target_etld_field", "target_subdomain_field", "ignore_missing", "ignore_failure", "id")
	if err != nil {
		return nil, err
	}
	field, err := stringOpt(cfg, "field", "")
	if err != nil || field == "" {
		return nil, fmt.Errorf("field: required, a field name")
	}
	target, err := stringOpt(cfg, "target_field", "")
	if err != nil || target == "" {
		return nil, fmt.Errorf("target_field: required, a field name")
	}
	etldField, err := stringOpt(cfg, "target_etld_field", "")
	if err != nil {
		return nil, err
	}
	subField, err := stringOpt(cfg, "target_subdomain_field", "")
	if err != nil {
		return nil, err
	}
	return func(doc map[string]any) (bool, error) {
		name, ok, err := o.str(doc, field)
		if !ok {
			return o.fail(err)
		}
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		rd, err := publicsuffix.EffectiveTLDPlusOne(name)
		if err != nil {
			return o.fail(fmt.Errorf("failed to get registered domain of %q: %v", name, err))
		}
		if err := putPath(doc, target, rd); err != nil {
			return o.fail(err)
		}
		if etldField != "" {
			etld, _ := publicsuffix.PublicSuffix(name)
			if err := putPath(doc, etldField, etld); err != nil {
				return o.fail(err)
			}
		}
		if sub := strings.TrimSuffix(strings.TrimSuffix(name, rd), "."); subField != "" && sub != "" {
			if err := putPath(doc, subField, sub); err != nil {
				return o.fail(err)
			}
		}
		return false, nil
	}, nil
}

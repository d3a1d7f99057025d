package ecsmap

import "net/netip"

// Meta is what a stream adds to each of its documents. It is built once per
// stream configuration, never per event.
type Meta struct {
	// Dataset is event.dataset: the protocol name standalone ("dns"), the
	// data stream's dataset under Elastic Agent ("network_traffic.dns").
	Dataset string
	// Tags are written as the root "tags" array.
	Tags []string
	// Extra is a pre-encoded run of top-level members without the outer
	// braces, e.g. `"data_stream":{...},"_conf":{...}`. It must not repeat
	// keys that Encode writes.
	Extra []byte
	// KeepNull writes null for absent optional fields (the keep_null option).
	KeepNull bool
}

// Encode writes ev as one JSON document into w (which it resets) and returns
// the bytes, valid until the next Reset of w.
//
// Encode owns these top-level keys: @timestamp, event, network, source,
// destination, client, server, related, status, type, method, query,
// resource, path, request, response, params, error, tags, process (root and
// per endpoint), flow (except for flow records, see Base.FlowRecord), and
// the members of Meta.Extra. Protocols write the rest.
func Encode(w *Writer, ev Event, meta *Meta) []byte {
	b := ev.EventBase()
	w.Reset()
	w.KeepNull = meta.KeepNull

	if !b.Timestamp.IsZero() {
		w.Time("@timestamp", b.Timestamp)
	} else {
		w.Time("@timestamp", b.Start)
	}
	w.Str("type", b.Type)
	w.OptStr("status", b.Status)
	w.OptStr("method", b.Method)
	w.OptStr("query", b.Query)
	w.OptStr("resource", b.Resource)
	w.OptStr("path", b.Path)
	w.OptStr("params", b.Params)
	if b.Request != "" {
		w.Str("request", b.Request)
	}
	if b.Response != "" {
		w.Str("response", b.Response)
	}

	writeEventGroup(w, b, meta)
	writeNetwork(w, b)
	if b.Interface != "" {
		// ECS: the interface the packet came in on, as the observer (the
		// capturing host) names it.
		w.Object("observer")
		w.Object("ingress")
		w.Object("interface")
		w.Str("name", b.Interface)
		w.End()
		w.End()
		w.End()
	}
	src := writeEndpoint(w, "source", &b.Source)
	dst := writeEndpoint(w, "destination", &b.Destination)
	if b.ClientServer {
		// client and server are the same objects as source and
		// destination: copy their bytes instead of encoding them again.
		copyMember(w, "client", src)
		copyMember(w, "server", dst)
	}
	writeRelated(w, b)
	// Root process: the server's process when it runs here, else the
	// client's (as Packetbeat does).
	if p := b.Destination.Process; p != nil {
		writeProcess(w, p)
	} else if p := b.Source.Process; p != nil {
		writeProcess(w, p)
	}
	if len(b.Notes) > 0 {
		w.Object("error")
		if len(b.Notes) == 1 {
			w.Str("message", b.Notes[0])
		} else {
			w.Strs("message", b.Notes)
		}
		w.End()
	}
	if len(meta.Tags) > 0 {
		w.Strs("tags", meta.Tags)
	}
	if !b.FlowRecord {
		writeFlowID(w, b)
	}

	ev.WriteFields(w)

	if len(meta.Extra) > 0 {
		if w.Buf[len(w.Buf)-1] != '{' {
			w.Buf = append(w.Buf, ',')
		}
		w.Buf = append(w.Buf, meta.Extra...)
	}
	return w.Finish()
}

var (
	defaultCategories = []string{"network"}
	defaultTypes      = []string{"connection", "protocol"}
)

func writeEventGroup(w *Writer, b *Base, meta *Meta) {
	w.Object("event")
	kind := b.Kind
	if kind == "" {
		kind = "event"
	}
	w.Str("kind", kind)
	cats := b.Categories
	if len(cats) == 0 {
		cats = defaultCategories
	}
	w.Strs("category", cats)
	types := b.Types
	if len(types) == 0 {
		types = defaultTypes
	}
	w.Strs("type", types)
	if meta.Dataset != "" {
		w.Str("dataset", meta.Dataset)
	}
	w.Time("start", b.Start)
	if !b.End.IsZero() {
		w.Time("end", b.End)
		w.Int("duration", b.End.Sub(b.Start).Nanoseconds())
	}
	if b.Action != "" {
		w.Str("action", b.Action)
	}
	if b.Outcome != "" {
		w.Str("outcome", b.Outcome)
	}
	if b.Reason != "" {
		w.Str("reason", b.Reason)
	}
	if b.HasSequence {
		w.Int("sequence", b.Sequence)
	}
	if b.Original != "" {
		w.Str("original", b.Original)
	}
	w.End()
}

func writeNetwork(w *Writer, b *Base) {
	w.Object("network")
	w.OptStr("type", b.NetworkType)
	w.OptStr("transport", b.Transport)
	proto := b.Protocol
	if proto == "" {
		proto = b.Type
	}
	if proto != "" && proto != "flow" {
		w.Str("protocol", proto)
	}
	// Plain ifs, not OptStr: keep_null must not add these to every protocol.
	if b.Application != "" {
		w.Str("application", b.Application)
	}
	if b.IANANumber != "" {
		w.Str("iana_number", b.IANANumber)
	}
	if b.Source.IP.IsValid() && b.Destination.IP.IsValid() {
		w.key("community_id")
		w.Buf = append(w.Buf, '"')
		w.Buf = w.appendCommunityID(w.Buf, communityIDKey{src: b.Source.IP, dst: b.Destination.IP,
			srcPort: b.Source.Port, dstPort: b.Destination.Port, proto: b.IPProtocol,
			icmpType: b.ICMPType, icmpCode: b.ICMPCode, isICMP: b.HasICMP})
		w.Buf = append(w.Buf, '"')
	}
	if total := b.Source.Bytes + b.Destination.Bytes; total > 0 {
		w.Int("bytes", total)
	}
	if total := b.Source.Packets + b.Destination.Packets; total > 0 {
		w.Int("packets", total)
	}
	if b.Direction != "" {
		w.Str("direction", b.Direction)
	} else {
		w.Str("direction", "unknown")
	}
	if b.ForwardedIP != "" {
		w.Str("forwarded_ip", b.ForwardedIP)
	}
	if len(b.VLANs) > 0 {
		w.Object("vlan")
		w.Str("id", itoa(b.VLANs[0]))
		w.End()
		if len(b.VLANs) > 1 {
			w.Object("inner")
			w.Object("vlan")
			w.Str("id", itoa(b.VLANs[1]))
			w.End()
			w.End()
		}
	}
	writeTunnel(w, b.Tunnel)
	if b.DetectedBy != "" {
		w.Str("detected_by", b.DetectedBy)
	}
	w.End()
}

func itoa(v uint16) string {
	var b [5]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return string(b[i:])
}

const hexUpper = "0123456789ABCDEF"

// span is a range of w.Buf.
type span struct{ start, end int }

// copyMember writes the value at v (written earlier into the same
// document) again under key k; an empty span writes nothing.
func copyMember(w *Writer, k string, v span) {
	if v.end == v.start {
		return
	}
	w.key(k)
	w.Buf = append(w.Buf, w.Buf[v.start:v.end]...)
}

// writeEndpoint writes the endpoint object under name and returns where its
// value lies in w.Buf (empty when the endpoint has no address).
func writeEndpoint(w *Writer, name string, e *Endpoint) span {
	if !e.IP.IsValid() {
		return span{}
	}
	w.key(name)
	start := len(w.Buf)
	w.Buf = append(w.Buf, '{')
	w.depth++
	w.IP("ip", e.IP)
	if e.Port != 0 {
		w.Uint("port", uint64(e.Port))
	}
	if e.Bytes > 0 {
		w.Int("bytes", e.Bytes)
	}
	if e.Packets > 0 {
		w.Int("packets", e.Packets)
	}
	if e.HasMAC {
		var mac [17]byte
		for i, c := range e.MAC {
			mac[i*3] = hexUpper[c>>4]
			mac[i*3+1] = hexUpper[c&0xf]
			if i < 5 {
				mac[i*3+2] = '-'
			}
		}
		w.key("mac")
		w.Buf = append(w.Buf, '"')
		w.Buf = append(w.Buf, mac[:]...)
		w.Buf = append(w.Buf, '"')
	}
	if e.Domain != "" {
		w.Str("domain", e.Domain)
	}
	if p := e.Process; p != nil {
		writeProcess(w, p)
	}
	w.End()
	return span{start, len(w.Buf)}
}

func writeRelated(w *Writer, b *Base) {
	var ips [2]netip.Addr
	n := 0
	if b.Source.IP.IsValid() {
		ips[n] = b.Source.IP
		n++
	}
	if b.Destination.IP.IsValid() && (n == 0 || b.Destination.IP != ips[0]) {
		ips[n] = b.Destination.IP
		n++
	}
	fwd := b.ForwardedIP
	for _, ip := range ips[:n] {
		if fwd != "" && ip.String() == fwd {
			fwd = ""
		}
	}
	if n == 0 && fwd == "" && len(b.RelatedIPs) == 0 && len(b.RelatedHosts) == 0 && len(b.RelatedUsers) == 0 {
		return
	}
	w.Object("related")
	if n > 0 || fwd != "" || len(b.RelatedIPs) > 0 {
		w.ArrayStart("ip")
		for _, ip := range ips[:n] {
			w.elem()
			w.Buf = append(w.Buf, '"')
			w.Buf = ip.AppendTo(w.Buf)
			w.Buf = append(w.Buf, '"')
		}
	extra:
		for i, ip := range b.RelatedIPs {
			ip = ip.Unmap()
			for _, seen := range ips[:n] {
				if seen == ip {
					continue extra
				}
			}
			for _, seen := range b.RelatedIPs[:i] {
				if seen.Unmap() == ip {
					continue extra
				}
			}
			w.elem()
			w.Buf = append(w.Buf, '"')
			w.Buf = ip.AppendTo(w.Buf)
			w.Buf = append(w.Buf, '"')
		}
		if fwd != "" {
			w.ElemStr(fwd)
		}
		w.ArrayEnd()
	}
	if len(b.RelatedHosts) > 0 {
		w.Strs("hosts", b.RelatedHosts)
	}
	if len(b.RelatedUsers) > 0 {
		w.Strs("user", b.RelatedUsers)
	}
	w.End()
}

func writeProcess(w *Writer, p *Process) {
	w.Object("process")
	w.Int("pid", p.PID)
	if p.PPID != 0 {
		w.Int("ppid", p.PPID)
	}
	w.OptStr("name", p.Name)
	w.OptStr("executable", p.Executable)
	w.Strs("args", p.Args)
	w.OptStr("working_directory", p.WorkingDir)
	if !p.Start.IsZero() {
		w.Time("start", p.Start)
	}
	w.End()
}

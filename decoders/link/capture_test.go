package link

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// The pcaps and the tshark dumps next to them come from
// _dev/capture/link.sh.
const pcapDir = "../../_dev/pcaps/link"

type frame struct {
	data []byte
	ci   gopacket.CaptureInfo
}

func readPcap(t testing.TB, name string) (layers.LinkType, []frame) {
	t.Helper()
	f, err := os.Open(filepath.Join(pcapDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames []frame
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		frames = append(frames, frame{data, ci})
	}
	return r.LinkType(), frames
}

// readTSV returns tshark's rows keyed by frame number, each a map from
// field name to value.
func readTSV(t testing.TB, name string) map[int]map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(pcapDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	header := strings.Split(sc.Text(), "\t")
	rows := map[int]map[string]string{}
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		row := map[string]string{}
		for i, c := range cols {
			if i < len(header) && c != "" {
				row[header[i]] = c
			}
		}
		n, _ := strconv.Atoi(row["frame.number"])
		rows[n] = row
	}
	return rows
}

func num(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("tshark value %q: %v", s, err)
	}
	return v
}

// expectedVLANs lists the tags tshark saw, outer first.
func expectedVLANs(t *testing.T, row map[string]string) []uint16 {
	var out []uint16
	for _, f := range []string{"ieee8021ad.id", "vlan.id"} {
		if row[f] == "" {
			continue
		}
		for _, v := range strings.Split(row[f], ",") {
			out = append(out, uint16(num(t, v)))
		}
	}
	return out
}

// TestCapturesMatchTshark decodes every frame of each capture and checks
// each field against tshark's dissection of the same frame.
func TestCapturesMatchTshark(t *testing.T) {
	for _, name := range []string{"eth_vlan_frag", "sll_any", "sll2_any"} {
		t.Run(name, func(t *testing.T) {
			lt, frames := readPcap(t, name+".pcap")
			rows := readTSV(t, name+".tshark.tsv")
			vlans := readTSV(t, name+".vlan.tsv")
			d, err := NewDecoder(lt, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var wantOK, lastFrags, tcpSeen, udpSeen, icmpSeen, v6Seen int
			var p Packet
			for i, fr := range frames {
				n := i + 1
				row := rows[n]
				ok, err := d.Decode(fr.data, fr.ci, &p)
				hasIP := row["ip.src"] != "" || row["ipv6.src"] != ""
				midFrag := row["ip.flags.mf"] == "1" || row["ipv6.fraghdr.more"] == "1"
				if !hasIP || midFrag {
					if ok {
						t.Errorf("frame %d: ok, want skipped (tshark: %v)", n, row)
					}
					continue
				}
				wantOK++
				if !ok {
					t.Errorf("frame %d: not decoded (err %v), tshark: %v", n, err, row)
					continue
				}
				if row["ip.frag_offset"] != "" && row["ip.frag_offset"] != "0" ||
					row["ipv6.fraghdr.offset"] != "" && row["ipv6.fraghdr.offset"] != "0" {
					lastFrags++
				}
				checkFrame(t, n, &p, row, expectedVLANs(t, vlans[n]))
				switch p.IPProto {
				case 6:
					tcpSeen++
				case 17:
					udpSeen++
				case 1, 58:
					icmpSeen++
				}
				if p.IPVersion == 6 {
					v6Seen++
				}
			}
			st := d.Stats()
			if int(st.Decoded) != wantOK {
				t.Errorf("Stats.Decoded = %d, want %d", st.Decoded, wantOK)
			}
			if int(st.FragmentsReassembled) != lastFrags || lastFrags == 0 {
				t.Errorf("FragmentsReassembled = %d, want %d (> 0)", st.FragmentsReassembled, lastFrags)
			}
			if st.FragmentsPending != 0 || st.FragmentsDropped != 0 {
				t.Errorf("fragments pending %d dropped %d, want 0", st.FragmentsPending, st.FragmentsDropped)
			}
			if tcpSeen == 0 || udpSeen == 0 || icmpSeen == 0 || v6Seen == 0 {
				t.Errorf("capture lacks variety: tcp %d udp %d icmp %d v6 %d", tcpSeen, udpSeen, icmpSeen, v6Seen)
			}
			t.Logf("%d frames, %d decoded, %d reassembled; stats %+v", len(frames), wantOK, lastFrags, st)
		})
	}
}

func checkFrame(t *testing.T, n int, p *Packet, row map[string]string, vlans []uint16) {
	t.Helper()
	errorf := func(field string, got, want any) {
		t.Errorf("frame %d: %s = %v, tshark %v", n, field, got, want)
	}
	src, dst := row["ip.src"], row["ip.dst"]
	if src == "" {
		src, dst = row["ipv6.src"], row["ipv6.dst"]
	}
	if p.SrcIP.String() != src || p.DstIP.String() != dst {
		errorf("src/dst", p.SrcIP.String()+" "+p.DstIP.String(), src+" "+dst)
	}
	if got := p.VLANList(); len(got) != len(vlans) || (len(vlans) > 0 && got[0] != vlans[0]) ||
		(len(vlans) > 1 && got[1] != vlans[1]) {
		errorf("vlans", got, vlans)
	}
	// The outermost transport: ICMP errors quote a UDP header tshark also
	// dissects, so ICMP wins.
	var proto uint8
	switch {
	case row["icmp.type"] != "":
		proto = 1
	case row["icmpv6.type"] != "":
		proto = 58
	case row["tcp.srcport"] != "":
		proto = 6
	case row["udp.srcport"] != "":
		proto = 17
	default:
		proto = p.IPProto // a transport tshark and we both leave alone
	}
	if p.IPProto != proto {
		errorf("proto", p.IPProto, proto)
	}
	if row["ip.proto"] != "" && uint64(p.IPProto) != num(t, row["ip.proto"]) {
		errorf("ip.proto", p.IPProto, row["ip.proto"])
	}
	switch p.IPProto {
	case 6:
		if uint64(p.SrcPort) != num(t, row["tcp.srcport"]) || uint64(p.DstPort) != num(t, row["tcp.dstport"]) {
			errorf("tcp ports", []uint16{p.SrcPort, p.DstPort}, row["tcp.srcport"]+" "+row["tcp.dstport"])
		}
		if uint64(p.Seq) != num(t, row["tcp.seq_raw"]) || uint64(p.Ack) != num(t, row["tcp.ack_raw"]) {
			errorf("seq/ack", []uint32{p.Seq, p.Ack}, row["tcp.seq_raw"]+" "+row["tcp.ack_raw"])
		}
		if uint64(p.Flags) != num(t, row["tcp.flags"])&0xff {
			errorf("flags", p.Flags, row["tcp.flags"])
		}
		if uint64(len(p.Payload)) != num(t, row["tcp.len"]) {
			errorf("tcp.len", len(p.Payload), row["tcp.len"])
		}
	case 17:
		if uint64(p.SrcPort) != num(t, row["udp.srcport"]) || uint64(p.DstPort) != num(t, row["udp.dstport"]) {
			errorf("udp ports", []uint16{p.SrcPort, p.DstPort}, row["udp.srcport"]+" "+row["udp.dstport"])
		}
		if uint64(len(p.Payload))+8 != num(t, row["udp.length"]) {
			errorf("udp.length-8", len(p.Payload), row["udp.length"])
		}
	case 1, 58:
		pre := "icmp"
		id, seq := "icmp.ident", "icmp.seq"
		if p.IPProto == 58 {
			pre, id, seq = "icmpv6", "icmpv6.echo.identifier", "icmpv6.echo.sequence_number"
		}
		if uint64(p.ICMPType) != num(t, row[pre+".type"]) || uint64(p.ICMPCode) != num(t, row[pre+".code"]) {
			errorf("icmp type/code", []uint8{p.ICMPType, p.ICMPCode}, row[pre+".type"]+" "+row[pre+".code"])
		}
		if row[id] != "" && (uint64(p.ICMPID) != num(t, row[id]) || uint64(p.ICMPSeq) != num(t, row[seq])) {
			errorf("icmp id/seq", []uint16{p.ICMPID, p.ICMPSeq}, row[id]+" "+row[seq])
		}
	}
}

// TestReassembledPayloads checks the bytes of the reassembled datagrams
// whose content the capture script chose: ping -s 3000 (v4 and v6) and a
// 3000-byte UDP datagram of 'x'.
func TestReassembledPayloads(t *testing.T) {
	lt, frames := readPcap(t, "eth_vlan_frag.pcap")
	d, _ := NewDecoder(lt, Options{})
	var p Packet
	var pings, pings6, udps int
	for _, fr := range frames {
		ok, _ := d.Decode(fr.data, fr.ci, &p)
		if !ok || p.IPLen <= 1280 {
			continue
		}
		switch {
		case p.IPProto == 1 && (p.ICMPType == 8 || p.ICMPType == 0):
			pings++
			if len(p.Payload) != 3000 || p.IPLen != 20+8+3000 {
				t.Errorf("ping payload %d bytes, IPLen %d", len(p.Payload), p.IPLen)
			}
		case p.IPProto == 58 && (p.ICMPType == 128 || p.ICMPType == 129):
			pings6++
			if len(p.Payload) != 3000 || p.IPLen != 40+8+3000 {
				t.Errorf("ping6 payload %d bytes, IPLen %d", len(p.Payload), p.IPLen)
			}
		case p.IPProto == 17:
			udps++
			if len(p.Payload) != 3000 || strings.Trim(string(p.Payload), "x") != "" {
				t.Errorf("udp payload %d bytes, not all 'x'", len(p.Payload))
			}
		}
	}
	if pings != 4 || pings6 != 4 || udps != 1 {
		t.Errorf("reassembled pings %d pings6 %d udp %d, want 4 4 1", pings, pings6, udps)
	}
}

// deriveFrames rewrites the untagged IP frames of an Ethernet capture into
// another link type's framing. Linux has no interface that captures as raw
// IP or BSD null/loop, so the packets are real, the framing is rebuilt.
func deriveFrames(frames []frame, lt layers.LinkType) (out []frame, src []frame) {
	for _, fr := range frames {
		et := uint16(fr.data[12])<<8 | uint16(fr.data[13])
		if et != 0x0800 && et != 0x86dd {
			continue
		}
		ip := fr.data[14:]
		var hdr []byte
		switch lt {
		case layers.LinkTypeNull: // host order (little endian here); Darwin's AF_INET6
			hdr = []byte{2, 0, 0, 0}
			if et == 0x86dd {
				hdr = []byte{30, 0, 0, 0}
			}
		case layers.LinkTypeLoop: // network order; FreeBSD's AF_INET6
			hdr = []byte{0, 0, 0, 2}
			if et == 0x86dd {
				hdr = []byte{0, 0, 0, 28}
			}
		}
		data := append(append([]byte(nil), hdr...), ip...)
		ci := fr.ci
		ci.CaptureLength, ci.Length = len(data), len(data)
		out = append(out, frame{data, ci})
		src = append(src, fr)
	}
	return out, src
}

func TestDerivedLinkTypes(t *testing.T) {
	_, frames := readPcap(t, "eth_vlan_frag.pcap")
	for _, lt := range []layers.LinkType{layers.LinkTypeRaw, linkTypeRawDLT12, linkTypeRawDLT14,
		layers.LinkTypeNull, layers.LinkTypeLoop} {
		derived, orig := deriveFrames(frames, lt)
		dEth, _ := NewDecoder(layers.LinkTypeEthernet, Options{})
		d, err := NewDecoder(lt, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var pe, pd Packet
		matched := 0
		for i := range derived {
			okE, _ := dEth.Decode(orig[i].data, orig[i].ci, &pe)
			okD, errD := d.Decode(derived[i].data, derived[i].ci, &pd)
			if okE != okD {
				t.Fatalf("%v frame %d: ok %v (err %v), ethernet ok %v", lt, i, okD, errD, okE)
			}
			if !okE {
				continue
			}
			matched++
			pe.SrcMAC, pe.DstMAC, pe.HasMAC, pe.WireLen = [6]byte{}, [6]byte{}, false, pd.WireLen
			if pe.SrcIP != pd.SrcIP || pe.IPProto != pd.IPProto || pe.Seq != pd.Seq ||
				pe.ICMPSeq != pd.ICMPSeq || string(pe.Payload) != string(pd.Payload) || pe.IPLen != pd.IPLen {
				t.Errorf("%v frame %d differs from its Ethernet original", lt, i)
			}
		}
		if matched < 40 {
			t.Errorf("%v: only %d frames decoded", lt, matched)
		}
	}
}

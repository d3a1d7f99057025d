package capture

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Socket filters for live captures. The kernel runs them before a packet
// is counted or copied into the ring, so what they reject costs no ring
// space and is not in the kernel's received count.

// skfAdOff is SKF_AD_OFF: loads at this offset and above read packet
// metadata (interface index, packet type, ...) instead of packet bytes.
const skfAdOff = 0xfffff000

// cookedHdrLen is the length of the Linux cooked (SLL) header filters are
// compiled against for SOCK_DGRAM sockets, which the kernel filter does not
// see (it starts at the network header).
const cookedHdrLen = 16

// outgoingFilter is the prefix that rejects outgoing packets: all of them
// (ignore_outgoing), or with loIndex > 0 only those sent on the loopback
// interface, which a socket on lo or on every interface would otherwise see
// twice (going out, then coming back in).
func outgoingFilter(all bool, loIndex int) []bpf.Instruction {
	if all {
		return []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipFalse: 1},
			bpf.RetConstant{Val: 0},
		}
	}
	if loIndex <= 0 {
		return nil
	}
	return []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(loIndex), SkipFalse: 3},
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	}
}

// kernelFilter assembles prefix followed by expr compiled for linkType
// (libpcap's compiler, so the syntax is tcpdump's). With no expression the
// program accepts every packet, truncated to snaplen. cooked says the
// socket is SOCK_DGRAM: the expression is compiled against the cooked
// header and its loads are moved to what the kernel sees (see uncook).
func kernelFilter(prefix []bpf.Instruction, expr string, linkType layers.LinkType, snaplen int, cooked bool) ([]bpf.RawInstruction, error) {
	return kernelFilterOn("", prefix, expr, linkType, snaplen, cooked)
}

// kernelFilterOn is kernelFilter for a socket on dev. An expression that
// tests VLAN tags is compiled on a live libpcap handle of dev: only then
// does libpcap test the tag where the kernel keeps it (packet metadata,
// not the frame the filter sees).
func kernelFilterOn(dev string, prefix []bpf.Instruction, expr string, linkType layers.LinkType, snaplen int, cooked bool) ([]bpf.RawInstruction, error) {
	return assembleFilter(prefix, expr, snaplen, cooked, func() ([]pcap.BPFInstruction, error) {
		if dev != "" && strings.Contains(expr, "vlan") {
			if insns, err := compileLive(dev, snaplen, expr); err == nil {
				return insns, nil
			}
		}
		return pcap.CompileBPFFilter(linkType, snaplen, expr)
	})
}

// compileLive compiles expr on a short-lived libpcap handle of dev, with
// the smallest ring libpcap accepts.
func compileLive(dev string, snaplen int, expr string) ([]pcap.BPFInstruction, error) {
	in, err := pcap.NewInactiveHandle(dev)
	if err != nil {
		return nil, err
	}
	defer in.CleanUp()
	_ = in.SetSnapLen(snaplen)
	_ = in.SetBufferSize(1 << 20)
	activateMu.Lock()
	h, err := in.Activate()
	activateMu.Unlock()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.CompileBPFFilter(expr)
}

func assembleFilter(prefix []bpf.Instruction, expr string, snaplen int, cooked bool, compile func() ([]pcap.BPFInstruction, error)) ([]bpf.RawInstruction, error) {
	if expr == "" {
		return bpf.Assemble(append(prefix[:len(prefix):len(prefix)], bpf.RetConstant{Val: uint32(snaplen)}))
	}
	out, err := bpf.Assemble(prefix)
	if err != nil {
		return nil, err
	}
	insns, err := compile()
	if err != nil {
		return nil, fmt.Errorf("BPF filter %q: %w", expr, err)
	}
	for _, in := range insns {
		ri := bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
		if cooked {
			if ri, err = uncook(ri); err != nil {
				return nil, fmt.Errorf("BPF filter %q: %w", expr, err)
			}
		}
		out = append(out, ri)
	}
	return out, nil
}

// attachFilter puts prog on the socket fd (the kernel swaps filters
// atomically).
func attachFilter(fd int, prog []bpf.RawInstruction) error {
	if len(prog) == 0 || len(prog) > 0xffff {
		return fmt.Errorf("filter of %d instructions", len(prog))
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
}

// uncook rewrites a load of a program compiled for the cooked header so it
// runs on a SOCK_DGRAM socket, as libpcap does for its own cooked captures:
// payload offsets lose the header, and the header's packet type and
// protocol fields become the matching metadata loads.
func uncook(ri bpf.RawInstruction) (bpf.RawInstruction, error) {
	const classLd, classLdx = 0x00, 0x01
	if class := ri.Op & 0x07; class != classLd && class != classLdx {
		return ri, nil
	}
	mode := ri.Op & 0xe0
	const modeAbs, modeInd, modeMsh = 0x20, 0x40, 0xa0
	if mode != modeAbs && mode != modeInd && mode != modeMsh {
		return ri, nil
	}
	switch {
	case ri.K >= skfAdOff:
	case ri.K >= cookedHdrLen:
		ri.K -= cookedHdrLen
	case mode == modeAbs && ri.K == 0:
		ri.K = skfAdOff + uint32(bpf.ExtType)
	case mode == modeAbs && ri.K == 14:
		ri.K = skfAdOff + uint32(bpf.ExtProto)
	default:
		return ri, fmt.Errorf("it reads byte %d of the cooked header, which a kernel socket filter cannot see", ri.K)
	}
	return ri, nil
}

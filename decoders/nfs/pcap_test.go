package nfs

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/nfs"

func replay(t *testing.T, name string, opts map[string]any) ([]map[string]any, *Protocol) {
	t.Helper()
	inst, col := protocoltest.New(t, "nfs", opts)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return col.Docs, inst.TCP.(*Protocol)
}

func str(v any) string {
	if f, ok := v.(float64); ok && f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func expect(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		if got := str(protocoltest.GetKeyOrPath(doc, k)); got != str(w) {
			t.Errorf("xid %v: %s = %q, want %q", protocoltest.GetKeyOrPath(doc, "rpc.xid"), k, got, str(w))
		}
	}
}

func TestV3Capture(t *testing.T) {
	docs, p := replay(t, "v3.pcap", nil)
	if len(docs) != 35 {
		t.Fatalf("%d events, want 35", len(docs))
	}
	var noent, write, other map[string]any
	for _, d := range docs {
		switch {
		case protocoltest.GetKeyOrPath(d, "nfs.status") == "NFSERR_NOENT":
			noent = d
		case protocoltest.GetKeyOrPath(d, "nfs.opcode") == "WRITE":
			write = d
		case str(protocoltest.GetKeyOrPath(d, "user.id")) == "1000":
			other = d
		}
	}
	if noent == nil || write == nil || other == nil {
		t.Fatal("missing the NOENT lookup, the WRITE or the uid 1000 calls")
	}
	// nfs-cat of a missing file: LOOKUP answered NFS3ERR_NOENT; Packetbeat
	// keeps status OK (the RPC succeeded) and names the status NFSERR_NOENT.
	expect(t, noent, map[string]any{
		"type": "nfs", "status": "OK", "nfs.version": 3, "nfs.opcode": "LOOKUP",
		"event.action": "nfs.LOOKUP", "network.protocol": "nfsv3", "network.transport": "tcp",
		"rpc.status": "success", "rpc.auth_flavor": "unix", "rpc.cred.machinename": "libnfs",
		"rpc.cred.uid": 0, "rpc.cred.gid": 0, "user.id": 0, "group.id": 0, "host.hostname": "libnfs",
		"source.domain": "libnfs", "destination.port": 2049, "nfs.tag": nil, "nfs.minor_version": nil,
	})
	// The 200 000-byte WRITE spans many segments: counted, never buffered.
	if n := protocoltest.GetKeyOrPath(write, "source.bytes").(float64); n < 200000 || n > 200400 {
		t.Errorf("WRITE call size %v", n)
	}
	expect(t, other, map[string]any{"group.id": 100, "rpc.cred.gid": 100, "rpc.cred.uid": 1000})
	s := p.Stats()
	if s.ParseErrors.Load() != 0 || s.UnmatchedReplies.Load() != 0 || s.NoReply.Load() != 0 {
		t.Errorf("stats: parse errors %d unmatched replies %d no reply %d", s.ParseErrors.Load(), s.UnmatchedReplies.Load(), s.NoReply.Load())
	}
	crossCheck(t, "v3.pcap", docs)
}

func TestV4Capture(t *testing.T) {
	docs, p := replay(t, "v4.pcap", nil)
	if len(docs) != 37 {
		t.Fatalf("%d events, want 37", len(docs))
	}
	n := 0
	for _, d := range docs {
		if protocoltest.GetKeyOrPath(d, "nfs.opcode") == "NULL" {
			continue
		}
		n++
		// libnfs speaks NFSv4.0 with an empty tag.
		expect(t, d, map[string]any{"nfs.version": 4, "nfs.minor_version": 0, "nfs.tag": "", "network.protocol": "nfsv4"})
		if protocoltest.GetKeyOrPath(d, "nfs.status") == "NFSERR_NOENT" {
			// PUTFH LOOKUP(missing.txt) ... ACCESS: ACCESS is the main op.
			expect(t, d, map[string]any{"nfs.opcode": "ACCESS", "event.action": "nfs.ACCESS", "status": "OK"})
		}
	}
	if n != 31 {
		t.Errorf("%d COMPOUND events, want 31", n)
	}
	if s := p.Stats(); s.ParseErrors.Load() != 0 || s.UnmatchedReplies.Load() != 0 {
		t.Errorf("stats: %d parse errors %d unmatched replies", s.ParseErrors.Load(), s.UnmatchedReplies.Load())
	}
	crossCheck(t, "v4.pcap", docs)
}

// firstClass: a test-side list of the v4 operations that end Packetbeat's
// main-operation scan (every named op but the plumbing ones).
var plumbing = map[int]bool{opGetattr: true, opGetfh: true, opLookup: true, opLookupp: true, opNverify: true,
	opPutfh: true, opPutpubfh: true, opPutrootfh: true, opRenew: true, opRestorefh: true, opSavefh: true,
	opSecinfo: true, opVerify: true, opSequence: true}

// crossCheck compares every event with tshark's RPC/NFS dissection of the
// same capture: xid, sizes (record mark lengths), procedure or operation
// list, credentials, and the reply's status.
func crossCheck(t *testing.T, name string, docs []map[string]any) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: skipping the cross-check")
		return
	}
	out, err := exec.Command("tshark", "-r", filepath.Join(pcapDir, name), "-Y", "rpc", "-T", "fields",
		"-E", "occurrence=a", "-E", "aggregator=,",
		"-e", "rpc.xid", "-e", "rpc.msgtyp", "-e", "rpc.fraglen", "-e", "rpc.programversion",
		"-e", "nfs.procedure_v3", "-e", "nfs.opcode", "-e", "rpc.auth.uid", "-e", "rpc.auth.gid",
		"-e", "rpc.auth.machinename", "-e", "rpc.auth.stamp", "-e", "nfs.status", "-e", "nfs.nfsstat4",
		"-e", "rpc.state_accept", "-e", "nfs.procedure_v4").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	exp := map[string]map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		first := func(i int) string { return strings.Split(f[i], ",")[0] }
		xid := strings.TrimPrefix(f[0], "0x")
		if exp[xid] == nil {
			exp[xid] = map[string]string{}
		}
		e := exp[xid]
		size := first(2)
		if f[1] == "0" {
			e["source.bytes"] = size
			e["rpc.cred.uid"], e["rpc.cred.gid"], e["rpc.cred.machinename"], e["rpc.cred.stamp"] = first(6), first(7), first(8), hexToDec(t, first(9))
			switch {
			case f[3] == "3":
				e["nfs.opcode"] = v3Opcode(atoi(t, f[4]))
			case f[3] == "4" && f[13] == "0":
				e["nfs.opcode"] = "NULL"
			case f[3] == "4":
				op := ""
				for _, o := range strings.Split(f[5], ",") {
					n := atoi(t, o)
					op, _ = v4OpName(n)
					if !plumbing[int(n)] {
						break
					}
				}
				e["nfs.opcode"] = op
			}
		} else {
			e["destination.bytes"] = size
			if first(12) == "0" {
				e["rpc.status"] = "success"
			}
			if s := first(10); s != "" {
				e["nfs.status"] = statusName(atoi(t, s))
			} else if s := first(11); s != "" {
				e["nfs.status"] = statusName(atoi(t, s))
			}
		}
	}
	for _, d := range docs {
		e := exp[str(protocoltest.GetKeyOrPath(d, "rpc.xid"))]
		if e == nil {
			t.Errorf("xid %v: not in tshark's output", protocoltest.GetKeyOrPath(d, "rpc.xid"))
			continue
		}
		for k, v := range e {
			if k == "nfs.status" && protocoltest.GetKeyOrPath(d, "nfs.opcode") == "NULL" {
				continue
			}
			if got := str(protocoltest.GetKeyOrPath(d, k)); got != v {
				t.Errorf("xid %v (%v): %s = %q, tshark %q", protocoltest.GetKeyOrPath(d, "rpc.xid"), protocoltest.GetKeyOrPath(d, "nfs.opcode"), k, got, v)
			}
		}
	}
}

func atoi(t *testing.T, s string) uint32 {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatalf("tshark number %q: %v", s, err)
	}
	return uint32(n)
}

// hexToDec: tshark shows the AUTH_UNIX stamp in hex.
func hexToDec(t *testing.T, s string) string {
	if s == "" {
		return ""
	}
	n, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		t.Fatalf("tshark stamp %q: %v", s, err)
	}
	return strconv.FormatUint(n, 10)
}

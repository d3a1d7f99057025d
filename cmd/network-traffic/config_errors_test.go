package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A stream with a bad option beside a valid one used to be dropped
// silently (exit 0, its ports gone from the BPF filter). Now it is fatal,
// naming the stream and option, unless -skip-bad-streams runs the rest.
func TestHalfValidConfigIsFatal(t *testing.T) {
	const valid = "  - {id: icmp-ok, type: icmp}\n"
	cases := []struct {
		name, stream, want string
	}{
		{"negative size", "  - {id: redis-bad, type: redis, max_message_size: -1}\n", "stream redis-bad (redis)"},
		{"overflowing size", "  - {id: redis-huge, type: redis, queue_max_bytes: 9223372036854775808}\n", "stream redis-huge (redis)"},
		{"negative flow timeout", "  - {id: flow-bad, type: flow, timeout: -5s}\n", "timeout: must be at least 1s"},
		{"misspelt option", "  - {id: http-typo, type: http, send_header: [Host]}\n", `did you mean "send_headers"`},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, "c"+string(rune('a'+i))+".yml")
			os.WriteFile(p, []byte("id: x\ntype: packet\nstreams:\n"+valid+c.stream), 0o644)
			_, stderr, code := runCLI(t, "-c", p, "-I", samplePcap, "-t")
			if code == 0 {
				t.Fatalf("exit 0 with a bad stream; stderr: %s", stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not mention %q", stderr, c.want)
			}
			docs, stderr, code := runCLI(t, "-c", p, "-I", samplePcap, "-t", "-skip-bad-streams")
			if code != 0 {
				t.Fatalf("-skip-bad-streams: exit %d: %s", code, stderr)
			}
			if len(docs) != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("-skip-bad-streams: %d docs (want the 2 icmp ones), stderr %q", len(docs), stderr)
			}
		})
	}
}

func TestInputLevelMistakesAreReported(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, config, want string }{
		{"misspelt processors", "procesors: []\n", `unknown input option "procesors" (did you mean "processors"?)`},
		{"bad namespace", "data_stream: {namespace: Bad/NS*}\n", `data_stream.namespace: "Bad/NS*" must be lowercase`},
		{"namespace with dash", "data_stream: {namespace: a-b}\n", `must not contain "-"`},
		{"misspelt interface option", "", `unknown interface option "bpf_filtr" (did you mean "bpf_filter"?)`},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, "i"+string(rune('a'+i))+".yml")
			stream := "  - {id: icmp-1, type: icmp}\n"
			if c.config == "" {
				stream = "  - {id: icmp-1, type: icmp, interface: {bpf_filtr: icmp}}\n"
			}
			os.WriteFile(p, []byte("id: x\ntype: packet\n"+c.config+"streams:\n"+stream), 0o644)
			_, stderr, code := runCLI(t, "-c", p, "-I", samplePcap, "-t")
			if code == 0 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q, want it to mention %q", code, stderr, c.want)
			}
		})
	}
}

package redis

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/network-traffic/network-traffic/decoders/protocol"
	"github.com/network-traffic/network-traffic/decoders/protocoltest"
)

const pcapDir = "../../_dev/pcaps/redis"

func replay(t *testing.T, name string, opts map[string]any) ([]map[string]any, *protocol.Instance) {
	t.Helper()
	stream := map[string]any{}
	for k, v := range opts {
		stream[k] = v
	}
	inst, col := protocoltest.New(t, "redis", stream)
	protocoltest.Replay(t, filepath.Join(pcapDir, name), inst)
	return col.Docs, inst
}

// get walks a dotted path through decoded JSON.
func get(doc map[string]any, path string) any {
	var cur any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

package agent

import (
	"encoding/json"
	"strings"

	"github.com/network-traffic/network-traffic/input/capture"
)

// Diagnostic hook names (files in the agent's diagnostics bundle).
const (
	diagConfig = "network-traffic-config"
	diagStats  = "network-traffic-stats"
	diagQueue  = "network-traffic-queue"
	diagOutput = "network-traffic-output"
)

// registerComponentDiagnostics adds the hooks that describe the component as
// a whole: the queue and the output.
func (m *manager) registerComponentDiagnostics() {
	m.c.RegisterDiagnosticHook(diagQueue, "publish queue depth and output counters",
		diagQueue+".json", "application/json", func() []byte {
			return jsonBytes(m.queueDiag())
		})
	m.c.RegisterDiagnosticHook(diagOutput, "output configuration (secrets redacted)",
		diagOutput+".json", "application/json", func() []byte {
			return jsonBytes(m.outputDiag())
		})
}

func (m *manager) queueDiag() map[string]any {
	d := map[string]any{
		"depth":           m.queue.Depth(),
		"capacity":        m.queue.Capacity(),
		"blocked_sends":   m.queue.Blocked(),
		"sent":            m.queue.Sent(),
		"publish_retries": m.queue.Failures(),
		"last_error":      m.queue.LastError(),
	}
	d["output"] = m.out.Stats()
	d["queue"] = m.queue.QueueState()
	return d
}

func (m *manager) outputDiag() map[string]any {
	if d, ok := m.outDiag.Load().(map[string]any); ok {
		return d
	}
	return map[string]any{"configured": false}
}

// registerDiagnostics adds the unit's hooks: its effective config and its
// counters.
func (iu *inputUnit) registerDiagnostics() {
	iu.unit.RegisterDiagnosticHook(diagConfig, "effective packet input configuration (secrets redacted)",
		diagConfig+".json", "application/json", func() []byte {
			return jsonBytes(iu.configDiag())
		})
	iu.unit.RegisterDiagnosticHook(diagStats, "capture statistics, per-protocol counters, stream states and queue depth",
		diagStats+".json", "application/json", func() []byte {
			return jsonBytes(iu.statsDiag())
		})
}

func (iu *inputUnit) configDiag() map[string]any {
	iu.mu.Lock()
	in := iu.in
	iu.mu.Unlock()
	if in == nil {
		return map[string]any{"error": "no valid configuration"}
	}
	type streamOut struct {
		ID         string         `json:"id"`
		Type       string         `json:"type"`
		Enabled    bool           `json:"enabled"`
		Target     string         `json:"target"`
		Tags       []string       `json:"tags,omitempty"`
		KeepNull   bool           `json:"keep_null,omitempty"`
		Options    map[string]any `json:"options,omitempty"`
		Processors any            `json:"processors,omitempty"`
		Error      string         `json:"error,omitempty"`
	}
	type captureOut struct {
		Interface any      `json:"interface"`
		Streams   []string `json:"streams"`
	}
	var streams []streamOut
	for _, s := range in.Streams {
		so := streamOut{ID: s.ID, Type: s.Type, Enabled: s.Enabled, Target: s.Target(), Tags: s.Tags,
			KeepNull: s.KeepNull, Options: redact(s.Options), Processors: redactAny(anySlice(s.Processors))}
		if s.Err != nil {
			so.Error = s.Err.Error()
		}
		streams = append(streams, so)
	}
	var caps []captureOut
	for _, c := range in.Captures {
		co := captureOut{Interface: c.Interface}
		for _, s := range c.Streams {
			co.Streams = append(co.Streams, s.ID)
		}
		caps = append(caps, co)
	}
	return map[string]any{
		"id": in.ID, "name": in.Name, "namespace": in.Namespace,
		"captures": caps, "streams": streams, "source": redact(in.Source),
	}
}

func (iu *inputUnit) statsDiag() map[string]any {
	iu.mu.Lock()
	w := iu.worker
	iu.mu.Unlock()
	d := map[string]any{"running": w != nil, "queue_depth": iu.m.queue.Depth(), "queue_capacity": iu.m.queue.Capacity(),
		"queue_undelivered": iu.m.queue.Undelivered()}
	if w != nil {
		st := w.Stats()
		d["capture"] = st
		d["protocols"] = st.Protocols
		states := map[string]capture.StreamState{}
		for k, v := range w.StreamStates() {
			states[k] = streamState(v)
		}
		d["streams"] = states
		if f, ok := w.(interface{ Filters() []string }); ok {
			d["bpf_filters"] = f.Filters()
		}
	}
	return d
}

func anySlice(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// secretKeys are option names whose values never leave the process.
var secretKeys = []string{"password", "passphrase", "api_key", "apikey", "token", "secret", "key", "authorization", "service_token"}

func isSecret(k string) bool {
	k = strings.ToLower(k)
	for _, s := range secretKeys {
		if k == s || strings.HasSuffix(k, "_"+s) || strings.HasSuffix(k, "."+s) {
			return true
		}
	}
	return false
}

// redact copies m, replacing secret values (at any depth) by "[REDACTED]".
func redact(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if isSecret(k) && v != nil && v != "" {
			out[k] = "[REDACTED]"
			continue
		}
		out[k] = redactAny(v)
	}
	return out
}

func redactAny(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return redact(x)
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = redactAny(it)
		}
		return out
	case string:
		// Inline PEM private keys and credentials in URLs.
		if strings.Contains(x, "PRIVATE KEY-----") {
			return "[REDACTED]"
		}
		if i := strings.Index(x, "://"); i > 0 {
			if at := strings.Index(x[i+3:], "@"); at > 0 && strings.Contains(x[i+3:i+3+at], ":") {
				return x[:i+3] + "[REDACTED]@" + x[i+3+at+1:]
			}
		}
	}
	return v
}

func jsonBytes(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return b
}

package main

import (
	"log/slog"
	"os"

	"github.com/network-traffic/network-traffic/input/agent"
	"github.com/network-traffic/network-traffic/input/output"
	"github.com/network-traffic/network-traffic/input/output/elasticsearch"
)

func init() {
	runAgentFn = agent.Main
	openConfigOutput = agent.NewOutput
	queueSection = agent.QueueSection
	openES = func(e *esFlags) (output.Output, error) {
		m := map[string]any{"type": "elasticsearch", "hosts": []any{e.url}}
		if e.apiKey != "" {
			m["api_key"] = e.apiKey
		}
		if e.username != "" {
			m["username"], m["password"] = e.username, e.password
		}
		if e.insecure {
			m["ssl"] = map[string]any{"verification_mode": "none"}
		}
		cfg, err := elasticsearch.ParseConfig(m)
		if err != nil {
			return nil, err
		}
		return elasticsearch.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}
}

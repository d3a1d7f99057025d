package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/network-traffic/network-traffic/input/output"
)

// esFlags configure a standalone Elasticsearch output.
type esFlags struct {
	url      string
	apiKey   string
	username string
	password string
	insecure bool
}

func (e *esFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.url, "es", "", "send documents to Elasticsearch at `url` (data streams logs-network_traffic.<protocol>-default)")
	fs.StringVar(&e.apiKey, "es-api-key", "", "Elasticsearch API `key` (id:key or encoded)")
	fs.StringVar(&e.username, "es-username", "", "Elasticsearch `user`")
	fs.StringVar(&e.password, "es-password", "", "Elasticsearch `password`")
	fs.BoolVar(&e.insecure, "es-insecure", false, "skip TLS verification for -es")
}

func (e *esFlags) enabled() bool { return e.url != "" }

// openES is set when the Elasticsearch output is linked in.
var openES func(e *esFlags) (output.Output, error)

func (e *esFlags) open() (output.Output, error) {
	if openES == nil {
		return nil, errors.New("this build has no Elasticsearch output")
	}
	return openES(e)
}

// openConfigOutput builds the output of a config file's `output:` section;
// set when the outputs are linked in.
var openConfigOutput func(cfg map[string]any, log *slog.Logger) (output.Output, error)

// queueSection turns the `output:` section's preset into the queue section
// it stands for (agent.QueueSection); set when the outputs are linked in.
var queueSection func(output map[string]any, queue any) (any, error)

// printOutputSummary says what the output confirmed: by the time it runs
// the queue is drained, so every document was acknowledged (published) or
// counted as failed.
func printOutputSummary(w io.Writer, name string, out output.Output) {
	sr, ok := out.(output.StatsReporter)
	if !ok {
		return
	}
	st := sr.Stats()
	fmt.Fprintf(w, "  output %s: %d documents acknowledged, %d failed, %d retried", name, st.Published, st.Failed, st.Retries)
	if st.LastError != "" {
		fmt.Fprintf(w, ", last error: %s", st.LastError)
	}
	fmt.Fprintln(w)
}

// runAgentFn is set when the Elastic Agent mode is linked in.
var runAgentFn func(args []string, stderr io.Writer) int

func runAgent(args []string, stderr io.Writer) int {
	if runAgentFn == nil {
		fmt.Fprintln(stderr, "network-traffic: this build has no Elastic Agent mode")
		return 1
	}
	return runAgentFn(args, stderr)
}

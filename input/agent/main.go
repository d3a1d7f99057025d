package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Main is the agent-mode entry point for cmd/network-traffic (runAgentFn):
// JSON log lines on stderr with the keys network-traffic.spec.yml declares
// (time, level, msg), the level following the units' log_level live, and
// SIGTERM/SIGINT stopping every unit cleanly. The caller must have imported
// the protocol decoders (decoders/all). args are accepted for compatibility
// with the spec's command.args and otherwise ignored.
func Main(args []string, stderr io.Writer) int {
	level := new(slog.LevelVar)
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := RunWith(ctx, os.Stdin, log, Options{Level: level}); err != nil {
		log.Error("agent mode", "error", err)
		return 1
	}
	return 0
}

package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestAllowOncePerPeriod(t *testing.T) {
	var l Limiter
	t0 := time.Unix(1000, 0)
	for i, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {500 * time.Millisecond, false}, {999 * time.Millisecond, false}, {time.Second, true}, {1500 * time.Millisecond, false}, {3 * time.Second, true}} {
		if got := l.allow(t0.Add(c.at), time.Second); got != c.want {
			t.Errorf("step %d at +%v: allow %v, want %v", i, c.at, got, c.want)
		}
	}
}

func TestWarnLogsTheFirst(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var l Limiter
	for range 100 {
		l.Warn(log, time.Hour, "retrying", "host", "h1")
	}
	if n := strings.Count(buf.String(), "retrying"); n != 1 {
		t.Errorf("%d lines for 100 warnings in one period:\n%s", n, buf.String())
	}
}

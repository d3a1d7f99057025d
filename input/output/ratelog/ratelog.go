// Package ratelog keeps an output's repeated warnings to one line per
// period: a bad topic, a mapping error or an outage would otherwise log once
// per document or per attempt.
package ratelog

import (
	"log/slog"
	"sync"
	"time"
)

// Limiter lets one warning through per period; the zero value is ready.
// Warnings in between are dropped, not queued: the next one that passes
// says the condition still holds.
type Limiter struct {
	mu   sync.Mutex
	last time.Time
}

// Warn logs msg on log unless a warning passed less than every ago.
func (l *Limiter) Warn(log *slog.Logger, every time.Duration, msg string, args ...any) {
	if l.allow(time.Now(), every) {
		log.Warn(msg, args...)
	}
}

func (l *Limiter) allow(now time.Time, every time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < every {
		return false
	}
	l.last = now
	return true
}

package notify

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
)

// A failure that repeats every second (a database that is down) is logged
// when it begins and then once a minute with the count, not at every
// retry; its end is logged once.
func TestQuietErrorsLogsAnOutageNotEveryRetry(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	fc := clock.NewFake(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	q := quietErrors{clock: fc}
	down := errors.New("connection refused")
	for range 90 { // 90 s of retries, one a second
		q.fail(l, "notify delivery failed; retrying", "err", down)
		fc.Advance(time.Second)
	}
	q.ok(l, "notify delivery works again")
	q.ok(l, "notify delivery works again") // nothing more to say
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines for 90 failures and a recovery, want 3 (begin, a minute on, end):\n%s", len(lines), buf.String())
	}
	for i, want := range []string{"level=ERROR msg=\"notify delivery failed; retrying\" err=\"connection refused\" failures=1", "failures=61", "level=INFO msg=\"notify delivery works again\" failures=90"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s, want %s", i+1, lines[i], want)
		}
	}
}

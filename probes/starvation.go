package probes

import (
	"context"
	"sync"
	"time"
)

// StarvationMeter tells how long probed itself was kept from running: its
// goroutines ready but given no CPU (too much work of its own, such as a
// flood of requests on the public listener, other processes on the host,
// or a long garbage collection pause). The scheduler reads it at the start
// and at the end of each run; only the difference of two readings means
// anything.
type StarvationMeter interface {
	// Stalled returns the total time probed was kept from running since
	// some fixed start; it never decreases.
	Stalled() time.Duration
}

// StarvedShare is the share of a run's timeout that probed must have been
// kept from running, during that run, for a run cut by its timeout to be
// probed's failure (probed_internal, reason starved) rather than the
// target's probe_timeout: a quarter.
const StarvedShare = 4 // stalled >= timeout / StarvedShare

// starved reports whether a run with the given timeout, during which probed
// was kept from running for stalled, was cut because of probed itself.
func starved(stalled, timeout time.Duration) bool {
	return timeout > 0 && stalled >= timeout/StarvedShare
}

// heartbeatPeriod is how often the Heartbeat wakes up: often enough that a
// quarter of a one-second timeout is many beats, rare enough to cost
// nothing (20 wake-ups a second).
const heartbeatPeriod = 50 * time.Millisecond

// Heartbeat is the StarvationMeter the scheduler uses by default: a
// goroutine that asks to wake up every period and adds up how late it
// actually woke. A goroutine that is late was ready and got no CPU, so the
// sum is how long probed's goroutines waited to run, sampled by one of them.
// It measures the real time (it is the measuring device); tests inject a
// StarvationMeter of their own instead.
type Heartbeat struct {
	period time.Duration

	mu   sync.Mutex
	late time.Duration // summed lateness of the beats so far
	next time.Time     // when the next beat is due; zero until Run starts
}

// NewHeartbeat returns a heartbeat waking every period (default 50ms); Run
// makes it beat.
func NewHeartbeat(period time.Duration) *Heartbeat {
	if period <= 0 {
		period = heartbeatPeriod
	}
	return &Heartbeat{period: period}
}

// Run beats until ctx ends. Once it has ended Stalled no longer grows.
func (h *Heartbeat) Run(ctx context.Context) {
	h.beat(time.Now())
	t := time.NewTimer(h.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			h.stop(time.Now())
			return
		case <-t.C:
			h.beat(time.Now())
			t.Reset(h.period)
		}
	}
}

// beat records a wake-up at now: its lateness against when it was due, and
// when the next one is due.
func (h *Heartbeat) beat(now time.Time) {
	h.mu.Lock()
	if !h.next.IsZero() && now.After(h.next) {
		h.late += now.Sub(h.next)
	}
	h.next = now.Add(h.period)
	h.mu.Unlock()
}

// stop records the lateness of the beat due (if overdue) and expects no
// more beats.
func (h *Heartbeat) stop(now time.Time) {
	h.beat(now)
	h.mu.Lock()
	h.next = time.Time{}
	h.mu.Unlock()
}

// Stalled returns the summed lateness, including that of a beat overdue
// now (a heartbeat that cannot run at all still shows the stall).
func (h *Heartbeat) Stalled() time.Duration { return h.stalledAt(time.Now()) }

func (h *Heartbeat) stalledAt(now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.late
	if !h.next.IsZero() && now.After(h.next) {
		d += now.Sub(h.next)
	}
	return d
}

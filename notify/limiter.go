package notify

import (
	"sync"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
)

// Limiter is a set of token buckets kept in memory, one per key (a client
// address, an e-mail address). Time comes from the clock, so tests move it.
// Its size is bounded: full buckets are forgotten first, and when every
// bucket is in use a new key is refused rather than memory grown.
type Limiter struct {
	clock   clock.Clock
	max     int
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter holding at most max keys (default 100,000).
func NewLimiter(c clock.Clock, max int) *Limiter {
	if max <= 0 {
		max = 100_000
	}
	return &Limiter{clock: c, max: max, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket under rate, reporting whether
// there was one.
func (l *Limiter) Allow(key string, rate config.RateLimit) bool {
	now := l.clock.Now()
	perSec := rate.PerHour / 3600
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.sweep(now, perSec, float64(rate.Burst))
			if len(l.buckets) >= l.max {
				return false
			}
		}
		b = &bucket{tokens: float64(rate.Burst), last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(float64(rate.Burst), b.tokens+el*perSec)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets buckets that have refilled: they hold no memory of abuse.
func (l *Limiter) sweep(now time.Time, perSec, burst float64) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*perSec >= burst {
			delete(l.buckets, k)
		}
	}
}

// Len is the number of keys held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

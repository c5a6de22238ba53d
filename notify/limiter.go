package notify

import (
	"container/list"
	"sync"

	"golang.org/x/time/rate"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
)

// Limiter is a set of token buckets (golang.org/x/time/rate), one per key (a
// client address, an e-mail address), kept in memory. Time comes from the
// clock, so tests move it. Its size is bounded: when the table is full, the
// key used least recently is forgotten to make room. A flood of new keys thus
// never refuses a newcomer; it can only make a key forgotten start again
// with a full bucket, which is why callers run their cheap checks (the
// proof of work, a token's form) before they charge a bucket.
type Limiter struct {
	clock clock.Clock
	max   int

	mu   sync.Mutex
	keys map[string]*list.Element // of *limited, in lru
	lru  list.List                // front: used most recently
}

type limited struct {
	key string
	lim *rate.Limiter
}

// NewLimiter returns a limiter holding at most max keys (default 100,000).
func NewLimiter(c clock.Clock, max int) *Limiter {
	if max <= 0 {
		max = 100_000
	}
	return &Limiter{clock: c, max: max, keys: map[string]*list.Element{}}
}

// Allow takes one token from key's bucket under r, reporting whether there
// was one. A bucket follows a change of r (a reload) from now on.
func (l *Limiter) Allow(key string, r config.RateLimit) bool {
	now := l.clock.Now()
	limit := rate.Limit(r.PerHour / 3600)
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.keys[key]; ok {
		l.lru.MoveToFront(e)
		lim := e.Value.(*limited).lim
		if lim.Limit() != limit || lim.Burst() != r.Burst {
			lim.SetLimitAt(now, limit)
			lim.SetBurstAt(now, r.Burst)
		}
		return lim.AllowN(now, 1)
	}
	if l.lru.Len() >= l.max {
		oldest := l.lru.Back()
		l.lru.Remove(oldest)
		delete(l.keys, oldest.Value.(*limited).key)
	}
	lim := rate.NewLimiter(limit, r.Burst)
	l.keys[key] = l.lru.PushFront(&limited{key: key, lim: lim})
	return lim.AllowN(now, 1)
}

// Len is the number of keys held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

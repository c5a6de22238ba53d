package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/probed/probed/internal/clock"
)

// Challenge errors: why a subscription request's proof of work was refused.
var (
	ErrChallengeInvalid  = errors.New("the form's challenge is invalid: reload the page")
	ErrChallengeExpired  = errors.New("the form's challenge expired: reload the page")
	ErrChallengeReused   = errors.New("the form's challenge was used already: reload the page")
	ErrChallengeUnsolved = errors.New("the form's proof of work is wrong")
	ErrChallengeTooEarly = errors.New("without JavaScript the form can be sent only a little while after it loaded: wait and send it again")
)

// Challenges issues and checks hashcash-style proofs of work: the server
// hands out a signed challenge (time, nonce, difficulty); the browser finds
// a counter such that SHA-256(challenge ":" counter) starts with that many
// zero bits. Nothing is stored per challenge until it is used; used ones are
// remembered until they expire so none is accepted twice.
//
// The memory of used challenges is bounded. When it is full of live ones (a
// flood), the oldest quarter, by issue time, is forgotten and every
// challenge issued no later than them is refused from then on as expired:
// none can be replayed, and a newcomer with a fresh challenge is let in
// rather than refused because of others.
type Challenges struct {
	key   []byte
	clock clock.Clock
	max   int

	mu    sync.Mutex
	used  map[string]usedChallenge
	floor time.Time // challenges issued at or before it are refused
}

type usedChallenge struct {
	issued, until time.Time // until: when it stops mattering
}

// NewChallenges returns a challenge issuer keyed with key.
func NewChallenges(key []byte, c clock.Clock) *Challenges {
	return &Challenges{key: key, clock: c, max: 100_000, used: map[string]usedChallenge{}}
}

func (c *Challenges) sign(payload []byte) []byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte("challenge\x00"))
	h.Write(payload)
	return h.Sum(nil)[:16]
}

// mac signs data for another purpose with the same key, domain-separated.
func (c *Challenges) mac(purpose, data string) []byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(purpose + "\x00"))
	h.Write([]byte(data))
	return h.Sum(nil)[:16]
}

// Issue returns a new challenge of a difficulty in bits.
func (c *Challenges) Issue(difficulty int) string {
	payload := make([]byte, 21)
	binary.BigEndian.PutUint64(payload, uint64(c.clock.Now().UnixMilli()))
	rand.Read(payload[8:20])
	payload[20] = byte(difficulty)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(c.sign(payload))
}

// Check accepts a challenge once: solved (solution is the counter) at the
// difficulty it was issued with, which must be at least minBits; or, with
// no solution, aged at least noJSWait (the fallback for browsers without
// JavaScript). A challenge older than ttl is refused.
func (c *Challenges) Check(challenge, solution string, minBits int, ttl, noJSWait time.Duration) error {
	p, m, ok := strings.Cut(challenge, ".")
	if !ok {
		return ErrChallengeInvalid
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if err1 != nil || err2 != nil || len(payload) != 21 || !hmac.Equal(mac, c.sign(payload)) {
		return ErrChallengeInvalid
	}
	issued := time.UnixMilli(int64(binary.BigEndian.Uint64(payload)))
	difficulty := int(payload[20])
	now := c.clock.Now()
	if now.Sub(issued) > ttl || issued.After(now.Add(time.Minute)) {
		return ErrChallengeExpired
	}
	if solution == "" {
		if now.Sub(issued) < noJSWait {
			return ErrChallengeTooEarly
		}
	} else {
		if difficulty < minBits {
			return ErrChallengeInvalid
		}
		if _, err := strconv.ParseUint(solution, 10, 64); err != nil || !Solves(challenge, solution, difficulty) {
			return ErrChallengeUnsolved
		}
	}
	return c.markUsed(challenge, issued, issued.Add(ttl), now)
}

func (c *Challenges) markUsed(challenge string, issued, until, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.used[challenge]; dup {
		return ErrChallengeReused
	}
	if !issued.After(c.floor) {
		return ErrChallengeExpired // forgotten in a flood: it might be a replay
	}
	if len(c.used) >= c.max {
		for k, u := range c.used {
			if now.After(u.until) {
				delete(c.used, k)
			}
		}
	}
	if len(c.used) >= c.max {
		// Every remembered challenge is live: forget the oldest quarter and
		// raise the floor past them, so none of them can come back.
		issuedAt := make([]time.Time, 0, len(c.used))
		for _, u := range c.used {
			issuedAt = append(issuedAt, u.issued)
		}
		slices.SortFunc(issuedAt, time.Time.Compare)
		c.floor = issuedAt[len(issuedAt)/4]
		for k, u := range c.used {
			if !u.issued.After(c.floor) {
				delete(c.used, k)
			}
		}
		if !issued.After(c.floor) {
			return ErrChallengeExpired
		}
	}
	c.used[challenge] = usedChallenge{issued: issued, until: until}
	return nil
}

// Solves reports whether SHA-256(challenge ":" solution) starts with
// difficulty zero bits.
func Solves(challenge, solution string, difficulty int) bool {
	sum := sha256.Sum256([]byte(challenge + ":" + solution))
	return leadingZeroBits(sum[:]) >= difficulty
}

func leadingZeroBits(b []byte) int {
	n := 0
	for _, x := range b {
		if x != 0 {
			return n + bits.LeadingZeros8(x)
		}
		n += 8
	}
	return n
}

// Solve finds a solution by brute force, as the page's script does; the
// tests and the CLI's flood script use it.
func Solve(challenge string) string {
	p, _, _ := strings.Cut(challenge, ".")
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || len(payload) != 21 {
		return ""
	}
	for i := uint64(0); ; i++ {
		s := strconv.FormatUint(i, 10)
		if Solves(challenge, s, int(payload[20])) {
			return s
		}
	}
}

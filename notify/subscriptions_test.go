package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/store"
)

func TestLinksAreBoundToPurposeSubscriberAndTime(t *testing.T) {
	l, err := NewLinks([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	sub := store.Subscriber{ID: 7, Salt: []byte("salt-1")}
	now := time.Unix(1_800_000_000, 0)
	manage := l.Token(PurposeManage, sub, time.Time{})
	if err := l.Verify(PurposeManage, manage, sub, now.Add(10*365*24*time.Hour)); err != nil {
		t.Errorf("manage link: %v (must not expire)", err)
	}
	if err := l.Verify(PurposeUnsubscribe, manage, sub, now); !errors.Is(err, ErrBadLink) {
		t.Error("a manage token opened the unsubscribe purpose")
	}
	other := store.Subscriber{ID: 7, Salt: []byte("salt-2")}
	if err := l.Verify(PurposeManage, manage, other, now); !errors.Is(err, ErrBadLink) {
		t.Error("a token survived the subscriber's salt changing (removed and re-added)")
	}
	confirm := l.Token(PurposeConfirm, sub, now.Add(time.Hour))
	if err := l.Verify(PurposeConfirm, confirm, sub, now); err != nil {
		t.Errorf("fresh confirm link: %v", err)
	}
	if err := l.Verify(PurposeConfirm, confirm, sub, now.Add(2*time.Hour)); !errors.Is(err, ErrBadLink) {
		t.Error("expired confirm link accepted")
	}
	for _, bad := range []string{"", "7", "7.0", "8" + manage[1:], strings.Replace(manage, ".0.", ".1.", 1), manage[:len(manage)-2]} {
		if err := l.Verify(PurposeManage, bad, sub, now); !errors.Is(err, ErrBadLink) {
			t.Errorf("forged token %q accepted", bad)
		}
	}
	if _, err := NewLinks([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}

func TestLimiterRefillsAndStaysBounded(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	l := NewLimiter(clk, 3)
	rate := config.RateLimit{Burst: 2, PerHour: 6} // one token every 10 minutes
	if !l.Allow("a", rate) || !l.Allow("a", rate) || l.Allow("a", rate) {
		t.Fatal("burst of 2 not enforced")
	}
	clk.Advance(9 * time.Minute)
	if l.Allow("a", rate) {
		t.Error("refilled too early")
	}
	clk.Advance(time.Minute)
	if !l.Allow("a", rate) {
		t.Error("not refilled after 10 minutes")
	}
	// Full (a, b, c): a newcomer is let in; the key used least recently
	// (b) is forgotten for it, the others keep their count.
	l.Allow("b", rate)
	l.Allow("c", rate)
	l.Allow("a", rate) // a used last: now the most recent
	if !l.Allow("d", rate) {
		t.Error("a newcomer was refused by a full limiter")
	}
	if l.Len() != 3 {
		t.Errorf("len %d, want 3", l.Len())
	}
	if l.Allow("a", rate) {
		t.Error("a's empty bucket was forgotten instead of the least recently used key")
	}
	if !l.Allow("b", rate) || !l.Allow("b", rate) {
		t.Error("b, forgotten, did not start again with a full bucket")
	}
	// A reload that raises the rate applies to a bucket from then on: one a
	// second instead of one in 10 minutes.
	faster := config.RateLimit{Burst: 5, PerHour: 3600}
	if l.Allow("a", faster) {
		t.Error("a's empty bucket filled at the change of rate")
	}
	clk.Advance(time.Second)
	if !l.Allow("a", faster) {
		t.Error("a's bucket kept its old rate after the change")
	}
}

func TestChallengeSolvedOnceOrAgedWithoutJS(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	c := NewChallenges([]byte(strings.Repeat("c", 32)), clk)
	ttl, wait := 30*time.Minute, 20*time.Second
	ch := c.Issue(12)
	sol := Solve(ch)
	if !Solves(ch, sol, 12) {
		t.Fatal("Solve found no solution")
	}
	if wrong := "1" + sol; !Solves(ch, wrong, 12) {
		if err := c.Check(ch, wrong, 12, ttl, wait); !errors.Is(err, ErrChallengeUnsolved) {
			t.Errorf("wrong solution: %v", err)
		}
	}
	if err := c.Check(ch, sol, 12, ttl, wait); err != nil {
		t.Fatalf("solved challenge refused: %v", err)
	}
	if err := c.Check(ch, sol, 12, ttl, wait); !errors.Is(err, ErrChallengeReused) {
		t.Errorf("replayed challenge: %v, want ErrChallengeReused", err)
	}
	easy := c.Issue(4)
	if err := c.Check(easy, Solve(easy), 12, ttl, wait); !errors.Is(err, ErrChallengeInvalid) {
		t.Errorf("a challenge easier than required: %v", err)
	}
	forged := strings.Replace(ch, ".", "x.", 1)
	if err := c.Check(forged, sol, 12, ttl, wait); !errors.Is(err, ErrChallengeInvalid) {
		t.Errorf("forged challenge: %v", err)
	}
	// No script: the challenge must have aged, and is then accepted once.
	nojs := c.Issue(12)
	if err := c.Check(nojs, "", 12, ttl, wait); !errors.Is(err, ErrChallengeTooEarly) {
		t.Errorf("unsolved at once: %v, want ErrChallengeTooEarly", err)
	}
	clk.Advance(wait)
	if err := c.Check(nojs, "", 12, ttl, wait); err != nil {
		t.Errorf("aged unsolved challenge: %v", err)
	}
	old := c.Issue(12)
	clk.Advance(ttl + time.Second)
	if err := c.Check(old, Solve(old), 12, ttl, wait); !errors.Is(err, ErrChallengeExpired) {
		t.Errorf("expired challenge: %v", err)
	}
}

func TestScriptedFloodIsStopped(t *testing.T) {
	e := newEnv(t)
	solved := func() (string, string) {
		ch, _ := e.subs.Challenge()
		return ch, Solve(ch)
	}
	// One client address, many victims, valid proofs of work: the per-IP
	// bucket (burst 5) stops it.
	accepted := 0
	for i := range 50 {
		ch, sol := solved()
		err := e.subs.Subscribe(e.ctx, SubscribeRequest{Email: "victim" + itoa(int64(i)) + "@example.com", Components: []string{"ocsp"}, Challenge: ch, Solution: sol, Client: "192.0.2.1"})
		if err == nil {
			accepted++
		} else if !errors.Is(err, ErrRateLimited) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if accepted != 5 {
		t.Errorf("one client got %d requests through, want the burst of 5", accepted)
	}
	// Many client addresses, one victim: the per-address bucket (burst 3)
	// stops it, and at most one confirmation mail is queued in the hour.
	accepted = 0
	for i := range 50 {
		ch, sol := solved()
		if err := e.subs.Subscribe(e.ctx, SubscribeRequest{Email: "Target@Example.com", Components: []string{"crl"}, Challenge: ch, Solution: sol,
			Client: "198.51.100." + itoa(int64(i))}); err == nil {
			accepted++
		}
	}
	if accepted != 3 {
		t.Errorf("one address was requested %d times, want the burst of 3", accepted)
	}
	// Without a valid proof nothing gets through even from fresh addresses.
	for i := range 20 {
		ch, _ := e.subs.Challenge()
		wrong := 1
		for Solves(ch, itoa(int64(wrong)), 8) {
			wrong++
		}
		err := e.subs.Subscribe(e.ctx, SubscribeRequest{Email: "x@example.com", Components: []string{"crl"}, Challenge: ch, Solution: itoa(int64(wrong)), Client: "203.0.113." + itoa(int64(i))})
		if !errors.Is(err, ErrChallengeUnsolved) {
			t.Fatalf("unsolved request %d: %v, want ErrChallengeUnsolved", i, err)
		}
	}
	e.drain()
	got := e.smtp.Received()
	if got["target@example.com"] != 1 {
		t.Errorf("the targeted address got %d confirmation mails, want 1", got["target@example.com"])
	}
	if len(got) != 6 {
		t.Errorf("confirmation mails went to %d addresses, want 6 (5 victims + the target): %v", len(got), got)
	}
	// An hour later the target may get one more, no more.
	e.clk.Advance(time.Hour)
	for i := range 10 {
		ch, sol := solved()
		e.subs.Subscribe(e.ctx, SubscribeRequest{Email: "target@example.com", Components: []string{"crl"}, Challenge: ch, Solution: sol, Client: "203.0.113.200" + itoa(int64(i))})
	}
	e.drain()
	if n := e.smtp.Received()["target@example.com"]; n != 2 {
		t.Errorf("after an hour the target has %d confirmation mails, want 2", n)
	}
	if v := testutil.ToFloat64(e.subs.requests.WithLabelValues("rate_limited_ip")); v != 45 {
		t.Errorf("rate_limited_ip = %v, want 45", v)
	}
}

// A memory of used challenges full of live ones (a flood of aged, script-less
// posts) lets a newcomer with a fresh challenge in: the oldest quarter is
// forgotten, and a replay of any of them is refused as expired, never
// accepted.
func TestUsedChallengesFullLetNewcomersIn(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	c := NewChallenges([]byte(strings.Repeat("c", 32)), clk)
	c.max = 8
	ttl, wait := 30*time.Minute, 20*time.Second
	var flood []string
	for range c.max {
		flood = append(flood, c.Issue(12))
		clk.Advance(time.Second)
	}
	clk.Advance(wait)
	for i, ch := range flood {
		if err := c.Check(ch, "", 12, ttl, wait); err != nil {
			t.Fatalf("flood post %d: %v", i, err)
		}
	}
	fresh := c.Issue(12)
	if err := c.Check(fresh, Solve(fresh), 12, ttl, wait); err != nil {
		t.Fatalf("a newcomer with a fresh challenge after the flood: %v", err)
	}
	if n := len(c.used); n > c.max {
		t.Errorf("%d used challenges remembered, bound %d", n, c.max)
	}
	for i, ch := range flood {
		err := c.Check(ch, "", 12, ttl, wait)
		switch {
		case i <= c.max/4 && !errors.Is(err, ErrChallengeExpired):
			t.Errorf("replay of forgotten challenge %d: %v, want ErrChallengeExpired", i, err)
		case i > c.max/4 && !errors.Is(err, ErrChallengeReused):
			t.Errorf("replay of remembered challenge %d: %v, want ErrChallengeReused", i, err)
		}
	}
}

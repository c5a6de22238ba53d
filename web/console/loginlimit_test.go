package console

import (
	"bytes"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probed/probed/config"
)

// syncBuffer is a log sink the handler and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A burst of bad logins from one address is cut off with 429 after
// loginBurst attempts, while another address still logs in; the token
// refill follows the injected clock; no log line holds a token.
func TestConsoleLoginRateLimit(t *testing.T) {
	h := newOpHarness(t)
	var logs syncBuffer
	s := New(Options{Config: func() *config.Config { return h.cfg }, Clock: h.clk, Store: h.st, Engine: h.eng,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	login := func(from, token string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader(url.Values{"token": {token}, "next": {"/admin/"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = from
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	const attacker, operator = "203.0.113.7:40000", "198.51.100.2:50000"
	// A well-formed guess: what is not even a token is refused before the
	// limiter (TestConsoleLoginFloodOfAddresses).
	bad := "probed_" + strings.Repeat("A", 43)
	for i := range loginBurst {
		if rec := login(attacker, bad); rec.Code != http.StatusUnauthorized {
			t.Fatalf("bad login %d = %d, want 401 (within the limit)", i+1, rec.Code)
		}
	}
	rec := login(attacker, bad)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("bad login %d = %d, want 429", loginBurst+1, rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "6" {
		t.Errorf("Retry-After = %q, want 6 (one attempt back every 6 seconds)", got)
	}
	want := "Too many login attempts from 203.0.113.7: at most 10 a minute. Wait 6 seconds and try again."
	if page := html.UnescapeString(rec.Body.String()); !strings.Contains(page, want) {
		t.Errorf("429 page lacks %q:\n%s", want, page)
	}
	// The right token from the limited address is refused too: the limit
	// counts attempts, not only failures.
	if rec := login(attacker, h.tok["alice"]); rec.Code != http.StatusTooManyRequests {
		t.Errorf("good token from the limited address = %d, want 429", rec.Code)
	}
	// Another address is not affected.
	rec = login(operator, h.tok["alice"])
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin/" || !strings.Contains(rec.Header().Get("Set-Cookie"), SessionCookie+"=") {
		t.Fatalf("good login from another address = %d %q %q, want 303 to /admin/ with a session", rec.Code, rec.Header().Get("Location"), rec.Header().Get("Set-Cookie"))
	}
	// One attempt comes back after 6 seconds, and only one.
	h.clk.Advance(6 * time.Second)
	if rec := login(attacker, bad); rec.Code != http.StatusUnauthorized {
		t.Errorf("after 6s = %d, want 401 (one attempt refilled)", rec.Code)
	}
	if rec := login(attacker, bad); rec.Code != http.StatusTooManyRequests {
		t.Errorf("second attempt after 6s = %d, want 429", rec.Code)
	}
	out := logs.String()
	if n := strings.Count(out, "console login failed: unknown token"); n != loginBurst+1 {
		t.Errorf("%d failed logins logged, want %d:\n%s", n, loginBurst+1, out)
	}
	if !strings.Contains(out, "console login rate-limited") || !strings.Contains(out, "client=203.0.113.7") {
		t.Errorf("rate limiting not logged with the client:\n%s", out)
	}
	for _, secret := range []string{bad, h.tok["alice"]} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds a token %q:\n%s", secret, out)
		}
	}
}

// TestConsoleLoginFloodOfAddresses: 40,000 bad logins from distinct
// addresses (more than the limiter holds) cannot lock out the operator: a
// right token from a new address, and from one used before the flood, logs
// in. Junk that is not a token is refused without charging a bucket.
func TestConsoleLoginFloodOfAddresses(t *testing.T) {
	h := newOpHarness(t)
	s := New(Options{Config: func() *config.Config { return h.cfg }, Clock: h.clk, Store: h.st, Engine: h.eng,
		Logger: slog.New(slog.DiscardHandler)})
	handler := s.Handler()
	login := func(from, token string) int {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader(url.Values{"token": {token}, "next": {"/admin/"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = from
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec.Code
	}
	addr := func(i int) string { return fmt.Sprintf("10.%d.%d.%d:40000", i>>16&255, i>>8&255, i&255) }
	const early = "198.51.100.9:50000"
	if code := login(early, "probed_"+strings.Repeat("B", 43)); code != http.StatusUnauthorized {
		t.Fatalf("the operator's typo = %d, want 401", code)
	}
	const flood = 40_000
	for i := range flood {
		// Half well-formed guesses (each charges its address's bucket and
		// costs a lookup), half junk (refused before the limiter).
		tok := "probed_" + fmt.Sprintf("%043d", i)
		if i%2 == 1 {
			tok = fmt.Sprintf("guess-%d", i)
		}
		if code := login(addr(i), tok); code != http.StatusUnauthorized {
			t.Fatalf("bad login %d from %s = %d, want 401", i, addr(i), code)
		}
	}
	if n := s.loginLimit.Len(); n != loginLimitKeys {
		t.Errorf("the limiter holds %d addresses after the flood, want its bound %d", n, loginLimitKeys)
	}
	for _, from := range []string{"192.0.2.77:40000", early} {
		if code := login(from, h.tok["alice"]); code != http.StatusSeeOther {
			t.Errorf("right token from %s after the flood = %d, want 303 (logged in)", from, code)
		}
	}
}

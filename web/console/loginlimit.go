package console

import (
	"fmt"
	"math"
	"net"
	"net/http"

	"github.com/probed/probed/config"
	"github.com/probed/probed/web/httpserver"
)

// loginRate is how often one client address may try POST /admin/login:
// 10 attempts at once, then one more every 6 seconds (10 a minute). An
// operator who mistypes a token twice is not slowed; guessing a token is
// hopeless anyway, but each attempt costs a store lookup and a log line.
const (
	loginBurst   = 10
	loginPerHour = 600
)

// loginRate is loginBurst and loginPerHour as the limiter takes them.
func loginRate() config.RateLimit { return config.RateLimit{Burst: loginBurst, PerHour: loginPerHour} }

// loginLimitKeys bounds the addresses remembered: past it, the address used
// least recently is forgotten (notify.Limiter), so a flood of new addresses
// neither grows memory nor locks anyone out.
const loginLimitKeys = 10_000

// loginRetryAfter is the time until the bucket holds a token again, at most.
func loginRetryAfter() int {
	return int(math.Ceil(3600.0 / loginPerHour))
}

// loginClient is the address a login attempt is counted against: the peer,
// or the X-Forwarded-For hop a proxy listed in
// notify.subscribe.trusted_proxies vouches for (as for the public forms),
// so that every client behind the proxy does not share one bucket.
func (s *Console) loginClient(r *http.Request) string {
	if s.subs != nil {
		return httpserver.ClientIP(r, s.subs.Config().Notify.Subscribe.Proxies)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginLimited answers 429 when the client has used up its login attempts.
func (s *Console) loginLimited(w http.ResponseWriter, r *http.Request, client, next string) bool {
	if s.loginLimit.Allow(client, loginRate()) {
		return false
	}
	// The token is never logged, not even in part.
	s.logger.Warn("console login rate-limited", "client", client)
	wait := loginRetryAfter()
	w.Header().Set("Retry-After", fmt.Sprint(wait))
	v := s.view(r, "console.title.login", "", nil)
	v.Next = next
	v.Error = fmt.Sprintf(s.words.T(v.Lang, "console.login.limited"), client, loginPerHour/60, wait)
	s.render(w, "login", http.StatusTooManyRequests, v)
	return true
}

// Package httpserver holds what probed's HTTP surfaces share: the server
// with the timeouts every listener needs, the client's address behind
// trusted proxies (for rate limits), the headers of pages that carry
// secrets, and the choice of a response language.
package httpserver

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// New wraps a handler with the timeouts every listener needs.
func New(addr string, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// ClientIP is the request's peer, or the last X-Forwarded-For hop a
// trusted proxy vouches for, so that every client behind a proxy does not
// share one rate-limit bucket.
func ClientIP(r *http.Request, proxies []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	trusted := func(ip string) bool {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return false
		}
		for _, p := range proxies {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	if !trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		if !trusted(hop) {
			return hop
		}
		host = hop
	}
	return host
}

// NoStore marks pages carrying link tokens: never cached, never framed (a
// framed confirm button is a clickjacking target), never leaking their URL
// in a Referer.
func NoStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
		h.ServeHTTP(w, r)
	})
}

// Negotiate picks the response language among allowed (the page's
// languages, in order; the first is the default) that the site has words
// for (known): ?lang= first, then Accept-Language. explicit reports a
// ?lang= choice, which links then carry on.
func Negotiate(r *http.Request, allowed []string, known func(code string) bool) (code string, explicit bool) {
	ok := func(c string) bool { return known(c) && (len(allowed) == 0 || slices.Contains(allowed, c)) }
	if q := r.URL.Query().Get("lang"); q != "" && ok(q) {
		return q, true
	}
	def := "en"
	for _, a := range allowed {
		if known(a) {
			def = a
			break
		}
	}
	best, bestQ := def, 0.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, found := strings.CutPrefix(strings.TrimSpace(params), "q="); found {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if q > bestQ && ok(base) {
			best, bestQ = base, q
		}
	}
	return best, false
}

package httpserver

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy: the peer", "192.0.2.7:5000", nil, "192.0.2.7"},
		{"untrusted peer: its header is ignored", "192.0.2.7:5000", []string{"198.51.100.1"}, "192.0.2.7"},
		{"trusted proxy: the last hop it vouches for", "10.1.2.3:5000", []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{"a chain of trusted proxies is skipped", "10.1.2.3:5000", []string{"203.0.113.9", "10.9.9.9"}, "203.0.113.9"},
		{"a spoofed first hop does not win", "10.1.2.3:5000", []string{"1.2.3.4, 203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		{"only proxies: the first of them", "10.1.2.3:5000", []string{"10.0.0.2"}, "10.0.0.2"},
		{"IPv6 loopback proxy", "[::1]:5000", []string{"2001:db8::5"}, "2001:db8::5"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientIP(r, proxies); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	known := func(c string) bool { return c == "en" || c == "ja" }
	for _, tc := range []struct {
		name, url, accept string
		allowed           []string
		want              string
		explicit          bool
	}{
		{"default is the first allowed", "/", "", []string{"ja", "en"}, "ja", false},
		{"?lang= wins", "/?lang=en", "ja", []string{"ja", "en"}, "en", true},
		{"unknown ?lang= is ignored", "/?lang=fr", "", []string{"en", "ja"}, "en", false},
		{"?lang= outside page.languages is ignored", "/?lang=ja", "", []string{"en"}, "en", false},
		{"Accept-Language with q-values", "/", "fr;q=1, ja;q=0.8, en;q=0.5", []string{"en", "ja"}, "ja", false},
		{"Accept-Language region tag", "/", "ja-JP", []string{"en", "ja"}, "ja", false},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.url, nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		got, explicit := Negotiate(r, tc.allowed, known)
		if got != tc.want || explicit != tc.explicit {
			t.Errorf("%s: %q (explicit %v), want %q (%v)", tc.name, got, explicit, tc.want, tc.explicit)
		}
	}
}

func TestNoStore(t *testing.T) {
	rec := httptest.NewRecorder()
	NoStore(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	for k, v := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

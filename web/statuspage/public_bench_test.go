package statuspage

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkPublic serves cached responses in-process (no network): the cost
// of routing, negotiation and validators per request. bench/statuspage.sh
// measures requests/s and latency over loopback with wrk.
func BenchmarkPublic(b *testing.B) {
	p, _ := newFixture(b)
	h := p.Handler()
	for _, tc := range []struct{ name, path, enc string }{
		{"summary.json", "/api/v2/summary.json", ""},
		{"summary.json-gzip", "/api/v2/summary.json", "gzip"},
		{"index", "/", ""},
		{"index-gzip", "/", "gzip"},
		{"incident", "/incidents/101", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.enc != "" {
				req.Header.Set("Accept-Encoding", tc.enc)
			}
			b.ReportAllocs()
			for b.Loop() {
				w := discard{h: http.Header{}}
				h.ServeHTTP(&w, req)
				if w.code != 200 {
					b.Fatalf("%s: %d", tc.path, w.code)
				}
			}
		})
	}
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

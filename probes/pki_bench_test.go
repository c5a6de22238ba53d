package probes_test

// Benchmarks of the ocsp and crl kinds. Rerun with:
//
//	go test -run '^$' -bench 'OCSPRun|CRLRun|CRL10MB' -benchtime 200x ./probes/
//
// cpu-ms/op is this process's user+system CPU per run (the probe's own
// cost: the openssl responder is another process); peak-heap-MB is the
// highest live heap seen while the runs went, above what was live before.

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/pkisim"
	"github.com/probed/probed/probes"
)

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapWatch samples the live heap (runtime/metrics, which does not stop
// the world) until stopped, and returns the peak.
type heapWatch struct {
	stop chan struct{}
	done chan uint64
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func watchHeap() *heapWatch {
	w := &heapWatch{stop: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		var peak uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := liveHeap(); v > peak {
				peak = v
			}
			select {
			case <-w.stop:
				w.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *heapWatch) peak() uint64 { close(w.stop); return <-w.done }

// measure runs fn b.N times and reports CPU per run and the heap peak.
func measure(b *testing.B, fn func()) {
	runtime.GC()
	base := liveHeap()
	w := watchHeap()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for b.Loop() {
		fn()
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	peak := w.peak()
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	if peak > base {
		b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MB")
	}
}

// BenchmarkOCSPRunOpenSSL: one ocsp run (POST, SHA-1, nonce, every check)
// against an `openssl ocsp` responder on loopback.
func BenchmarkOCSPRunOpenSSL(b *testing.B) {
	port := freePort(b)
	ca := newOpenSSLCA(b, port, "http://127.0.0.1:1/crl")
	ca.issue("good", "leaf_ext", "")
	ca.startOCSP(port, "ocsp", "-ndays", "1")
	for _, m := range []string{"post", "get"} {
		b.Run(m, func(b *testing.B) {
			pr := buildProbe(b, ca.dir, "ocsp", "{certificate: good.pem, issuer: issuer.pem, nonce: true, methods: ["+m+"]}", probes.Env{Clock: clock.Real{}})
			measure(b, func() {
				r := runProbe(b, pr, clock.Real{}, 10*time.Second)
				if !r.Success() {
					b.Fatal(describe(r))
				}
			})
		})
	}
}

// BenchmarkCRLRunOpenSSL: one crl run (fetch, parse, every check, state
// diff) of an `openssl ca -gencrl` CRL served on loopback.
func BenchmarkCRLRunOpenSSL(b *testing.B) {
	dp := &crlServer{}
	srv := httptest.NewServer(dp)
	b.Cleanup(srv.Close)
	url := srv.URL + "/crl/issuer.crl"
	ca := newOpenSSLCA(b, freePort(b), url)
	for _, cn := range []string{"r1", "r2", "r3"} {
		ca.issue(cn, "leaf_ext", "")
		ca.revoke(cn, "keyCompromise")
	}
	dp.set(ca.gencrl())
	pr := buildProbe(b, ca.dir, "crl", "{url: "+url+", issuer: issuer.pem}", probes.Env{Clock: clock.Real{}, State: &memState{}})
	measure(b, func() {
		r := runProbe(b, pr, clock.Real{}, 10*time.Second)
		if !r.Success() {
			b.Fatal(describe(r))
		}
	})
}

// bigCRL is a ~10 MB CRL of 210,000 entries from pkisim, served from memory.
type bigCRL struct {
	sim *simEnv
	der []byte
	url string
}

func newBigCRL(b *testing.B) *bigCRL {
	b.Helper()
	e := newSimEnv(b, pkisim.Options{ExtraRevoked: 210_000})
	der, err := e.sim.CRL()
	if err != nil {
		b.Fatal(err)
	}
	if len(der) < 10_000_000 {
		b.Fatalf("CRL is %d bytes, want ≥ 10 MB", len(der))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-crl")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(der))
	}))
	b.Cleanup(srv.Close)
	return &bigCRL{sim: e, der: der, url: srv.URL + pkisim.CRLPath}
}

// BenchmarkCRL10MB: a whole crl run on a 10 MB, 210,000-entry CRL: download
// over loopback, parse, signature, every check, and the diff against the
// previous CRL's 210,000 serials read from the state.
func BenchmarkCRL10MB(b *testing.B) {
	big := newBigCRL(b)
	// The sim's IDP names its own URL; this server is another, so expect it.
	section := "{url: " + big.url + ", issuer: issuer.pem, expected_idp: " + big.sim.sim.CRLURL() + "}"
	st := &memState{}
	pr := buildProbe(b, big.sim.dir, "crl", section, probes.Env{Clock: big.sim.clock, State: st})
	if r := runProbe(b, pr, big.sim.clock, time.Minute); !r.Success() {
		b.Fatal(describe(r))
	}
	b.ReportMetric(float64(len(big.der))/1e6, "crl-MB")
	measure(b, func() {
		r := runProbe(b, pr, big.sim.clock, time.Minute)
		if !r.Success() {
			b.Fatal(describe(r))
		}
		if v, _ := gauge(r, "probe_crl_entries"); v != 210_001 {
			b.Fatalf("entries %v", v)
		}
	})
}
